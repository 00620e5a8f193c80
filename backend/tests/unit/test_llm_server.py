"""The loopback server itself: control routes, determinism, and the separate-process mode."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.support.environment import subprocess_env
from tests.support.llm_server import answer_text


def test_answers_are_deterministic_and_distinguish_requests():
    base = {"model": "m1", "temperature": 0.2, "messages": [{"role": "user", "content": "alpha beta"}]}
    assert answer_text(base) == answer_text(dict(base))
    assert answer_text(base).startswith("m1 t=0.2: alpha beta")
    variants = [{**base, "model": "m2"}, {**base, "temperature": 0.9}, {**base, "top_p": 0.5},
                {**base, "messages": [{"role": "system", "content": "s"}, *base["messages"]]}]
    assert len({answer_text(v) for v in [base, *variants]}) == 5
    assert len(answer_text({**base, "max_tokens": 3}).split()) == 3


def test_control_routes(llm):
    with httpx.Client(base_url=llm.url) as client:
        assert client.post("/_script", json=["500"]).json()["queued"] == 1
        body = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
        assert client.post("/v1/chat/completions", json=body).status_code == 500
        assert client.post("/v1/chat/completions", json=body).json()["usage"]["completion_tokens"] > 0
        stats = client.get("/_stats").json()
        assert stats["calls"] == 2 and stats["per_model"] == {"m1": 2} and stats["peak_in_flight"] == 1
        client.post("/_reset")
        assert client.get("/_stats").json()["calls"] == 0


def test_runs_as_a_separate_process():
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.llm_server", "--port", "0",
                             "--latency", "0.01"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=subprocess_env())
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "ready on http://127.0.0.1:" in line
        base_url = line.split("ready on ")[1].split()[0]
        response = httpx.post(f"{base_url}/chat/completions", timeout=10,
                              json={"model": "m2", "messages": [{"role": "user", "content": "x"}]})
        assert response.json()["choices"][0]["message"]["content"].startswith("m2")
        assert httpx.get(base_url.removesuffix("/v1") + "/_stats").json()["per_model"] == {"m2": 1}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
