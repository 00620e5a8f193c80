"""The event loop stays responsive under abuse (issue 11 §1), against a real `promptlooper serve`.

While 50 unauthenticated logins (50 distinct usernames, so each one really verifies a hash) and one
maximal estimate are in flight, /health is called back to back; target: p95 under 250 ms.

The maximal estimate is the largest a read-only user may send: a grid of exactly MAX_SWEEP_RUNS
(100,000) combinations, 18,000 samples (about 9.5 MB, near MAX_BODY_BYTES), and templates that loop
and repeat close to the template limits. Run alone with `python -m bench.abuse`; `bench/run.py`
calls `run_abuse()` (BENCH_ABUSE=0 skips it).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))  # the shared test helpers live in backend/tests/support

from tests.support.server import start_server  # noqa: E402

HEALTH_P95_TARGET_S = 0.250
LOGINS = 50
SAMPLES = 18_000  # about 9.5 MB of JSON: close to MAX_BODY_BYTES (10 MiB)
ADMIN = {"username": "admin", "password": "correct-horse-battery"}
READER = {"username": "reader", "password": "reader-password-1"}


def maximal_estimate() -> dict[str, Any]:
    """The biggest estimate the server accepts: 100 x 1,000 = 100,000 configs, ~9.5 MB of samples, heavy templates."""
    heavy = ('{% for i in range(20000) %}{{ vars.a }}{% endfor %}{{ ("x" * 200000) | length }}'
             '{{ input | replace("sample", "example") }}')
    return {
        "document": {
            "name": "abuse",
            "sample_data": [{"id": f"s{i}", "input": f"sample {i} " + "lorem ipsum " * 40} for i in range(SAMPLES)],
            "pipeline_stages": [
                {"name": "first", "model": "m1", "prompt_template": heavy, "system_prompt": heavy},
                {"name": "second", "model": "m1", "prompt_template": heavy + "{{ previous }}"},
            ],
            "parameter_space": {"vars.a": list(range(100)), "vars.b": list(range(1000))},
        },
        "type": "grid",
    }


async def _abuse(url: str, reader_token: str) -> dict[str, Any]:
    latencies: list[float] = []
    async with httpx2.AsyncClient(base_url=url, timeout=120) as http:
        async def login(i: int) -> tuple[int, float]:
            started = time.perf_counter()
            answer = await http.post("/api/v1/auth/login", json={"username": f"intruder{i}", "password": "guess-123"})
            return answer.status_code, time.perf_counter() - started

        async def estimate() -> tuple[int, float, str]:
            started = time.perf_counter()
            answer = await http.post("/api/v1/experiments/estimate", json=maximal_estimate(),
                                     headers={"Authorization": f"Bearer {reader_token}"})
            return answer.status_code, time.perf_counter() - started, answer.text[:300]

        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(login(i)) for i in range(LOGINS)]
        estimate_task = asyncio.create_task(estimate())
        started = time.perf_counter()
        while not (estimate_task.done() and all(t.done() for t in tasks)) or len(latencies) < 40:
            sent = time.perf_counter()
            answer = await http.get("/health")
            latencies.append(time.perf_counter() - sent)
            assert answer.status_code == 200, answer.text
            await asyncio.sleep(0.02)
        abuse_s = time.perf_counter() - started
        logins = [t.result() for t in tasks]
        est_status, est_s, est_text = estimate_task.result()
    ordered = sorted(latencies)
    return {
        "health_samples": len(latencies),
        "health_p50_s": statistics.median(ordered),
        "health_p95_s": ordered[max(0, round(0.95 * len(ordered)) - 1)],
        "health_max_s": ordered[-1],
        "login_statuses": sorted({status for status, _ in logins}),
        "login_slowest_s": max(duration for _, duration in logins),
        "estimate_status": est_status,
        "estimate_s": est_s,
        "estimate_text": est_text,
        "abuse_s": abuse_s,
    }


def run_abuse() -> bool:
    """Start a server, set up a read-only user, abuse it while timing /health; print the figures."""
    with tempfile.TemporaryDirectory() as data_dir:
        log_path = Path(data_dir) / "server.log"
        server = start_server({"DATA_DIR": data_dir, "LOG_LEVEL": "WARNING", "DATABASE_URL": "", "REDIS_URL": ""},
                              log_path)
        try:
            admin = httpx2.post(server.url + "/api/v1/auth/setup", json=ADMIN, timeout=30).json()["access_token"]
            created = httpx2.post(server.url + "/api/v1/admin/users", json=READER | {"is_admin": False},
                                 headers={"Authorization": f"Bearer {admin}"}, timeout=30)
            assert created.status_code == 201, created.text
            # The estimate's stages name no endpoint: the first endpoint an admin adds becomes the default
            # (nothing is called; an estimate only counts and renders).
            endpoint = httpx2.post(server.url + "/api/v1/endpoints", json={"label": "nowhere", "url": "http://127.0.0.1:9/v1"},
                                  headers={"Authorization": f"Bearer {admin}"}, timeout=30)
            assert endpoint.status_code == 201, endpoint.text
            reader = httpx2.post(server.url + "/api/v1/auth/login", json=READER, timeout=30).json()["access_token"]
            results = asyncio.run(_abuse(server.url, reader))
        finally:
            server.stop()
    return report_abuse(results)


def report_abuse(results: dict[str, Any]) -> bool:
    """Print the figures; answer whether /health met its target and nothing answered a 5xx."""
    p95 = results["health_p95_s"]
    ok = p95 < HEALTH_P95_TARGET_S
    print(f"{'PASS' if ok else 'FAIL'}  /health p95 under abuse{'':<13} {p95 * 1000:8.1f} ms  target < "
          f"{HEALTH_P95_TARGET_S * 1000:.0f} ms (p50 {results['health_p50_s'] * 1000:.1f} ms, "
          f"max {results['health_max_s'] * 1000:.1f} ms, {results['health_samples']} samples over "
          f"{results['abuse_s']:.1f} s)")
    print(f"      {LOGINS} unauthenticated logins: statuses {results['login_statuses']}, "
          f"slowest {results['login_slowest_s']:.2f} s")
    print(f"      maximal estimate (100,000 configs x {SAMPLES:,} samples): {results['estimate_status']} "
          f"in {results['estimate_s']:.2f} s")
    healthy_answers = results["estimate_status"] == 200 and set(results["login_statuses"]) <= {401, 429}
    if not healthy_answers:
        print(f"FAIL  unexpected answers: estimate {results['estimate_text']!r}")
    return ok and healthy_answers


def main() -> int:
    """`python -m bench.abuse`: exit 1 when the target is missed."""
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    return 0 if run_abuse() else 1


if __name__ == "__main__":
    sys.exit(main())
