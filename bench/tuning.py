"""`python -m bench.tuning`: what guided sweeps and early stopping save against a grid, on a scored landscape.

The loopback LLM server runs in landscape mode (`tests/support/llm_server.landscape_answer`): the `length`
scorer reads from each answer a score that depends smoothly on temperature, top_p and the prompt variant
(four variants with their own peaks), plus a difficulty per sample and noise per (sample, configuration),
none of which the sampler sees. The grid: temperature 0..1.35 by 0.15 (10) x top_p 0.2..1 by 0.2 (5) x 4
prompt variants = 200 configurations x 20 samples = 4,000 calls.

Rows, each run once per seed (SEEDS, the landscape's noise and the sweep's seed both change with it):
grid; grid + early stopping; guided (the grid's points as stepped ranges, default max_runs 30); guided +
early stopping; and guided over the continuous ranges (no step), which may find a configuration better than
any grid point. Each row has its own experiment and its prompts carry a tag of their own, so no row is served
from another's cache: the calls counted (the server's counter, reset before each sweep) are the calls the
sweep paid for. A row's score is its leaderboard's best (a configuration scored on every sample); its "true"
quality is the landscape's noise-free value at that configuration.

Targets (medians over the seeds): guided within 0.05 of the grid's best score with at most 25% of its
calls; grid + early stopping at most 45% of the grid's calls with a winner within 0.05; guided + early
stopping at most 15% of the grid's calls. Until early stopping exists on the server, its rows say so
and are not judged. BENCH_TUNING_SEEDS=3 runs fewer seeds.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from fastapi.testclient import TestClient

from bench.run import ROOT

sys.path.insert(0, str(ROOT / "backend"))

from promptlooper.config import Settings
from promptlooper.main import create_app
from tests.support.environment import subprocess_env
from tests.support.llm_server import LANDSCAPE_VARIANTS, LANDSCAPE_WORDS, landscape_quality

SEEDS = list(range(1, int(os.environ.get("BENCH_TUNING_SEEDS", "5")) + 1))
SAMPLES = 20
EARLY_STOPPING = {"min_samples": 4, "eta": 3}
GRID_CONCURRENCY = 16
GUIDED_CONCURRENCY = 4
TEMPERATURE = {"min": 0.0, "max": 1.35}
TOP_P = {"min": 0.2, "max": 1.0}
STEPS = {"temperature": 0.15, "top_p": 0.2}
SWEEP_TIMEOUT_S = 600
DONE = ("completed", "cached", "pruned")  # a run of a sweep that did what it should (failed is not)
_VARIANT = re.compile(r"variant=(\S+)")


@dataclass(frozen=True)
class Row:
    """One way to sweep: the request body (without seed) and whether the space keeps the grid's steps."""

    name: str
    body: dict[str, Any]
    stepped: bool = True
    target: str = ""


ROWS = [
    Row("grid", {"type": "grid", "concurrency": GRID_CONCURRENCY}),
    Row("grid + early stopping", {"type": "grid", "concurrency": GRID_CONCURRENCY, "early_stopping": EARLY_STOPPING},
        target="calls <= 45% of grid's, score within 0.05"),
    Row("guided", {"type": "guided", "concurrency": GUIDED_CONCURRENCY},
        target="calls <= 25% of grid's, score within 0.05"),
    Row("guided + early stopping", {"type": "guided", "concurrency": GUIDED_CONCURRENCY,
                                    "early_stopping": EARLY_STOPPING}, target="calls <= 15% of grid's"),
    Row("guided, continuous ranges", {"type": "guided", "concurrency": GUIDED_CONCURRENCY}, stepped=False,
        target="(no target: can it beat every grid point?)"),
]


@dataclass
class Outcome:
    """One row on one seed: calls paid, the best configuration's score and true quality; or why it did not run."""

    calls: int = 0
    score: float = 0.0
    quality: float = 0.0
    config: str = ""
    seconds: float = 0.0
    runs: int = 0
    not_done: int = 0
    refused: str | None = None
    statuses: dict[str, int] = field(default_factory=dict)


