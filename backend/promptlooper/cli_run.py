"""`promptlooper run experiment.yaml`: config-as-code sweeps with a progress bar and a CI gate.

The command speaks REST to a server: the one given by --server, or an embedded one started on
loopback for the duration of the command (same code path either way).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx2
import yaml
from pydantic import SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from promptlooper.cli_reports import cases, junit_xml, markdown_summary, result_table

EXIT_OK, EXIT_BELOW, EXIT_ERROR = 0, 1, 2


class CliError(Exception):
    """A failure explained to the user."""


def load_document(path: Path, report: TextIO | None = None) -> dict[str, Any]:
    """Read the experiment YAML (or JSON) file; a promptfoo config is converted (its report goes to `report`)."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from exc
    from promptlooper.importers import ImportFailed
    from promptlooper.importers.promptfoo import convert_document, is_promptfoo_config

    if is_promptfoo_config(doc):
        try:
            imported = convert_document(doc, path)
        except ImportFailed as exc:
            raise CliError(str(exc)) from exc
        if report is not None:
            report.write(imported.report() + "\n")
        return imported.document
    if not isinstance(doc, dict):
        raise CliError(f"{path} must hold a mapping (the experiment document)")
    return doc


class Api:
    """A small REST client that turns error answers into CliError sentences."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.http = httpx2.Client(
            base_url=base_url.rstrip("/") + "/api/v1", timeout=60, headers={"Authorization": f"Bearer {api_key}"}
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the API; answer the JSON body."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx2.HTTPError as exc:
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


def _endpoint_body(endpoint: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in endpoint.items() if k != "api_key_env"}
    body.setdefault("label", "cli")
    env_name = endpoint.get("api_key_env")
    if env_name and not body.get("api_key") and os.environ.get(str(env_name)):
        body["api_key"] = os.environ[str(env_name)]
    return body


def _ensure_endpoint(api: Api, endpoint: dict[str, Any]) -> str:
    existing = _find(api, "/endpoints", "url", str(endpoint["url"]).rstrip("/"))
    return str((existing or api.call("POST", "/endpoints", json=_endpoint_body(endpoint)))["id"])


def _by_label(obj: dict[str, Any], ids: dict[str, str], where: str) -> None:
    """`endpoint: <label>` (the CLI's reference to an entry of `endpoints`) becomes `endpoint_id`."""
    if "endpoint" not in obj:
        return
    label = obj.pop("endpoint")
    if label not in ids:
        raise CliError(f"{where}: endpoint `{label}` is not listed under `endpoints` ({', '.join(ids) or 'none'})")
    obj["endpoint_id"] = ids[label]


def sync_experiment(api: Api, doc: dict[str, Any]) -> str:
    """Create or update the project, endpoints and experiment the document describes; answer its id.

    CLI-only keys: `project` (a name), `endpoint` (one endpoint every stage without one uses) and
    `endpoints` (a list; stages, linked choice values and scorer configs name one with `endpoint: <label>`).
    An endpoint is matched to an existing one by URL; `api_key_env` reads its key from the environment.
    """
    doc = json.loads(json.dumps(doc))  # a deep copy: the caller's document stays as it was
    project_name = doc.pop("project", None) or "default"
    endpoint = doc.pop("endpoint", None)
    listed = doc.pop("endpoints", None) or []
    project = _find(api, "/projects", "name", project_name) or api.call(
        "POST", "/projects", json={"name": project_name}
    )
    ids = {str(e.get("label")): _ensure_endpoint(api, e) for e in listed}
    for index, stage in enumerate(doc.get("pipeline_stages", [])):
        _by_label(stage, ids, f"pipeline_stages[{index}]")
    for key, values in (doc.get("parameter_space") or {}).items():
        for value in values if isinstance(values, list) else []:
            if isinstance(value, dict):
                _by_label(value, ids, f"parameter_space.{key}")
    for index, entry in enumerate(doc.get("scoring_config", [])):
        if isinstance(entry.get("config"), dict):
            _by_label(entry["config"], ids, f"scoring_config[{index}].config")
    if endpoint:
        endpoint_id = _ensure_endpoint(api, endpoint)
        for stage in doc.get("pipeline_stages", []):
            stage.setdefault("endpoint_id", endpoint_id)
    doc["project_id"] = project["id"]
    current = _find(api, "/experiments", "name", doc.get("name", ""), {"project_id": project["id"]})
    if current is None:
        return str(api.call("POST", "/experiments", json=doc)["id"])
    update = {k: v for k, v in doc.items() if k not in ("project_id",)}
    return str(api.call("PUT", f"/experiments/{current['id']}", json=update)["id"])


def _detail(progress: dict[str, Any]) -> str:
    eta = progress.get("eta_s")
    return (f"failed {progress.get('failed', 0)}  cached {progress.get('cached', 0)}  "
            f"tokens {progress.get('tokens_in', 0) + progress.get('tokens_out', 0)}  "
            f"${progress.get('cost_estimate', 0):.4f}  eta {'-' if eta is None else f'{eta:.0f}s'}")


def watch(api: Api, experiment_id: str, sweep_id: str, total: int, console: Console, label: str = "sweep",
          poll_s: float = 0.2) -> str:
    """Follow the sweep's events with a progress bar until it ends; answer the final status."""
    after = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
               TextColumn("{task.fields[detail]}"))
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(label, total=total, detail="")
        while True:
            page = api.call("GET", f"/experiments/{experiment_id}/events", params={"after": after, "limit": 1000})
            for event in page["items"]:
                if event.get("sweep_id") != sweep_id:
                    continue
                if event["type"] == "sweep.progress":
                    data = event["data"]
                    progress.update(task, completed=int(data.get("completed") or 0),
                                    total=int(data.get("total") or total), detail=_detail(data))
                elif event["type"] in ("experiment.completed", "experiment.paused"):
                    return "completed" if event["type"] == "experiment.completed" else "paused"
            after = page["next_after"]
            time.sleep(poll_s)


