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
