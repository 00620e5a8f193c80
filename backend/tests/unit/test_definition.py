"""Validation of the experiment document: every rule, with the `loc` it reports."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from promptlooper.engine import scorers
from promptlooper.engine.definition import DefinitionError, ExperimentDefinition, ScorerEntry, validate_definition

KNOWN = {"keyword", "length"}


def doc(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "summaries",
        "sample_data": [{"id": "s1", "input": "alpha beta", "vars": {"topic": "t"}},
                        {"id": "s2", "input": "gamma", "reference": "g", "vars": {"topic": "u"}}],
        "pipeline_stages": [
            {"name": "extract", "model": "m1", "system_prompt": "You extract {{ vars.topic }}.",
             "prompt_template": "Facts in: {{ input }}", "params": {"temperature": 0.2}},
            {"name": "summarize", "model": "m1", "prompt_template": "Summarize: {{ previous }}"},
        ],
        "scoring_config": [{"scorer": "keyword", "weight": 2.0, "config": {"keywords": ["alpha"]}},
                           {"scorer": "length", "config": {"max_words": 30}}],
        "parameter_space": {
            "model": ["m1", "m2"], "temperature": [0.1, 0.5],
            "stages.summarize.prompt_template": ["Summarize: {{ previous }}", "TL;DR: {{ stages.extract.output }}"],
            "vars.chunk_size": {"min": 200, "max": 2000, "step": 600, "type": "int"},
        },
    }
    base.update(over)
    return base


def errors_of(document: dict[str, Any], with_config: bool = False) -> list[dict[str, Any]]:
    defn = ExperimentDefinition.model_validate(document)
    try:
        validate_definition(defn, KNOWN, scorers.validate_scorer_config if with_config else None)
    except DefinitionError as exc:
        for error in exc.errors:
            assert set(error) == {"loc", "msg", "type"} and error["type"] == "definition_error"
        return exc.errors
    return []


def locs(errors: list[dict[str, Any]]) -> list[list[Any]]:
    return [e["loc"] for e in errors]


def test_contract_example_is_valid():
    assert errors_of(doc(), with_config=True) == []


def test_pydantic_shape_rules():
    with pytest.raises(ValidationError):
        ExperimentDefinition.model_validate(doc(pipeline_stages=[]))
    with pytest.raises(ValidationError):
        ExperimentDefinition.model_validate(doc(unknown_field=1))
    assert ScorerEntry(scorer="keyword").key == "keyword"
    assert ScorerEntry(scorer="keyword", name="kw2").key == "kw2"


def test_duplicate_stage_names():
    stages = [{"name": "a", "model": "m", "prompt_template": "x"}, {"name": "a", "model": "m", "prompt_template": "y"}]
    assert locs(errors_of(doc(pipeline_stages=stages, parameter_space={}))) == [["pipeline_stages", 1, "name"]]


def test_duplicate_sample_ids():
    samples = [{"id": "s", "input": "a"}, {"id": "s", "input": "b"}]
    errs = errors_of(doc(sample_data=samples, parameter_space={},
                         pipeline_stages=[{"name": "a", "model": "m", "prompt_template": "{{ input }}"}]))
    assert locs(errs) == [["sample_data", 1, "id"]]


def test_template_syntax_error():
    stages = [{"name": "a", "model": "m", "prompt_template": "{{ input "}]
    errs = errors_of(doc(pipeline_stages=stages, parameter_space={}))
    assert locs(errs) == [["pipeline_stages", 0, "prompt_template"]]
    assert "syntax error" in errs[0]["msg"]


def test_undefined_names():
    stages = [
        {"name": "a", "model": "m", "system_prompt": "{{ previous }}", "prompt_template": "{{ nope }} {{ vars.zzz }}"},
        {"name": "b", "model": "m", "prompt_template": "{{ stages.c.output }} {{ stages.a.outpt }} {{ stages.a.output }}"},
        {"name": "c", "model": "m", "prompt_template": "{{ previous }} {{ stages.b.output }} {{ reference }}"},
    ]
    errs = errors_of(doc(pipeline_stages=stages, parameter_space={}))
    by_loc: dict[str, list[str]] = {}
    for e in errs:
        by_loc.setdefault(".".join(map(str, e["loc"])), []).append(e["msg"])
    assert set(by_loc) == {"pipeline_stages.0.system_prompt", "pipeline_stages.0.prompt_template",
                           "pipeline_stages.1.prompt_template"}
    assert any("previous" in m for m in by_loc["pipeline_stages.0.system_prompt"])
    assert len(by_loc["pipeline_stages.0.prompt_template"]) == 2
    assert len(by_loc["pipeline_stages.1.prompt_template"]) == 2  # stages.c is later, outpt is not a field


def test_var_defined_only_when_every_sample_has_it_or_it_is_swept():
    samples = [{"id": "s1", "input": "a", "vars": {"x": 1}}, {"id": "s2", "input": "b"}]
    stages = [{"name": "a", "model": "m", "prompt_template": "{{ vars.x }}"}]
    assert locs(errors_of(doc(sample_data=samples, pipeline_stages=stages, parameter_space={}))) == [
        ["pipeline_stages", 0, "prompt_template"]]
    assert errors_of(doc(sample_data=samples, pipeline_stages=stages, parameter_space={"vars.x": [1, 2]})) == []


def test_swept_templates_are_checked_for_the_stages_they_apply_to():
    space = {"prompt_template": ["{{ input }}", "{{ previous }}"],
             "stages.extract.system_prompt": ["{{ bad", 5]}
    errs = errors_of(doc(parameter_space=space))
    assert sorted(map(str, locs(errs))) == sorted(map(str, [
        ["parameter_space", "prompt_template", 1],  # previous is undefined for stage 0 (reported once)
        ["parameter_space", "stages.extract.system_prompt", 0],
        ["parameter_space", "stages.extract.system_prompt", 1],  # not a string
    ]))


@pytest.mark.parametrize("key", ["stages.nope.model", "stages.7.temperature", "stages.nope", "stages.extract.model.x", "vars.a.b",
                                 "Temperature", "messages", "foo.bar", "stages.extract.Bad-Name"])
def test_unresolvable_space_keys(key):
    errs = errors_of(doc(parameter_space={key: [1]}))
    assert locs(errs) == [["parameter_space", key]]


@pytest.mark.parametrize("key", ["model", "endpoint_id", "top_p", "seed", "stages.0.max_tokens",
                                 "stages.summarize.model", "vars.chunk"])
def test_resolvable_space_keys(key):
    assert errors_of(doc(parameter_space={key: ["m1"] if "model" in key or "endpoint" in key else [1]})) == []


def test_empty_list_and_bad_ranges():
    space = {
        "top_p": [],
        "temperature": {"min": 1, "max": 0},
        "seed": {"min": 0, "max": 10, "step": 0},
        "max_tokens": {"min": 0, "max": 10, "log": True},
        "vars.n": {"min": 0.5, "max": 10, "type": "int"},
        "model": {"min": 0, "max": 1},
    }
    found = sorted(map(str, locs(errors_of(doc(parameter_space=space)))))
    assert found == sorted(map(str, [
        ["parameter_space", "top_p"],
        ["parameter_space", "temperature", "min"],
        ["parameter_space", "seed", "step"],
        ["parameter_space", "max_tokens", "log"],
        ["parameter_space", "vars.n", "min"],
        ["parameter_space", "model"],
    ]))


def test_stage_without_model_unless_swept():
    stages = [{"name": "a", "prompt_template": "x"}]
    assert locs(errors_of(doc(pipeline_stages=stages, parameter_space={}))) == [["pipeline_stages", 0, "model"]]
    assert errors_of(doc(pipeline_stages=stages, parameter_space={"stages.a.model": ["m1"]})) == []


def test_reserved_stage_params():
    stages = [{"name": "a", "model": "m", "prompt_template": "x", "params": {"messages": []}}]
    assert locs(errors_of(doc(pipeline_stages=stages, parameter_space={}))) == [
        ["pipeline_stages", 0, "params", "messages"]]


def test_scorer_rules():
    scoring = [
        {"scorer": "nope"},
        {"scorer": "keyword", "config": {"keywords": []}},
        {"scorer": "length", "config": {"max_words": 3}},
        {"scorer": "length", "config": {"min_words": 1}},
        {"scorer": "length", "name": "short", "config": {}},
        {"scorer": "keyword", "name": "neg", "weight": -1, "config": {"keywords": ["a"]}},
    ]
    errs = errors_of(doc(scoring_config=scoring), with_config=True)
    assert sorted(map(str, locs(errs))) == sorted(map(str, [
        ["scoring_config", 0, "scorer"],
        ["scoring_config", 1, "config"],
        ["scoring_config", 3, "name"],
        ["scoring_config", 4, "config"],
        ["scoring_config", 5, "weight"],
    ]))
    config_msgs = [e["msg"] for e in errs if e["loc"][-1] == "config"]
    assert any(m.startswith("config.keywords:") for m in config_msgs)


def test_all_problems_reported_at_once():
    bad = doc(parameter_space={"nope.x": [1], "top_p": []}, scoring_config=[{"scorer": "nope"}])
    assert len(errors_of(bad)) == 3
    with pytest.raises(DefinitionError) as info:
        validate_definition(ExperimentDefinition.model_validate(bad), KNOWN)
    assert "parameter_space" in str(info.value)


def test_linked_choice_values_are_validated_with_locs():
    from promptlooper.engine.definition import DefinitionError as _DefinitionError

    doc = {"name": "x", "sample_data": [{"id": "s1", "input": "a"}],
           "pipeline_stages": [{"name": "answer", "prompt_template": "{{ input }}"}],
           "parameter_space": {"stages.answer": [
               {"model": "m1", "params": {"temperature": 0.1}},
               {"model": "m2", "colour": "red", "params": {"messages": []}},
               {"model": "m3", "prompt_template": "{{ nope }}"},
               "m4"]}}
    with pytest.raises(_DefinitionError) as info:
        validate_definition(ExperimentDefinition.model_validate(doc), {"keyword"})
    locs = {tuple(e["loc"]) for e in info.value.errors}
    assert ("parameter_space", "stages.answer", 1, "colour") in locs
    assert ("parameter_space", "stages.answer", 1, "params", "messages") in locs
    assert ("parameter_space", "stages.answer", 2, "prompt_template") in locs
    assert ("parameter_space", "stages.answer", 3) in locs
    assert ("pipeline_stages", 0, "model") in locs, "`m4` sets no model, so the stage has none"
    doc["parameter_space"] = {"stages.answer": [{"model": "m1"}, {"model": "m2", "params": {"top_p": 0.5}}]}
    validate_definition(ExperimentDefinition.model_validate(doc), {"keyword"})


def test_scorer_samples_must_exist():
    from promptlooper.engine.definition import DefinitionError as _DefinitionError

    doc = {"name": "x", "sample_data": [{"id": "s1", "input": "a"}],
           "pipeline_stages": [{"name": "answer", "model": "m", "prompt_template": "{{ input }}"}],
           "scoring_config": [{"scorer": "keyword", "samples": ["s1", "s9"], "threshold": 1.0,
                               "config": {"keywords": ["a"]}},
                              {"scorer": "keyword", "name": "k2", "threshold": 1.5, "config": {"keywords": ["a"]}}]}
    with pytest.raises(_DefinitionError) as info:
        validate_definition(ExperimentDefinition.model_validate(doc), {"keyword"})
    assert [e["loc"] for e in info.value.errors] == [["scoring_config", 0, "samples", 1],
                                                     ["scoring_config", 1, "threshold"]]
