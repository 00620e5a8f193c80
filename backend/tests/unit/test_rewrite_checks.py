"""The checks a weak optimizer's proposals go through (services/rewrite.py), and where an approved one joins the space."""

from __future__ import annotations

from promptlooper.engine.definition import ExperimentDefinition
from promptlooper.models import Experiment
from promptlooper.services.proposals import extend_space
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
    as_json = '{"task": "summarize", "text": "{{ input }}"}'  # JSON is a prompt where the prompt is JSON
    assert check_candidate(defn, 0, "prompt_template", as_json, '{"text": "{{ input }}"}', set()) is None


def test_a_duplicate_of_a_known_variant_is_not_proposed_twice() -> None:
    defn = _defn()
    known = {normalized("Say  {{ input }}\n")}
    found = check_candidate(defn, 0, "prompt_template", "Say {{ input }}", "{{ input }}", known)
    assert found == "a duplicate of a variant the sweep already has"


def test_a_later_stage_may_read_previous() -> None:
    defn = _defn(stages=2)
    assert check_candidate(defn, 1, "prompt_template", "Fix: {{ previous }}", "{{ input }}", set()) is None
    assert check_candidate(defn, 0, "prompt_template", "Fix: {{ previous }}", "{{ input }}", set()) is not None


def _experiment(space: dict[str, object], stages: int = 1) -> Experiment:
    return Experiment(
        name="x", description=None, sample_data=[{"id": "s1", "input": "hi"}],
        pipeline_stages=[{"name": f"s{i}", "model": "m", "prompt_template": "{{ input }}"} for i in range(stages)],
        scoring_config=[], parameter_space=space)


def test_an_approved_variant_joins_the_key_that_sweeps_its_prompt() -> None:
    fresh = _experiment({"temperature": [0.1, 0.5]})
    assert extend_space(fresh, 0, "prompt_template", "New {{ input }}") == "stages.s0.prompt_template"
    assert fresh.parameter_space["stages.s0.prompt_template"] == ["{{ input }}", "New {{ input }}"]
    system = _experiment({})
    assert extend_space(system, 0, "system_prompt", "Be brief.") == "stages.s0.system_prompt"
    assert system.parameter_space["stages.s0.system_prompt"] == [None, "Be brief."]
    bare = _experiment({"prompt_template": ["A {{ input }}"]})
    assert extend_space(bare, 0, "prompt_template", "B {{ input }}") == "prompt_template"
    assert extend_space(bare, 0, "prompt_template", "B {{ input }}") == "prompt_template"
    assert bare.parameter_space["prompt_template"] == ["A {{ input }}", "B {{ input }}"], "never twice"
    exact = _experiment({"prompt_template": ["A {{ input }}"], "stages.s1.prompt_template": ["C"]}, stages=2)
    assert extend_space(exact, 1, "prompt_template", "D") == "stages.s1.prompt_template"
    assert extend_space(exact, 0, "prompt_template", "E") is None, "a key of every stage does not take one stage's"
    linked = _experiment({"stages.s0": [{"model": "m", "prompt_template": "L {{ input }}"}]})
    assert extend_space(linked, 0, "prompt_template", "M {{ input }}") is None
    assert linked.parameter_space == {"stages.s0": [{"model": "m", "prompt_template": "L {{ input }}"}]}