def table(items: list[dict[str, Any]]) -> str:
    """The leaderboard as plain text (the rich table rendered without colours)."""
    console = Console(width=200, no_color=True, force_terminal=False, record=True, file=io.StringIO())
    console.print(result_table(items))
    return console.export_text()


@contextmanager
def embedded_server(verbose: bool = False) -> Iterator[tuple[str, str]]:
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
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="info" if verbose else "warning",
                                           log_config=None))  # its logs go where cli.main sends them: stderr
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


@dataclass
class RunOptions:
    """The flags of `promptlooper run`."""

    sweep: str = "grid"
    server: str | None = None
    api_key: str | None = None
    fail_under: float | None = None
    output: Path | None = None
    junit: Path | None = None
    markdown: Path | None = None
    threshold: float = 0.5
    max_runs: int | None = None
    concurrency: int | None = None
    early_stopping: bool = False
    min_samples: int | None = None  # --early-stopping: samples every configuration runs on first (server default 4)
    eta: int | None = None  # --early-stopping: keep the best 1/eta of each rung (server default 3)
    verbose: bool = False


def _check(options: RunOptions) -> None:
    if not options.early_stopping and (options.min_samples is not None or options.eta is not None):
        raise CliError("--min-samples and --eta tune early stopping: add --early-stopping")
    if options.min_samples is not None and options.min_samples < 1:
        raise CliError("--min-samples must be at least 1")
    if options.eta is not None and options.eta < 2:
        raise CliError("--eta must be at least 2 (keep the best 1/eta of each rung)")
    if options.sweep not in ("grid", "random", "guided"):
        raise CliError(f"--sweep {options.sweep}: use grid, random or guided")
    if options.server and not options.api_key:
        raise CliError("--server needs --api-key (an admin API key pl_...)")


def run_command(path: Path, options: RunOptions, out: TextIO = sys.stderr, stdout: TextIO = sys.stdout) -> int:
    """Create/update the experiment, sweep it, print the leaderboard, write the reports, gate on the best score."""
    _check(options)
    doc = load_document(path, report=out)
    err = Console(file=out, stderr=out is sys.stderr, highlight=False)
    started_at = time.monotonic()
    server = _given(options.server, options.api_key or "") if options.server else embedded_server(options.verbose)
    with server as (url, key):
        api = Api(url, key)
        experiment_id = sync_experiment(api, doc)
        body: dict[str, Any] = {"type": options.sweep}
        if options.max_runs:
            body["max_runs"] = options.max_runs
        if options.concurrency:
            body["concurrency"] = options.concurrency
        if options.early_stopping:
            body["early_stopping"] = {k: v for k, v in (("min_samples", options.min_samples), ("eta", options.eta))
                                      if v is not None}
        started = api.call("POST", f"/experiments/{experiment_id}/sweep", json=body)
        status = watch(api, experiment_id, str(started["sweep_id"]), int(started["total_runs"]), err,
                       label=f"{options.sweep} sweep")
        board = api.call("GET", f"/experiments/{experiment_id}/leaderboard", params={"limit": 10})["items"]
        experiment = api.call("GET", f"/experiments/{experiment_id}")
        best_run = api.call("GET", f"/runs/{board[0]['run_id']}") if board else None
    duration_s = time.monotonic() - started_at
    terminal = stdout.isatty()
    Console(file=stdout, width=None if terminal else 200, highlight=False).print(
        result_table(board) if board else "No completed runs.")
    best = board[0]["weighted_score"] if board else None
    all_cases = cases(best_run, experiment["scoring_config"], options.threshold) if best_run else []
    name = str(experiment["name"])
    if options.output:
        options.output.write_text(json.dumps(
            {"experiment_id": experiment_id, "sweep_id": started["sweep_id"], "status": status, "best_score": best,
             "leaderboard": board, "best_run": best_run}, indent=2))
    if options.junit:
        options.junit.write_text(junit_xml(name, best_run or {}, all_cases, duration_s))
    if options.markdown:
        options.markdown.write_text(markdown_summary(name, status, board, all_cases, options.fail_under,
                                                     int(started["total_runs"])))
    if options.fail_under is not None and (best is None or best < options.fail_under):
        out.write(f"FAIL: best weighted score {best} is under {options.fail_under}\n")
        return EXIT_BELOW
    out.write(f"Best weighted score: {best}\n")
    return EXIT_OK


@contextmanager
def _given(server: str, api_key: str) -> Iterator[tuple[str, str]]:
    yield server, api_key
