"""`python -m bench.webhooks`: what delivering webhooks costs, in single-container mode (SQLite).

1. Overhead on a sweep: the same 500-call sweep shape (25 samples x 20 configurations, loopback
   endpoint at zero latency, concurrency 16) with no webhook and with five `*` webhooks.
2. Latency: from an event's timestamp to its arrival at a loopback receiver (median and max).
3. Throughput: 1,000 `human_needed` events published at once to one webhook; seconds until the
   receiver has every one (events -> outbox in the event transaction -> sender -> POST).
Targets: overhead under 10% (medians of 4 interleaved rounds), median latency under 500 ms (the
receiver shares the process and the sweep is running), 1,000 deliveries under 20 s.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench.run import ROOT, experiment_doc, start_mock, sweep

sys.path.insert(0, str(ROOT / "backend"))

from promptlooper.config import Settings
from promptlooper.main import create_app
from tests.support.webhook_receiver import WebhookReceiver

ROUNDS = 4


def _experiment(client: TestClient, project_id: str, endpoint_id: str, tag: str) -> str:
    doc = experiment_doc(project_id, endpoint_id, samples=25, temperatures=5)
    doc["name"] = f"webhooks-{tag}"
    doc["pipeline_stages"][0]["prompt_template"] = f"[{tag}] Summarize: {{{{ input }}}}"
    doc["parameter_space"]["prompt_template"] = [f"[{tag}] Summarize: {{{{ input }}}}",
                                                 f"[{tag}] TL;DR: {{{{ input }}}}"]
    response = client.post("/api/v1/experiments", json=doc)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def run() -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), database_url=None, redis_url=None,  # type: ignore[call-arg]
                            mcp_enabled=False, max_concurrent_runs=16, log_level="WARNING")
        mock, url = start_mock(0.0)
        try:
            with TestClient(create_app(settings)) as client, WebhookReceiver() as receiver:
                token = client.post("/api/v1/auth/setup", json={"username": "bench", "password": "bench-password"})
                client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
                project_id = client.post("/api/v1/projects", json={"name": "webhooks"}).json()["id"]
                endpoint_id = client.post("/api/v1/endpoints", json={"label": "mock", "url": url,
                                                                     "max_concurrency": 64}).json()["id"]
                sweep(client, _experiment(client, project_id, endpoint_id, "warm"), 16)  # imports, pools
                def timed(tag: str) -> float:
                    return sweep(client, _experiment(client, project_id, endpoint_id, tag), 16)

                bare: list[float] = []
                hooked: list[float] = []
                for i in range(ROUNDS):  # interleaved, so a busy moment of the machine hits both sides
                    for old in client.get("/api/v1/webhooks").json()["items"]:
                        client.delete(f"/api/v1/webhooks/{old['id']}")
                    bare.append(timed(f"bare{i}"))
                    for _ in range(5):
                        hook = client.post("/api/v1/webhooks", json={"event_type": "*", "url": receiver.url})
                        assert hook.status_code == 201, hook.text
                    hooked.append(timed(f"hooked{i}"))
                results["sweep_no_webhook_s"] = statistics.median(bare)
                results["sweep_5_webhooks_s"] = statistics.median(hooked)
                results["overhead_pct"] = (statistics.median(hooked) / statistics.median(bare) - 1) * 100
                receiver.wait_for(lambda seen: sum(r.type == "experiment.completed" for r in seen) >= 5 * ROUNDS, 60)
                latencies = [r.at - _ts(r.json["created_at"]) for r in receiver.requests]
                results["deliveries_during_sweeps"] = len(latencies)
                results["latency_median_ms"] = statistics.median(latencies) * 1000
                results["latency_max_ms"] = max(latencies) * 1000
                results["latency_p90_ms"] = statistics.quantiles(latencies, n=10)[-1] * 1000

                hooks = client.get("/api/v1/webhooks").json()["items"]
                for hook in hooks[1:]:
                    client.delete(f"/api/v1/webhooks/{hook['id']}")
                experiment_id = uuid.UUID(_experiment(client, project_id, endpoint_id, "burst"))
                before = len(receiver.requests)
                ctx: Any = client.app.state.ctx  # type: ignore[attr-defined]
                started = time.time()

                async def burst() -> None:
                    for i in range(1000):
                        ctx.runtime.publish("human_needed", experiment_id=experiment_id, reason=f"burst {i}")

                client.portal.call(burst)  # type: ignore[union-attr]
                receiver.wait_for(lambda seen: len(seen) - before >= 1000, 120)
                results["burst_1000_s"] = receiver.requests[-1].at - started
        finally:
            mock.terminate()
    return results


def main() -> int:
    results = run()
    width = max(map(len, results))
    for name, value in results.items():
        print(f"{name:<{width}}  {value:10.2f}")
    ok = results["overhead_pct"] < 10 and results["latency_median_ms"] < 500 and results["burst_1000_s"] < 20
    print("webhooks:", "OK" if ok else "MISSED A TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
