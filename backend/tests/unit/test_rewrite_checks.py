"""The checks a weak optimizer's proposals go through (services/rewrite.py): parsing and dropping garbage."""

from __future__ import annotations

from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.services.rewrite import check_candidate, normalized, parse_candidates


def _defn(stages: int = 1) -> ExperimentDefinition:
    return ExperimentDefinition.model_validate({
        "name": "x", "sample_data": [{"id": "s1", "input": "hi", "vars": {"tone": "dry"}}],
        "pipeline_stages": [{"name": f"s{i}", "model": "m", "prompt_template": "{{ input }}"} for i in range(stages)],
        "scoring_config": [{"scorer": "length", "config": {"max_words": 5}}],
    })


def test_tagged_prompts_are_the_candidates_and_untagged_text_is_one() -> None:
    answer = "Here you go:\n<prompt>A {{ input }}</prompt>\n<PROMPT>\nB {{ input }}\n</PROMPT><prompt>C</prompt>"
    assert parse_candidates(answer, 2) == ["A {{ input }}", "B {{ input }}"]
    assert parse_candidates("```\nJust {{ input }}\n```", 3) == ["Just {{ input }}"]
    assert parse_candidates("  plain  ", 1) == ["plain"]
    assert parse_candidates("", 2) == [""]


def test_garbage_is_dropped_with_the_reason() -> None:
    defn = _defn()
    current = "{{ input }}"
    cases = {
        "": "empty", "   \n": "empty",
        "{{ input }}": "the current best prompt again", "  {{   input }} ": "the current best prompt again",
        '{"prompt": "x {{ input }}"}': "JSON, not a prompt", "[1, 2]": "JSON, not a prompt",
        "Say {{ nowhere }}": "not a valid template", "Say {{ input ": "not a valid template",
        "Say {{ previous }}": "not a valid template",
        "x" * 20_001: "longer than",
    }
    for text, reason in cases.items():
        found = check_candidate(defn, 0, "prompt_template", text, current, set())
        assert found is not None and found.startswith(reason), (text[:30], found)
    assert check_candidate(defn, 0, "prompt_template", "Tone {{ vars.tone }}: {{ input }}", current, set()) is None
    assert check_candidate(defn, 0, "system_prompt", "Be brief.", None, set()) is None
    assert check_candidate(defn, 0, "prompt_template", "{not json} {{ input }}", current, set()) is None


def test_a_duplicate_of_a_known_variant_is_not_proposed_twice() -> None:
    defn = _defn()
    known = {normalized("Say  {{ input }}\n")}
    found = check_candidate(defn, 0, "prompt_template", "Say {{ input }}", "{{ input }}", known)
    assert found == "a duplicate of a variant the sweep already has"


def test_a_later_stage_may_read_previous() -> None:
    defn = _defn(stages=2)
    assert check_candidate(defn, 1, "prompt_template", "Fix: {{ previous }}", "{{ input }}", set()) is None
    assert check_candidate(defn, 0, "prompt_template", "Fix: {{ previous }}", "{{ input }}", set()) is not None