def experiment_doc(project_id: str, endpoint_id: str, seed: int, tag: str, stepped: bool) -> dict[str, Any]:
    """The landscape experiment: 4 prompt variants x temperature x top_p over SAMPLES samples."""
    templates = [f"[{tag}] variant={name} Answer the question. {{{{ input }}}}" for name in LANDSCAPE_VARIANTS]
    temperature: dict[str, Any] = dict(TEMPERATURE)
    top_p: dict[str, Any] = dict(TOP_P)
    if stepped:
        temperature["step"], top_p["step"] = STEPS["temperature"], STEPS["top_p"]
    return {
        "project_id": project_id,
        "name": f"tuning-{tag}",
        "sample_data": [{"id": f"s{i}", "input": f"sample=s{i} seed={seed} question {i}"} for i in range(SAMPLES)],
        "pipeline_stages": [{"name": "answer", "endpoint_id": endpoint_id, "model": "m1",
                             "prompt_template": templates[0], "params": {"temperature": 0.7, "top_p": 1.0}}],
        "scoring_config": [{"scorer": "length", "config": {"max_words": LANDSCAPE_WORDS}}],
        "parameter_space": {"temperature": temperature, "top_p": top_p, "prompt_template": templates},
    }


def wait_completed(client: TestClient, experiment_id: str, sweep_id: str) -> None:
    """Poll the experiment's events (sparsely: polling shares the app's loop) until the sweep completes."""
    after, deadline = 0, time.monotonic() + SWEEP_TIMEOUT_S
    while time.monotonic() < deadline:
        page = client.get(f"/api/v1/experiments/{experiment_id}/events", params={"after": after, "limit": 1000}).json()
        for event in page["items"]:
            if event["type"] == "experiment.completed" and event["sweep_id"] == sweep_id:
                return
        after = page["next_after"]
        time.sleep(0.1)
    raise TimeoutError(f"sweep {sweep_id} did not complete within {SWEEP_TIMEOUT_S} s")


def _refusal(response: Any) -> str:
    """The error of a refused request, one line (`{"detail", "code"}`; a 422's detail is a list)."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):
        detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail
                           if isinstance(d, dict))
    return f"HTTP {response.status_code} {body.get('code', '') if isinstance(body, dict) else ''}: {detail}"


def run_row(client: TestClient, llm_url: str, ids: tuple[str, str], seed: int, row: Row) -> Outcome:
    """Sweep one row on one seed; count the server's calls; read the leaderboard's best."""
    project_id, endpoint_id = ids
    tag = f"seed{seed}-{re.sub(r'[^a-z]+', '-', row.name)}"
    created = client.post("/api/v1/experiments", json=experiment_doc(project_id, endpoint_id, seed, tag, row.stepped))
    assert created.status_code == 201, created.text
    experiment_id = created.json()["id"]
    httpx2.post(f"{llm_url}/_reset")
    started = time.monotonic()
    response = client.post(f"/api/v1/experiments/{experiment_id}/sweep", json={**row.body, "seed": seed})
    if response.status_code != 202:
        return Outcome(refused=_refusal(response))
    wait_completed(client, experiment_id, response.json()["sweep_id"])
    outcome = Outcome(seconds=time.monotonic() - started, calls=int(httpx2.get(f"{llm_url}/_stats").json()["calls"]))
    runs = client.get(f"/api/v1/experiments/{experiment_id}/runs", params={"limit": 500}).json()["items"]
    outcome.runs = len(runs)
    for run in runs:
        outcome.statuses[run["status"]] = outcome.statuses.get(run["status"], 0) + 1
    outcome.not_done = sum(n for status, n in outcome.statuses.items() if status not in DONE)
    paid = sum(int(run.get("llm_calls_paid") or 0) for run in runs)
    if paid != outcome.calls:  # the server's counter and the sweep's own account must agree
        print(f"  {row.name}: the server counted {outcome.calls} calls, the runs say {paid} were paid")
        outcome.not_done += 1
    best = client.get(f"/api/v1/experiments/{experiment_id}/leaderboard", params={"limit": 1}).json()["items"][0]
    stage = best["config"]["stages"][0]
    params = stage.get("params") or {}
    found = _VARIANT.search(stage["prompt_template"])
    variant = found.group(1) if found else "?"
    outcome.score = float(best["weighted_score"])
    outcome.quality = landscape_quality(float(params["temperature"]), float(params["top_p"]), variant)
    outcome.config = f"{variant} t={params['temperature']:g} top_p={params['top_p']:g}"
    return outcome


def start_landscape_server() -> tuple[subprocess.Popen[str], str]:
    """The loopback LLM server in landscape mode, in its own process (it must not share the app's interpreter)."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.llm_server", "--port", "0", "--latency", "0",
                             "--landscape"], stdout=subprocess.PIPE, text=True, env=subprocess_env())
    assert proc.stdout is not None
    match = re.search(r"\(port (\d+)\)", proc.stdout.readline())
    if match is None:
        proc.terminate()
        raise RuntimeError("the landscape server did not start")
    return proc, f"http://127.0.0.1:{match.group(1)}"


