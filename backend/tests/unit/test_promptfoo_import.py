"""promptfoo config -> experiment document: every prompt form, provider form, test source and assertion type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptlooper.engine import scorers
from promptlooper.engine.definition import ExperimentDefinition, validate_definition
from promptlooper.engine.space import count_grid, expand_grid
from promptlooper.importers import ImportFailed, render_yaml
from promptlooper.importers.promptfoo import convert, convert_nunjucks, is_promptfoo_config

URL = "http://127.0.0.1:9/v1"


def write(tmp_path: Path, config: dict[str, Any], files: dict[str, str] | None = None) -> Path:
    for name, text in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def as_definition(document: dict[str, Any]) -> ExperimentDefinition:
    """The document as the API would see it once the CLI swapped endpoint labels for ids."""
    doc = json.loads(json.dumps(document))
    ids = {e["label"]: f"ep-{i}" for i, e in enumerate(doc.pop("endpoints"))}
    doc.pop("project")

    def swap(obj: dict[str, Any]) -> None:
        if "endpoint" in obj:
            obj["endpoint_id"] = ids[obj.pop("endpoint")]

    for stage in doc["pipeline_stages"]:
        swap(stage)
    for values in doc.get("parameter_space", {}).values():
        for value in values:
            if isinstance(value, dict):
                swap(value)
    for entry in doc["scoring_config"]:
        swap(entry["config"])
    defn = ExperimentDefinition.model_validate(doc)
    validate_definition(defn, scorers.known_scorer_ids(), scorers.validate_scorer_config)
    return defn


def test_nunjucks_becomes_jinja_with_vars():
    text, free = convert_nunjucks("Hi {{name}}, {{ q | upper }} {% for x in items %}{{ x.a }}{% endfor %} "
                                  "{{ obj.k | dump }} {{ n is defined }} {{ q | replace('a', b) }}", None)
    assert text == ("Hi {{vars.name}}, {{ vars.q | upper }} {% for x in vars.items %}{{ x.a }}{% endfor %} "
                    "{{ vars.obj.k | tojson }} {{ vars.n is defined }} {{ vars.q | replace('a', vars.b) }}")
    assert free == {"name", "q", "items", "obj", "n", "b"}
    assert convert_nunjucks("Q: {{question}}", "question")[0] == "Q: {{input}}"
    with pytest.raises(ValueError):
        convert_nunjucks("{{ broken", None)


def test_every_prompt_form(tmp_path: Path):
    files = {
        "prompts/a.txt": "File one {{topic}}\n---\nFile two {{ topic }}\n",
        "prompts/b.txt": "Glob {{topic}}",
        "chat.json": json.dumps([{"role": "system", "content": "Be terse about {{topic}}."},
                                 {"role": "user", "content": "Tell me about {{topic}}"}]),
        "chat.yaml": yaml.safe_dump([{"role": "user", "content": "YAML {{topic}}"}]),
        "fn.py": "def prompt(context): return 'x'",
    }
    path = write(tmp_path, {
        "prompts": ["Plain {{topic}}", {"raw": "Raw {{topic}}", "label": "raw one"},
                    {"id": "file://chat.json", "label": "chatty"}, "file://prompts/*.txt", "file://chat.yaml",
                    "file://fn.py:prompt",
                    json.dumps([{"role": "system", "content": "S"}, {"role": "user", "content": "U {{topic}}"}])],
        "providers": [{"id": "openai:chat:m1", "config": {"apiBaseUrl": URL}}],
        "tests": [{"vars": {"topic": "cats"}}],
    }, files)
    imported = convert(path)
    space = imported.document["parameter_space"]
    values = space["stages.prompt"]  # some prompts carry a system part: system and user travel together
    assert [v["prompt_template"] for v in values] == [
        "Plain {{input}}", "Raw {{input}}", "Tell me about {{input}}", "File one {{input}}", "File two {{ input }}",
        "Glob {{input}}", "YAML {{input}}", "U {{input}}"]
    assert values[2]["system_prompt"] == "Be terse about {{input}}." and values[7]["system_prompt"] == "S"
    assert values[0]["system_prompt"] is None
    assert "raw one" in imported.labels[0] and "chatty" in imported.labels[0] and "a.txt #2" in imported.labels[0]
    assert any("fn.py" in item and "prompt function" in item for item in imported.left_out)
    defn = as_definition(imported.document)
    assert count_grid(defn) == 8


def test_every_provider_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = write(tmp_path, {
        "prompts": ["Q {{q}}"],
        "providers": [
            "openai:chat:m1",
            {"id": "openai:m2", "label": "second", "config": {"apiBaseUrl": URL, "temperature": 0.2, "top_p": 0.9,
                                                               "max_tokens": 20, "seed": 7, "stop": ["\n"],
                                                               "apiKeyEnvar": "MY_KEY", "functions": []}},
            {"id": "openai:completion:m3", "config": {"apiHost": "llm.example.com", "apiKey": "sk-inline"}},
            {"id": "ollama:chat:llama3:8b", "config": {"num_predict": 5, "apiBaseUrl": "http://10.0.0.2:11434/v1"}},
            "localai:chat:mistral",
            {"openai:chat:m4": {"config": {"apiBaseUrl": URL, "apiKey": "{{ env.OTHER_KEY }}"}}},
            {"id": "http", "config": {"url": URL + "/chat/completions", "method": "POST",
                                      "body": {"model": "m5", "messages": "{{prompt}}", "temperature": 0}}},
            "anthropic:messages:claude-3",
            "openai:embedding:text-embedding-3-small",
        ],
        "tests": [{"vars": {"q": "x"}}],
    })
    imported = convert(path)
    doc = imported.document
    endpoints = {e["url"]: e for e in doc["endpoints"]}
    assert endpoints["https://api.openai.com/v1"]["api_key_env"] == "OPENAI_API_KEY"
    assert endpoints[URL]["api_key_env"] == "MY_KEY" and endpoints[URL]["label"] == "second"
    assert endpoints["https://llm.example.com/v1"]["api_key"] == "sk-inline"
    assert "http://10.0.0.2:11434/v1" in endpoints and "http://localhost:8080/v1" in endpoints
    linked = doc["parameter_space"]["stages.prompt"]
    assert [v["model"] for v in linked] == ["m1", "m2", "m3", "llama3:8b", "mistral", "m4", "m5"]
    assert linked[1]["params"] == {"temperature": 0.2, "top_p": 0.9, "max_tokens": 20, "seed": 7, "stop": ["\n"]}
    assert linked[3]["params"] == {"max_tokens": 5} and linked[6]["params"] == {"temperature": 0}
    assert linked[5]["endpoint"] == linked[1]["endpoint"] == linked[6]["endpoint"] == "second"  # one URL, one endpoint
    report = "\n".join(imported.left_out)
    assert "providers[1].config.functions" in report
    assert "providers[7] (anthropic:messages:claude-3)" in report
    assert "providers[8] (openai:embedding:text-embedding-3-small)" in report
    assert any("providers[2]" in c and "completion" in c for c in imported.changed)
    assert "second" in imported.labels[1]
    defn = as_definition(doc)
    assert count_grid(defn) == 7 and len(expand_grid(defn, None)) == 7  # exactly the listed configurations


def test_tests_vars_files_and_default_test(tmp_path: Path):
    files = {
        "tests.csv": "q,__expected,__expected2,__description\nalpha,contains: alp,\"icontains-any: x, Y\",first\n"
                     "beta,plain beta,,\n",
        "more.jsonl": json.dumps({"vars": {"q": "gamma"}, "assert": [{"type": "regex", "value": "g+"}]}) + "\n"
                      + json.dumps({"q": "delta"}) + "\n",
        "more.yaml": yaml.safe_dump([{"vars": {"q": "file://long.txt"}, "description": "from a file"}]),
        "long.txt": "a long text",
    }
    path = write(tmp_path, {
        "prompts": ["Q {{q}} {{lang}}"],
        "providers": [{"id": "openai:chat:m1", "config": {"apiBaseUrl": URL}}],
        "defaultTest": {"vars": {"lang": "en"}, "assert": [{"type": "icontains", "value": "{{q}}"}]},
        "tests": ["file://tests.csv", "file://more.*", {"vars": {"q": ["x1", "x2"], "lang": "fr"}}],
    }, files)
    imported = convert(path)
    doc = imported.document
    samples = doc["sample_data"]
    assert [s["vars"]["q"] for s in samples] == ["alpha", "beta", "gamma", "delta", "a long text", "x1", "x2"]
    assert samples[0]["id"] == "first" and samples[4]["id"] == "from a file"
    assert samples[5]["vars"]["lang"] == "fr" and samples[0]["vars"]["lang"] == "en"
    assert doc["pipeline_stages"][0]["prompt_template"] == "Q {{vars.q}} {{vars.lang}}"
    by_name = {e["name"]: e for e in doc["scoring_config"]}
    # defaultTest's `{{q}}` differs per test: one entry per test, restricted to it
    assert by_name["icontains: alpha"]["samples"] == ["first"]
    assert by_name["icontains: x1"]["config"]["keywords"] == ["x1"]
    assert by_name["contains: alp"]["config"] == {"keywords": ["alp"], "mode": "any", "case_sensitive": True}
    assert by_name['icontains-any: ["x", "Y"]']["config"]["keywords"] == ["x", "Y"]
    assert by_name["equals: plain beta"]["config"]["pattern"] == r"\Aplain\ beta\Z"
    assert by_name["regex: g+"]["samples"] == [samples[2]["id"]]
    assert "7 test(s)" in imported.summary
    as_definition(doc)


def test_every_assertion_type_maps_or_is_reported(tmp_path: Path):
    asserts = [
        {"type": "contains", "value": "a"}, {"type": "not-contains", "value": "b"},
        {"type": "icontains-all", "value": ["a", "b"]}, {"type": "not-contains-all", "value": ["a", "b", "c", "d"]},
        {"type": "contains-any", "value": "a, b"}, {"type": "not-icontains-any", "value": ["z"]},
        {"type": "regex", "value": r"\d+"}, {"type": "not-regex", "value": "x"}, {"type": "starts-with", "value": "m1"},
        {"type": "not-equals", "value": "no"},
        {"type": "is-json"}, {"type": "is-json", "value": {"type": "object", "required": ["a"]}},
        {"type": "contains-json"}, {"type": "not-is-json"},
        {"type": "similar", "value": "a text", "threshold": 0.8, "provider": "openai:embedding:emb-1"},
        {"type": "llm-rubric", "value": "is polite", "weight": 2, "metric": "politeness"},
        {"type": "g-eval", "value": "coherent"}, {"type": "factuality", "value": "Paris is in France"},
        {"type": "model-graded-closedqa", "value": "answers the question"},
        {"type": "python", "value": "output.startswith('m1')"},
        {"type": "python", "value": "if 'a' in output:\n    return {'pass': True, 'score': 0.5}\nreturn 0"},
        {"type": "python", "value": "file://check.py"},
        {"type": "webhook", "value": "http://127.0.0.1:9/hook"},
        {"type": "javascript", "value": "output.length > 3"},
        {"type": "latency", "threshold": 100}, {"type": "cost", "threshold": 0.01},
        {"type": "not-similar", "value": "x"}, {"type": "levenshtein", "value": "x"},
        {"type": "contains", "value": "x", "transform": "output.trim()"},
        {"type": "icontains", "value": "kept", "threshold": 5},
    ]
    path = write(tmp_path, {
        "prompts": ["Q {{q}}"],
        "providers": [{"id": "openai:chat:m1", "config": {"apiBaseUrl": URL}}],
        "defaultTest": {"options": {"provider": {"id": "openai:chat:judge", "config": {"apiBaseUrl": URL}}}},
        "tests": [{"vars": {"q": "x"}, "assert": asserts}],
    }, {"check.py": "def get_assert(output, context):\n    return len(output) > 0\n"})
    imported = convert(path)
    entries = imported.document["scoring_config"]
    assert len(entries) == 24
    assert entries[23]["config"]["keywords"] == ["kept"] and "threshold" not in entries[23]
    assert any(item.startswith("tests[0].assert[29] (icontains): its threshold 5") for item in imported.left_out)
    kinds = [(e["scorer"], e["config"].get("type"), e["config"].get("negate", False)) for e in entries]
    assert kinds[:4] == [("keyword", None, False), ("keyword", None, True), ("keyword", None, False),
                         ("keyword", None, True)]
    assert entries[2]["threshold"] == 1.0 and entries[3]["threshold"] == 0.25  # all found / at least one missing
    assert entries[4]["config"]["keywords"] == ["a", "b"] and entries[5]["config"]["case_sensitive"] is False
    assert kinds[6:10] == [("format", "regex", False), ("format", "regex", True), ("format", "regex", False),
                           ("format", "regex", True)]
    assert kinds[10:14] == [("format", "json", False), ("format", "json_schema", False), ("format", "json", False),
                            ("format", "json", True)]
    assert entries[12]["config"]["anywhere"] is True and entries[10]["config"]["allow_code_fence"] is False
    similar = entries[14]
    assert similar["scorer"] == "embedding_similarity" and similar["threshold"] == 0.8
    assert similar["config"]["model"] == "emb-1" and similar["config"]["reference"] == "a text"
    rubric = entries[15]
    assert rubric["name"] == "politeness" and rubric["weight"] == 2.0 and rubric["threshold"] == 0.5
    assert rubric["config"]["model"] == "judge" and "is polite" in rubric["config"]["prompt"]
    assert entries[16]["config"]["scale"] == 10.0 and entries[16]["threshold"] == 0.7
    assert [e["scorer"] for e in entries[17:23]] == ["llm_judge", "llm_judge", "python", "python", "python", "webhook"]
    report = render_yaml(imported)
    for where, kind in ((23, "javascript"), (24, "latency"), (25, "cost"), (26, "not-similar"), (27, "levenshtein"),
                        (28, "contains")):
        line = next(item for item in imported.left_out if item.startswith(f"tests[0].assert[{where}] ({kind})"))
        assert f"#   - {line}" in report  # the output file carries the same report as comments
    assert yaml.safe_load(report) == imported.document
    as_definition(imported.document)


async def test_imported_python_assertions_score_like_promptfoo(tmp_path: Path):
    from promptlooper.engine.definition import SampleDef
    from promptlooper.engine.scorers import LocalScorerServices, ScoreContext
    from promptlooper.engine.scorers.python_scorer import PythonConfig, PythonScorer

    path = write(tmp_path, {
        "prompts": ["Q {{q}}"], "providers": [{"id": "openai:chat:m1", "config": {"apiBaseUrl": URL}}],
        "tests": [{"vars": {"q": "x"}, "assert": [
            {"type": "python", "value": "output.startswith('m1') and context['vars']['q'] == 'x'"},
            {"type": "python", "value": "if 'a' in output:\n    return {'pass': True, 'score': 0.5}\nreturn 0"},
            {"type": "python", "value": "file://check.py:named"}]}]},
        {"check.py": "def named(output, context):\n    return {'pass': False}\n"})
    entries = convert(path).document["scoring_config"]
    sample = SampleDef(id="s", input="x", vars={"q": "x"})
    context = ScoreContext(sample=sample, reference=None, vars={"q": "x"},
                           extras={"services": LocalScorerServices(is_admin=True)})
    values = [(await PythonScorer().score("x", "m1 a", context, PythonConfig(**e["config"]))).value for e in entries]
    assert values == [1.0, 0.5, 0.0]


def test_detection_and_errors(tmp_path: Path):
    assert is_promptfoo_config({"prompts": ["x"], "providers": ["openai:gpt-4"]})
    assert not is_promptfoo_config({"name": "x", "pipeline_stages": [], "prompts": [], "tests": []})
    with pytest.raises(ImportFailed, match="no provider"):
        convert(write(tmp_path, {"prompts": ["x"], "providers": ["anthropic:messages:claude"]}))
    with pytest.raises(ImportFailed, match="matches no file"):
        convert(write(tmp_path, {"prompts": ["file://missing/*.txt"], "providers": ["openai:gpt-4"]}))
    with pytest.raises(ImportFailed, match="not a promptfoo config"):
        convert(write(tmp_path, {"name": "x"}))


def test_prompt_mapping_form_and_assertion_values_from_files(tmp_path: Path):
    path = write(tmp_path, {
        "prompts": {"file://p.txt": "from a map"},
        "providers": "openai:chat:m1",
        "tests": [{"vars": {"q": "x"}, "assert": [{"type": "llm-rubric", "value": "file://rubric.txt"},
                                                 {"type": "contains-any", "value": "file://words.json"}]}],
    }, {"p.txt": "P {{q}}", "rubric.txt": "is kind\n", "words.json": json.dumps(["a", "b"])})
    imported = convert(path)
    assert "1. from a map" in imported.labels[0]
    rubric, words = imported.document["scoring_config"]
    assert "is kind" in rubric["config"]["prompt"] and rubric["name"] == "llm-rubric: is kind"
    assert words["config"]["keywords"] == ["a", "b"]
