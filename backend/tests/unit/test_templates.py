"""Template rendering, strictness and the names a template reads."""

from __future__ import annotations

import pytest

from promptlooper.engine.templates import TemplateError, build_context, merge_vars, referenced_names, render


def ctx(**over):
    base = build_context(input="the text", reference=None, vars={"topic": "cats"}, previous="prev out",
                         stages={"extract": "facts"}, stage_index=1)
    base.update(over)
    return base


def test_renders_every_documented_name():
    out = render("{{ input }}|{{ reference }}|{{ vars.topic }}|{{ previous }}|{{ stages.extract.output }}", ctx())
    assert out == "the text||cats|prev out|facts"


def test_reference_is_empty_string_when_absent_and_kept_when_present():
    assert render("[{{ reference }}]", ctx()) == "[]"
    with_ref = build_context(input="", reference="gold", vars={}, previous=None, stages={}, stage_index=0)
    assert render("[{{ reference }}]", with_ref) == "[gold]"


def test_previous_is_undefined_on_first_stage():
    first = build_context(input="x", reference=None, vars={}, previous=None, stages={}, stage_index=0)
    assert "previous" not in first
    with pytest.raises(TemplateError, match=r"undefined name.*previous"):
        render("{{ previous }}", first)


def test_undefined_name_is_an_error_not_empty():
    with pytest.raises(TemplateError, match="undefined"):
        render("Hello {{ nobody }}", ctx())
    with pytest.raises(TemplateError, match="undefined"):
        render("{{ vars.missing }}", ctx())


def test_syntax_error_is_a_clear_sentence():
    with pytest.raises(TemplateError, match=r"syntax error on line 1"):
        render("{{ input ", ctx())


def test_sandbox_blocks_unsafe_attribute_access():
    with pytest.raises(TemplateError, match=r"sandbox|unsafe|undefined"):
        render("{{ input.__class__.__mro__[1].__subclasses__() }}", ctx())


def test_runtime_failure_is_wrapped():
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        render("{{ 1 / 0 }}", ctx())


def test_no_autoescape_and_unicode_kept():
    assert render("{{ input }}", ctx(input="<b>é & 日本</b>")) == "<b>é & 日本</b>"


def test_sample_vars_merge_over_swept_vars():
    assert merge_vars({"a": 1, "b": 2}, {"b": 3}) == {"a": 1, "b": 3}


def test_referenced_names_paths():
    names = referenced_names(
        "{{ input }} {{ vars.topic }} {{ vars['size'] }} {{ stages.extract.output }} {{ previous | upper }}")
    assert names == {"input", "vars", "vars.topic", "vars.size", "stages", "stages.extract.output", "previous"}


def test_referenced_names_ignores_locally_set_names_and_method_calls():
    names = referenced_names(
        "{% set greeting = 'hi' %}{% for w in input.split() %}{{ greeting }} {{ w }}{% endfor %}"
        "{{ vars.topic.upper() }}{% for k, v in vars.items() %}{{ k }}{% endfor %}")
    assert names == {"input", "vars", "vars.topic"}


def test_referenced_names_partial_stage_path():
    assert "stages.extract" in referenced_names("{{ stages.extract }}")


def test_referenced_names_raises_on_bad_syntax():
    with pytest.raises(TemplateError):
        referenced_names("{% for %}")


# Limits: a template is user input rendered inside the server; each case froze or bloated it before.
BOMBS = {
    "string repetition": '{% set x = "x" * 2000000000 %}{{ x | length }}',
    "list repetition": "{{ ([1] * 100000) * 100000 }}",
    "huge range": "{% for i in range(10**9) %}{% endfor %}",
    "star width": '{{ "%*s" % (2000000000, 1) }}',
    "precision": '{{ "%.2000000000f" % 1 }}',
    "batch padding": "{{ [1] | batch(2000000000, fill_with=0) | list }}",
    "nested loops": "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "nested loops over a variable": '{% set s = "x" * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}',
    "doubling with ~": '{% set ns = namespace(x="x") %}{% for i in range(60) %}{% set ns.x = ns.x ~ ns.x %}'
                       "{% endfor %}{{ ns.x | length }}",
    "doubling with +": '{% set ns = namespace(x="x") %}{% for i in range(60) %}{% set ns.x = ns.x + ns.x %}'
                       "{% endfor %}{{ ns.x | length }}",
    "center filter": '{{ "x" | center(2000000000) }}',
    "str method": '{{ "x".ljust(2000000000) }}',
    "format width": '{{ "{:>2000000000}".format(1) }}',
    "format width argument": '{{ "{:>{}}".format(1, 2000000000) }}',
    "percent width": '{{ "%2000000000s" % 1 }}',
    "huge power": "{{ 10 ** 100000 }}",
    "replace": '{{ ("x" * 100000).replace("", "y" * 100000) }}',
    "replace filter": '{{ ("x" * 100000) | replace("x", "y" * 100000) }}',
    "join filter": '{{ range(100000) | join("y" * 100000) }}',
    "join method": '{{ ("y" * 100000).join("x" * 100000) }}',
    "sum of lists": "{{ ([[1] * 100000] * 100000) | sum(start=[]) }}",
    "indent": '{{ ("x\\n" * 100000) | indent("y" * 100000) }}',
    "exponential macro": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    "recursive macro": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "long output": '{% for i in range(100000) %}{{ "x" * 100 }}{% endfor %}',
    "lipsum": "{{ lipsum(100000) }}",
}


@pytest.mark.parametrize("template", list(BOMBS.values()), ids=list(BOMBS))
def test_template_bombs_are_refused_quickly_with_a_sentence(template: str) -> None:
    import time

    started = time.perf_counter()
    with pytest.raises(TemplateError, match=r"^Template refused: ") as caught:
        render(template, ctx())
    assert time.perf_counter() - started < 1.0
    assert "Internal" not in caught.value.message


def test_templates_cannot_mutate_the_objects_they_get() -> None:
    with pytest.raises(TemplateError, match="unsafe"):
        render("{% set l = [] %}{{ l.append(1) }}", ctx())


def test_ordinary_templates_still_render_within_the_limits() -> None:
    from promptlooper.engine import templates

    items = [{"q": f"question {i}", "v": i / 3} for i in range(200)]
    text = render(
        '{% for s in vars.rows %}{{ loop.index }}. {{ s.q | upper }} = {{ "%.2f" | format(s.v) }}\n{% endfor %}'
        '{{ "a,b".split(",") | join("+") }} {{ "{:>5}".format(7) }} {{ "ab" * 3 }} {{ 2 ** 10 }}',
        ctx(vars={"rows": items}))
    assert text.startswith("1. QUESTION 0 = 0.00\n") and "200. QUESTION 199 = 66.33\n" in text
    assert text.endswith("a+b     7 ababab 1024")
    numbers = render('{{ "{:,}".format(12345678) }} {{ "%d" % 12345678 }} {{ vars.n | default(12345678) }} '
                     '{{ "%08.3f" % 3.5 }} {{ "{:>{}}".format(1, 3) }} {{ range(0, 10**7, 10**6) | list | length }}',
                     ctx(vars={"n": 7}))
    assert numbers == "12,345,678 12345678 7 0003.500   1 10"  # big numbers are fine; big widths are not
    exactly = render('{{ "x" * n }}', {"n": templates.MAX_OUTPUT_CHARS})
    assert len(exactly) == templates.MAX_OUTPUT_CHARS
