"""`promptlooper run experiment.yaml`: config-as-code sweeps with a progress bar and a CI gate.

The command speaks REST to a server: the one given by --server, or an embedded one started on
loopback for the duration of the command (same code path either way).
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import httpx
import yaml
from pydantic import SecretStr

EXIT_OK, EXIT_BELOW, EXIT_ERROR = 0, 1, 2


class CliError(Exception):
    """A failure explained to the user."""


def load_document(path: Path) -> dict[str, Any]:
    """Read the experiment YAML (or JSON) file."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise CliError(f"{path} must hold a mapping (the experiment document)")
    return doc


class Api:
    """A small REST client that turns error answers into CliError sentences."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1", timeout=60, headers={"Authorization": f"Bearer {api_key}"}
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the API; answer the JSON body."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the server: {exc}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text
            raise CliError(f"{method} {path} answered {response.status_code}: {json.dumps(detail)}")
        return response.json() if response.content else None


def _find(api: Api, path: str, key: str, value: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
    page = api.call("GET", path, params={"limit": 500} | (params or {}))
    return next((item for item in page["items"] if item.get(key) == value), None)


def sync_experiment(api: Api, doc: dict[str, Any]) -> str:
    """Create or update the project, endpoint and experiment the document describes; answer its id."""
    doc = dict(doc)
    project_name = doc.pop("project", None) or "default"
    endpoint = doc.pop("endpoint", None)
    project = _find(api, "/projects", "name", project_name) or api.call(
        "POST", "/projects", json={"name": project_name}
    )
    if endpoint:
        existing = _find(api, "/endpoints", "url", str(endpoint["url"]).rstrip("/"))
        endpoint_id = (
            existing or api.call("POST", "/endpoints", json={"label": endpoint.get("label", "cli"), **endpoint})
        )["id"]
        for stage in doc.get("pipeline_stages", []):
            stage.setdefault("endpoint_id", endpoint_id)
    doc["project_id"] = project["id"]
    current = _find(api, "/experiments", "name", doc.get("name", ""), {"project_id": project["id"]})
    if current is None:
        return str(api.call("POST", "/experiments", json=doc)["id"])
    update = {k: v for k, v in doc.items() if k not in ("project_id",)}
    return str(api.call("PUT", f"/experiments/{current['id']}", json=update)["id"])


def _bar(progress: dict[str, Any], width: int = 30) -> str:
    total = max(int(progress.get("total") or 0), 1)
    done = int(progress.get("completed") or 0)
    filled = int(width * done / total)
    eta = progress.get("eta_s")
    return (
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} runs  "
        f"failed {progress.get('failed', 0)}  cached {progress.get('cached', 0)}  "
        f"tokens {progress.get('tokens_in', 0) + progress.get('tokens_out', 0)}  "
        f"${progress.get('cost_estimate', 0):.4f}  eta {'-' if eta is None else f'{eta:.0f}s'}   "
    )


def watch(api: Api, experiment_id: str, sweep_id: str, out: TextIO, poll_s: float = 0.2) -> str:
    """Follow the sweep's events with a progress bar until it ends; answer the final status."""
    after = 0
    while True:
        page = api.call("GET", f"/experiments/{experiment_id}/events", params={"after": after, "limit": 1000})
        for event in page["items"]:
            if event.get("sweep_id") != sweep_id:
                continue
            if event["type"] == "sweep.progress":
                out.write(_bar(event["data"]))
                out.flush()
            elif event["type"] in ("experiment.completed", "experiment.paused"):
                out.write("\n")
                return "completed" if event["type"] == "experiment.completed" else "paused"
        after = page["next_after"]
        time.sleep(poll_s)


def table(items: list[dict[str, Any]]) -> str:
    """The leaderboard as a plain-text table."""
    names = sorted({n for item in items for n in item["scores"]})
    header = ["rank", "score", *names, "model", "params", "run"]
    rows = [
        [
            str(i["rank"]),
            f"{i['weighted_score']:.4f}" if i["weighted_score"] is not None else "-",
            *[f"{i['scores'].get(n, 0):.3f}" for n in names],
            ",".join(str(s.get("model")) for s in i["config"].get("stages", [])),
            json.dumps(i["config"]["stages"][-1].get("params", {}), sort_keys=True)
            if i["config"].get("stages")
            else "",
            i["run_id"][:8],
        ]
        for i in items
    ]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [header, *rows])


@contextmanager
def embedded_server() -> Iterator[tuple[str, str]]:
    """Serve the app on a free loopback port in this process; answer its URL and a one-off admin key."""
    import socket

    import uvicorn

    from promptlooper.config import Settings
    from promptlooper.main import create_app

    key = "cli-" + secrets.token_urlsafe(24)
    settings = Settings().model_copy(update={"api_key": SecretStr(key), "mcp_enabled": False})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise CliError("the embedded server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def run_command(
    path: Path,
    sweep: str,
    server: str | None,
    api_key: str | None,
    fail_under: float | None,
    output: Path | None,
    max_runs: int | None,
    concurrency: int | None,
    out: TextIO = sys.stderr,
) -> int:
    """Create/update the experiment, sweep it, print the leaderboard and gate on the best score."""
    doc = load_document(path)
    if server and not api_key:
        raise CliError("--server needs --api-key (an admin API key pl_...)")
    with embedded_server() if not server else _given(server, api_key or "") as (url, key):
        api = Api(url, key)
        experiment_id = sync_experiment(api, doc)
        body: dict[str, Any] = {"type": sweep}
        if max_runs:
            body["max_runs"] = max_runs
        if concurrency:
            body["concurrency"] = concurrency
        started = api.call("POST", f"/experiments/{experiment_id}/sweep", json=body)
        out.write(f"Sweep {started['sweep_id']}: {started['total_runs']} runs ({sweep})\n")
        status = watch(api, experiment_id, str(started["sweep_id"]), out)
        board = api.call("GET", f"/experiments/{experiment_id}/leaderboard", params={"limit": 10})["items"]
        print(table(board) if board else "No completed runs.")
        best = board[0]["weighted_score"] if board else None
        if output:
            output.write_text(
                json.dumps(
                    {
                        "experiment_id": experiment_id,
                        "sweep_id": started["sweep_id"],
                        "status": status,
                        "best_score": best,
                        "leaderboard": board,
                    },
                    indent=2,
                )
            )
    if fail_under is not None and (best is None or best < fail_under):
        out.write(f"FAIL: best weighted score {best} is under {fail_under}\n")
        return EXIT_BELOW
    out.write(f"Best weighted score: {best}\n")
    return EXIT_OK


@contextmanager
def _given(server: str, api_key: str) -> Iterator[tuple[str, str]]:
    yield server, api_key
