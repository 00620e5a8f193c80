"""The CLI's reports: short model ids, JUnit cases and thresholds, the markdown summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import xmlschema

from promptlooper.cli_reports import cases, junit_xml, markdown_summary, result_table, short_model
from promptlooper.cli_run import table

JUNIT_XSD = Path(__file__).resolve().parents[1] / "support" / "junit.xsd"


def test_short_model_ids():
    assert short_model("/models/llama/Llama-3.1-8B-Q4_K_M.gguf") == "Llama-3.1-8B-Q4_K_M"
    assert short_model("/m/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf") == "Meta-Llama-3.1-8B-In…ruct-Q4_K_M"
    assert short_model("C:\\models\\phi-3.gguf") == "phi-3"
    assert short_model("meta-llama/Llama-3.1-8B") == "meta-llama/Llama-3.1-8B"  # a hub id keeps its owner
    long = short_model("x" * 30 + "-very-long-model-name-suffix")
    assert len(long) == 32 and "…" in long and long.endswith("suffix")
    assert short_model("gpt-4o-mini") == "gpt-4o-mini"


RUN = {"id": "r1", "config_hash": "h", "weighted_score": 0.6, "score_details": [
    {"name": "kw", "value": 0.5, "metadata": {"per_sample": {"a": 1.0, "b": 0.0}, "details": {"b": {"reason": "no"}}}},
    {"name": "judge", "value": 0.6, "metadata": {"per_sample": {"a": 0.6}, "details": {}}},
    {"name": "human_rating", "value": 1.0, "metadata": {}},
]}
SCORING = [{"scorer": "keyword", "name": "kw"}, {"scorer": "llm_judge", "name": "judge", "threshold": 0.7}]


def test_junit_cases_follow_thresholds_and_validate(tmp_path: Path):
    found = cases(RUN, SCORING, default_threshold=0.5)
    assert [(c.scorer, c.sample, c.passed) for c in found] == [("kw", "a", True), ("kw", "b", False),
                                                               ("judge", "a", False)]
    path = tmp_path / "j.xml"
    path.write_text(junit_xml("exp", RUN, found, 1.5))
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(path))
    root = ET.parse(path).getroot()
    failing = [(c.get("classname"), c.get("name")) for c in root.iter("testcase") if c.find("failure") is not None]
    assert failing == [("exp.kw", "b"), ("exp.judge", "a")]
    assert "no" in root.find(".//failure").get("message")
    lenient = cases(RUN, SCORING, default_threshold=0.0)
    assert [c.passed for c in lenient] == [True, True, False]  # the judge's own threshold still applies


def test_markdown_summary_and_table():
    board = [{"rank": 1, "run_id": "r1-long-id", "weighted_score": 0.6, "scores": {"kw": 0.5, "judge": 0.6},
              "config": {"stages": [{"model": "/m/a-very-long-path/model.gguf", "params": {"temperature": 0.2},
                                     "prompt_template": "Q: {{ input }}"}]}}]
    text = markdown_summary("exp", "completed", board, cases(RUN, SCORING, 0.5), 0.8, 4)
    assert "❌ failed: best 0.6000 < 0.8" in text and "1/3 sample checks passed" in text
    assert "| kw | b | 0.000 | 0.5 | no |" in text and "| 1 | 0.6000 | model | temperature=0.2 |" in text
    assert "✅ passed" in markdown_summary("exp", "completed", board, [], 0.5, 4)
    rendered = table(board)
    assert "model" in rendered and "/m/a-very-long-path" not in rendered and "0.6000" in rendered
    many = [{**board[0], "scores": {f"s{i}": 0.5 for i in range(9)}}]
    assert result_table(many).columns[8].header == "+3 scorers (mean)"