def run() -> dict[str, list[Outcome]]:
    """Every row on every seed, in one app (SQLite, in-process) against one landscape server."""
    results: dict[str, list[Outcome]] = {row.name: [] for row in ROWS}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), database_url=None, redis_url=None,
                            mcp_enabled=False, max_concurrent_runs=16, log_level="WARNING")
        proc, llm_url = start_landscape_server()
        try:
            with TestClient(create_app(settings)) as client:
                token = client.post("/api/v1/auth/setup", json={"username": "bench", "password": "bench-password"})
                client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
                project_id = client.post("/api/v1/projects", json={"name": "tuning"}).json()["id"]
                endpoint_id = client.post("/api/v1/endpoints", json={"label": "landscape", "url": f"{llm_url}/v1",
                                                                     "max_concurrency": 64}).json()["id"]
                for seed in SEEDS:
                    for row in ROWS:
                        outcome = run_row(client, llm_url, (project_id, endpoint_id), seed, row)
                        results[row.name].append(outcome)
                        print(f"  seed {seed} {row.name:<26} " + (
                            f"not run: {outcome.refused}" if outcome.refused else
                            f"{outcome.calls:5d} calls {outcome.seconds:6.1f} s  best {outcome.score:.3f} "
                            f"(true {outcome.quality:.3f}) {outcome.config}  runs {outcome.statuses}"), flush=True)
        finally:
            proc.terminate()
    return results


def report(results: dict[str, list[Outcome]]) -> bool:
    """Print the medians, each row against the grid on the same seed; answer whether every judged target holds."""
    grid = results["grid"]
    if any(o.refused for o in grid):
        print("the grid did not run:", grid[0].refused)
        return False
    best_grid_point = max(landscape_quality(t * STEPS["temperature"], 0.2 + p * STEPS["top_p"], v)
                          for v in LANDSCAPE_VARIANTS for t in range(10) for p in range(5))
    print(f"\nTuning on the landscape ({len(SEEDS)} seeds, {SAMPLES} samples, grid of 200 configurations; medians; "
          f"the best grid point's true quality is {best_grid_point:.3f}):")
    print(f"{'sweep':<27}{'calls':>7}{'vs grid':>9}{'best score':>12}{'vs grid':>9}{'true':>8}   target")
    ok = True
    figures: dict[str, tuple[float, float, float]] = {}
    for row in ROWS:
        outcomes = results[row.name]
        if any(o.refused for o in outcomes):
            print(f"{row.name:<27}{'not run: the server refused it':>45}   ({outcomes[0].refused})")
            continue
        share = statistics.median(o.calls / g.calls for o, g in zip(outcomes, grid, strict=True))
        gap = statistics.median(o.score - g.score for o, g in zip(outcomes, grid, strict=True))
        calls = statistics.median(o.calls for o in outcomes)
        score = statistics.median(o.score for o in outcomes)
        quality = statistics.median(o.quality for o in outcomes)
        figures[row.name] = (share, gap, quality)
        verdict = judge(row.name, share, gap)
        ok &= verdict != "FAIL"
        print(f"{row.name:<27}{calls:7.0f}{share:8.0%} {score:12.3f}{gap:+9.3f}{quality:8.3f}   "
              f"{verdict} {row.target}".rstrip())
        not_done = sum(o.not_done for o in outcomes)
        if not_done:
            ok = False
            print(f"  {not_done} run(s) failed (neither completed, cached nor pruned), or calls miscounted")
    continuous = results["guided, continuous ranges"]
    if not any(o.refused for o in continuous):
        better = sum(o.quality > best_grid_point for o in continuous)
        print(f"guided over continuous ranges found a configuration better than every grid point (true quality "
              f"above {best_grid_point:.3f}) on {better} of {len(continuous)} seeds"
              + (f"; median true quality {statistics.median(o.quality for o in continuous):.3f}" if better else ""))
    return ok


def judge(name: str, share: float, gap: float) -> str:
    """PASS/FAIL against the issue's targets (calls as a share of the grid's, score gap to the grid's best)."""
    limits = {"guided": (0.25, 0.05), "grid + early stopping": (0.45, 0.05), "guided + early stopping": (0.15, None)}
    if name not in limits:
        return ""
    calls, score = limits[name]
    return "PASS" if share <= calls and (score is None or gap >= -score) else "FAIL"


def main() -> int:
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    started = time.monotonic()
    ok = report(run())
    print(f"tuning: {'OK' if ok else 'MISSED A TARGET'} ({time.monotonic() - started:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
