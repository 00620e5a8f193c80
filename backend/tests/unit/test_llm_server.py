"""The loopback server itself: control routes, determinism, and the separate-process mode."""

from __future__ import annotations

import statistics
import subprocess
import sys

import httpx2
import pytest

from promptlooper.engine.definition import SampleDef
from promptlooper.engine.scorers import ScoreContext
from promptlooper.engine.scorers.length import LengthConfig, LengthScorer
from tests.support.environment import subprocess_env
from tests.support.llm_server import (
    LANDSCAPE_VARIANTS,
    LANDSCAPE_WORDS,
    LLMServer,
    answer_text,
    landscape_answer,
    landscape_quality,
    landscape_score,
)


def test_answers_are_deterministic_and_distinguish_requests():
    base = {"model": "m1", "temperature": 0.2, "messages": [{"role": "user", "content": "alpha beta"}]}
    assert answer_text(base) == answer_text(dict(base))
    assert answer_text(base).startswith("m1 t=0.2: alpha beta")
    variants = [{**base, "model": "m2"}, {**base, "temperature": 0.9}, {**base, "top_p": 0.5},
                {**base, "messages": [{"role": "system", "content": "s"}, *base["messages"]]}]
    assert len({answer_text(v) for v in [base, *variants]}) == 5
    assert len(answer_text({**base, "max_tokens": 3}).split()) == 3


def test_control_routes(llm):
    with httpx2.Client(base_url=llm.url) as client:
        assert client.post("/_script", json=["500"]).json()["queued"] == 1
        body = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}
        assert client.post("/v1/chat/completions", json=body).status_code == 500
        assert client.post("/v1/chat/completions", json=body).json()["usage"]["completion_tokens"] > 0
        stats = client.get("/_stats").json()
        assert stats["calls"] == 2 and stats["per_model"] == {"m1": 2} and stats["peak_in_flight"] == 1
        client.post("/_reset")
        assert client.get("/_stats").json()["calls"] == 0


@pytest.mark.parametrize("landscape", [False, True], ids=["echo", "landscape"])
def test_runs_as_a_separate_process(landscape):
    flags = ["--landscape"] if landscape else []
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.llm_server", "--port", "0",
                             "--latency", "0.01", *flags], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=subprocess_env())
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "ready on http://127.0.0.1:" in line
        base_url = line.split("ready on ")[1].split()[0]
        response = httpx2.post(f"{base_url}/chat/completions", timeout=10,
                              json={"model": "m2", "messages": [{"role": "user", "content": "x"}]})
        content = response.json()["choices"][0]["message"]["content"]
        assert content.startswith("m2")
        body = {"model": "m2", "messages": [{"role": "user", "content": "x"}]}
        assert (content == landscape_answer(body)) is landscape and (content == answer_text(body)) is not landscape
        assert httpx2.get(base_url.removesuffix("/v1") + "/_stats").json()["per_model"] == {"m2": 1}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _body(temperature: float, top_p: float, content: str) -> dict:
    return {"model": "m1", "temperature": temperature, "top_p": top_p,
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": content}]}


def test_landscape_quality_is_smooth_and_peaks_inside_the_space_at_each_variants_own_point():
    for name, (peak, best_t, best_p) in LANDSCAPE_VARIANTS.items():
        assert 0.0 < best_t < 1.35 and 0.2 < best_p < 1.0
        assert landscape_quality(best_t, best_p, name) == peak
        for dt, dp in ((0.05, 0), (-0.05, 0), (0, 0.05), (0, -0.05)):
            near = landscape_quality(best_t + dt, best_p + dp, name)
            assert peak - 0.01 < near < peak, (name, dt, dp)  # a small step costs a little, never a jump
        assert landscape_quality(best_t + 0.5, best_p, name) < peak - 0.2
    # the variant matters: the best of each differs, and the best temperature depends on the variant
    assert len({peak for peak, _, _ in LANDSCAPE_VARIANTS.values()}) == len(LANDSCAPE_VARIANTS)
    assert landscape_quality(0.95, 0.65, "steps") > landscape_quality(0.67, 0.65, "steps")
    assert landscape_quality(0.95, 0.65, "expert") < landscape_quality(0.67, 0.65, "expert")


def test_landscape_scores_are_noisy_per_sample_deterministic_and_centred_on_the_quality():
    scores = [landscape_score(0.6, 0.7, "expert", f"s{i}", "1") for i in range(400)]
    assert scores == [landscape_score(0.6, 0.7, "expert", f"s{i}", "1") for i in range(400)]
    assert len(set(scores)) > 300 and all(0.0 <= s <= 1.0 for s in scores)
    assert abs(statistics.mean(scores) - landscape_quality(0.6, 0.7, "expert")) < 0.02
    assert 0.05 < statistics.stdev(scores) < 0.15
    assert [landscape_score(0.6, 0.7, "expert", f"s{i}", "2") for i in range(400)] != scores, "the seed moves the noise"
    assert landscape_score(0.6, 0.7, "expert", "s1", "1") != landscape_score(0.6, 0.75, "expert", "s1", "1")


async def test_the_length_scorer_reads_the_landscape_score_from_the_answer():
    scorer, config = LengthScorer(), LengthConfig(max_words=LANDSCAPE_WORDS)
    context = ScoreContext(sample=SampleDef(id="s3", input="x"), reference=None)
    for temperature, top_p, variant in ((0.67, 0.7, "expert"), (0.0, 0.2, "terse"), (1.35, 1.0, "steps"),
                                        (0.5, 0.5, "plain")):
        answer = landscape_answer(_body(temperature, top_p, f"[tag] variant={variant} sample=s3 seed=4 question"))
        expected = landscape_score(temperature, top_p, variant, "s3", "4")
        read = (await scorer.score("x", answer, context, config)).value
        assert abs(read - expected) <= 0.5 / LANDSCAPE_WORDS + 1e-9, (variant, read, expected)
    # other text (a cache-busting tag, the system prompt) changes nothing; the markers do
    tagged = landscape_answer(_body(0.6, 0.7, "[run a] variant=expert sample=s1 seed=1 text"))
    assert tagged == landscape_answer(_body(0.6, 0.7, "[run b] variant=expert sample=s1 seed=1 other text"))
    assert tagged != landscape_answer(_body(0.6, 0.7, "[run a] variant=expert sample=s2 seed=1 text"))
    # without temperature/top_p (OpenAI's defaults of 1) or markers it still answers
    assert len(landscape_answer({"model": "m1", "messages": []}).split()) >= LANDSCAPE_WORDS


def test_the_server_answers_from_the_landscape_in_landscape_mode():
    with LLMServer(landscape=True) as server, httpx2.Client(base_url=server.base_url) as client:
        body = _body(0.3, 0.85, "variant=terse sample=s9 seed=2 hello")
        answer = client.post("/chat/completions", json=body).json()["choices"][0]["message"]["content"]
        assert answer == landscape_answer(body) and answer.startswith("m1 score=")
        assert server.stats()["calls"] == 1
