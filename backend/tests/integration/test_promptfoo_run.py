"""A promptfoo config run by `promptlooper run`: exactly prompts x providers x tests calls, scores that mean
what the assertions mean, a JUnit file that validates, and a quiet terminal."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx2
import xmlschema
import yaml

from tests.support.environment import ADMIN, bearer, subprocess_env
from tests.support.llm_server import LLMServer, embedding
from tests.support.server import running_server

JUNIT_XSD = Path(__file__).resolve().parents[1] / "support" / "junit.xsd"


def _config(url: str) -> dict[str, Any]:
    return {
        "description": "capitals",
        "prompts": ["Q: {{question}}", {"raw": "Shout {{ question | upper }}", "label": "shout"},
                    {"id": "file://chat.json", "label": "chat"}],
        "providers": [
            {"id": "openai:chat:m1", "config": {"apiBaseUrl": url, "temperature": 0.1}},
            {"id": "openai:m2", "label": "short", "config": {"apiBaseUrl": url, "max_tokens": 4}},
            {"id": "http", "config": {"url": url + "/chat/completions", "body": {"model": "m3", "messages": "x"}}},
        ],
        "defaultTest": {
            "options": {"provider": {"id": "openai:chat:judge", "config": {"apiBaseUrl": url}}},
            "assert": [{"type": "icontains", "value": "{{question}}"},
                       {"type": "regex", "value": r"\[[0-9a-f]{8}\]"},
                       {"type": "latency", "threshold": 1000}],
        },
        "tests": ["file://tests.csv", {"vars": {"question": ["beta", "gamma"]}, "assert": [
            {"type": "contains-any", "value": ["beta", "gamma"]},
            {"type": "contains-all", "value": ["t=", "m"]},
            {"type": "not-contains-all", "value": ["m1", "zzz"]},
            {"type": "not-contains", "value": "m2"},
            {"type": "equals", "value": "nope"},
            {"type": "is-json"}, {"type": "not-is-json"}, {"type": "contains-json"},
            {"type": "python", "value": "'beta' in output.lower() or context['vars']['question'] == 'gamma'"},
            {"type": "llm-rubric", "value": 'Reply {"score": 1} when {{question}} is discussed'},
            {"type": "g-eval", "value": 'Reply {"score": 7}'},
            {"type": "factuality", "value": 'Reply {"score": 0}'},
            {"type": "similar", "value": "{{question}}", "threshold": 0.3},
            {"type": "javascript", "value": "output.length > 1"},
            {"type": "cost", "threshold": 0.01},
        ]}],
    }


def _json_anywhere(text: str) -> bool:
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char in "{[":
            try:
                decoder.raw_decode(text, index)
                return True
            except ValueError:
                continue
    return False


def _strict_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def _cosine(a: str, b: str) -> float:
    x, y = embedding(a), embedding(b)
    value = sum(p * q for p, q in zip(x, y, strict=True)) / (math.sqrt(sum(p * p for p in x)) *
                                                             math.sqrt(sum(q * q for q in y)))
    return min(1.0, max(0.0, value))


def _oracle(name: str, output: str, question: str) -> float:
    """What each promptfoo assertion means, computed here independently of the scorers (keyed by the
    scorer's name, which starts with the assertion's type)."""
    meaning = [
        ("icontains:", lambda o: float(question.lower() in o.lower())),
        ("regex:", lambda o: float(bool(re.search(r"\[[0-9a-f]{8}\]", o)))),
        ("starts-with: m1", lambda o: float(o.startswith("m1"))),
        ("contains-any:", lambda o: float("beta" in o or "gamma" in o)),
        ("contains-all:", lambda o: (("t=" in o) + ("m" in o)) / 2),
        ("not-contains-all:", lambda o: 1 - (("m1" in o) + ("zzz" in o)) / 2),
        ("not-contains: m2", lambda o: float("m2" not in o)),
        ("equals: nope", lambda o: float(o == "nope")),
        ("is-json", lambda o: float(_strict_json(o))),
        ("not-is-json", lambda o: float(not _strict_json(o))),
        ("contains-json", lambda o: float(_json_anywhere(o))),
        ("python:", lambda o: float("beta" in o.lower() or question == "gamma")),
        ("llm-rubric:", lambda o: 1.0),
        ("g-eval:", lambda o: 0.7),
        ("factuality:", lambda o: 0.0),
        ("similar:", lambda o: _cosine(question, o)),
    ]
    matching = [fn for prefix, fn in meaning if name.startswith(prefix)]
    assert len(matching) == 1, name
    return matching[0](output)


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = subprocess_env() | {"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": "", "MCP_ENABLED": "false"}
    full.pop("LOG_LEVEL", None)
    return subprocess.run([sys.executable, "-m", "promptlooper.cli", *args], env=full | (env or {}),
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)


def _write_config(tmp_path: Path, url: str) -> Path:
    (tmp_path / "chat.json").write_text(json.dumps([{"role": "system", "content": "Be brief."},
                                                    {"role": "user", "content": "About {{question}}"}]))
    (tmp_path / "tests.csv").write_text("question,__expected,__description\nalpha,starts-with: m1,first\n")
    path = tmp_path / "promptfooconfig.yaml"
    path.write_text(yaml.safe_dump(_config(url)))
    return path


def test_an_imported_config_runs_exactly_its_configurations_and_scores_what_it_asserts(tmp_path: Path) -> None:
    with LLMServer(models=["m1", "m2", "m3", "judge"]) as llm, running_server(
        {"DATA_DIR": str(tmp_path / "srv"), "DATABASE_URL": ""}, tmp_path / "server.log"
    ) as server:
        token = httpx2.post(server.url + "/api/v1/auth/setup", json=ADMIN).json()["access_token"]
        key = httpx2.post(server.url + "/api/v1/admin/api-keys", json={"name": "ci"}, headers=bearer(token)).json()["key"]
        path = _write_config(tmp_path, llm.base_url)
        imported = _cli(tmp_path, "import", "promptfoo", str(path), "-o", str(tmp_path / "experiment.yaml"))
        assert imported.returncode == 0, imported.stderr
        for dropped in ("defaultTest.assert[2] (latency)", "tests[1].assert[13] (javascript)",
                        "tests[1].assert[14] (cost)"):
            assert dropped in imported.stderr and f"- {dropped}" in (tmp_path / "experiment.yaml").read_text()
        result = _cli(tmp_path, "run", str(path), "--server", server.url, "--api-key", key, "--junit",
                      str(tmp_path / "junit.xml"), "--output", str(tmp_path / "results.json"))
        assert result.returncode == 0, result.stderr
        stats = llm.stats()
        # 3 prompts x 3 providers x 3 tests, no cross-product of the providers' fields
        assert sum(stats["per_model"].get(m, 0) for m in ("m1", "m2", "m3")) == 27
        assert stats["per_model"]["judge"] == 9 * 2 * 3  # 9 runs x 2 samples x 3 model-graded assertions
        headers = bearer(key)
        listed = httpx2.get(server.url + "/api/v1/experiments", headers=headers).json()["items"]
        assert len(listed) == 1
        experiment = httpx2.get(server.url + f"/api/v1/experiments/{listed[0]['id']}", headers=headers).json()
        runs = httpx2.get(server.url + f"/api/v1/experiments/{experiment['id']}/runs",
                         params={"limit": 100}, headers=headers).json()["items"]
        assert len(runs) == 9 and all(r["status"] == "completed" for r in runs)
        samples = {s["id"]: s for s in experiment["sample_data"]}
        checked = 0
        for summary in runs:
            run = httpx2.get(server.url + f"/api/v1/runs/{summary['id']}", headers=headers).json()
            outputs = {r["sample_id"]: r["response_raw"] for r in run["stage_results"]}
            for detail in run["score_details"]:
                per_sample = detail["metadata"]["per_sample"]
                for sample_id, value in per_sample.items():
                    expected = _oracle(detail["name"], outputs[sample_id], samples[sample_id]["vars"]["question"])
                    assert value == pytest_approx(expected), (detail["name"], sample_id, outputs[sample_id])
                    checked += 1
                assert run["scores"][detail["name"]] == pytest_approx(sum(per_sample.values()) / len(per_sample))
        assert checked == 9 * (3 * 2 + 1 + 2 * 13)  # defaultTest x 3 samples + starts-with + 13 per-test x 2
        junit = tmp_path / "junit.xml"
        xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(junit))
        best = json.loads((tmp_path / "results.json").read_text())["best_run"]
        thresholds = {e["name"]: 0.5 if e.get("threshold") is None else e["threshold"]
                      for e in experiment["scoring_config"]}
        expected_failures = sorted(
            (d["name"], sid) for d in best["score_details"] for sid, v in d["metadata"]["per_sample"].items()
            if v < thresholds[d["name"]])
        root = ET.parse(junit).getroot()
        failures = sorted((case.get("classname", "").split(".", 1)[1], case.get("name"))
                          for case in root.iter("testcase") if case.find("failure") is not None)
        assert failures == expected_failures and failures
        assert len(list(root.iter("testcase"))) == 2 * 3 + 1 + 13 * 2


def pytest_approx(value: float) -> Any:
    import pytest

    return pytest.approx(value, abs=1e-6)


def test_the_cli_is_quiet_by_default_and_gates_ci(tmp_path: Path) -> None:
    with LLMServer(models=["m1", "m2"]) as llm:
        path = tmp_path / "promptfooconfig.yaml"
        path.write_text(yaml.safe_dump({
            "prompts": ["Answer: {{question}}"],
            "providers": [{"id": "openai:chat:m1", "config": {"apiBaseUrl": llm.base_url}},
                          {"id": "openai:chat:m2", "config": {"apiBaseUrl": llm.base_url, "max_tokens": 2}}],
            "tests": [{"vars": {"question": "alpha"}, "assert": [{"type": "contains", "value": "alpha"}]},
                      {"vars": {"question": "beta"}, "assert": [{"type": "contains", "value": "m2"}]}],
        }))
        quiet = _cli(tmp_path, "run", str(path), "--junit", str(tmp_path / "j.xml"), "--markdown",
                     str(tmp_path / "summary.md"), "--threshold", "1", "--fail-under", "0.9")
        assert quiet.returncode == 1, quiet.stderr  # the best configuration scores 0.5
        info = [line for line in quiet.stderr.splitlines() if re.search(r"\bINFO\b", line)]
        assert info == [], info
        assert "2/2 runs" in quiet.stderr and "FAIL" in quiet.stderr and "Leaderboard" in quiet.stdout
        xmlschema.XMLSchema(str(JUNIT_XSD)).validate(str(tmp_path / "j.xml"))
        root = ET.parse(tmp_path / "j.xml").getroot()
        assert len(list(root.iter("testcase"))) == 2
        assert len([c for c in root.iter("testcase") if c.find("failure") is not None]) == 1
        summary = (tmp_path / "summary.md").read_text()
        assert "❌ failed" in summary and "1/2 sample checks passed" in summary
        loud = _cli(tmp_path, "run", str(path), "--verbose")
        assert loud.returncode == 0 and re.search(r"\bINFO\b", loud.stderr), "--verbose shows library logs"
        assert not re.search(r"\bINFO\b", loud.stdout) and "Leaderboard" in loud.stdout, "logs never mix into stdout"
        debug = _cli(tmp_path, "run", str(path), env={"LOG_LEVEL": "debug"})
        assert re.search(r"\b(INFO|DEBUG)\b", debug.stderr)


def test_bad_run_options_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("name: x\n")
    for args in (("--min-samples", "2"), ("--early-stopping", "--min-samples", "0"), ("--sweep", "bogus")):
        result = _cli(tmp_path, "run", str(path), *args)
        assert result.returncode == 2 and "promptlooper run:" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
