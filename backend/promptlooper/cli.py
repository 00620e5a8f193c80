"""The `promptlooper` command: serve, worker, migrate, run, import, mcp, openapi."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from promptlooper.config import ConfigError, Settings


def serve_settings(args: argparse.Namespace) -> Settings:
    """Settings with --host/--port applied, so the API and the MCP server bind the same address."""
    overrides = {name: value for name, value in (("host", args.host), ("port", args.port)) if value}
    return Settings(**overrides)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from promptlooper.main import create_app

    settings = serve_settings(args)
    host, port = settings.host, settings.port
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"promptlooper: {exc}", file=sys.stderr)
        return 2
    print(f"PromptLooper serving on http://{host}:{port} (database: "
          f"{'PostgreSQL' if settings.production else settings.sqlalchemy_url.split('///')[-1]})", flush=True)
    # proxy_headers off: uvicorn would trust X-Forwarded-For from loopback; TRUSTED_PROXIES decides instead.
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), ws="websockets", proxy_headers=False)
    return 0


def _migrate(_: argparse.Namespace) -> int:
    from promptlooper.db import create_engine, run_migrations

    async def _go() -> None:
        engine = create_engine(Settings())
        try:
            await run_migrations(engine)
        finally:
            await engine.dispose()

    asyncio.run(_go())
    print("Database is at the latest schema.")
    return 0


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from promptlooper.cli_run import EXIT_ERROR, CliError, RunOptions, run_command

    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    options = RunOptions(sweep=args.sweep, server=args.server, api_key=args.api_key, fail_under=args.fail_under,
                         output=path(args.output), junit=path(args.junit), markdown=path(args.markdown),
                         threshold=args.threshold, max_runs=args.max_runs, concurrency=args.concurrency,
                         early_stopping=args.early_stopping, min_samples=args.min_samples, eta=args.eta,
                         verbose=args.verbose)
    try:
        return run_command(Path(args.file), options)
    except (CliError, ConfigError) as exc:
        print(f"promptlooper run: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from promptlooper.importers import ImportFailed, render_yaml
    from promptlooper.importers.promptfoo import convert

    try:
        imported = convert(Path(args.file))
    except ImportFailed as exc:
        print(f"promptlooper import: {exc}", file=sys.stderr)
        return 2
    text = render_yaml(imported)
    print(imported.report(), file=sys.stderr)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Wrote {args.output}; run it with `promptlooper run {args.output}`.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _mcp(args: argparse.Namespace) -> int:
    if args.stdio:
        from promptlooper.mcp.stdio import run_stdio

        return int(run_stdio())
    from promptlooper.mcp.http import run_http

    return int(run_http(args.host, args.port))


def _worker(args: argparse.Namespace) -> int:
    settings = Settings()
    if not settings.redis_url:
        print("promptlooper worker: REDIS_URL is not set. Workers take runs from Redis in production mode; "
              "without it, `promptlooper serve` runs sweeps itself.", file=sys.stderr)
        return 2
    try:
        _ = settings.secrets
    except ConfigError as exc:
        print(f"promptlooper worker: {exc}", file=sys.stderr)
        return 2
    from promptlooper.worker import run_worker

    return run_worker(settings, concurrency=args.concurrency, pool=args.pool, loglevel=args.loglevel)


def _openapi(args: argparse.Namespace) -> int:
    import json

    from promptlooper.main import create_app

    schema = create_app(Settings()).openapi()
    text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="promptlooper", description="The LLM pipeline tuning workbench.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API (and dashboard) over HTTP")
    serve.add_argument("--host", default=None, help="bind address (default: HOST or 0.0.0.0)")
    serve.add_argument("--port", type=int, default=None, help="port (default: PORT or 8400)")
    serve.set_defaults(func=_serve)
    migrate = sub.add_parser("migrate", help="apply database migrations and exit")
    migrate.set_defaults(func=_migrate)
    run = sub.add_parser("run", help="create/update an experiment from YAML, sweep it, gate on the best score")
    run.add_argument("file", help="experiment document (YAML or JSON)")
    run.add_argument("--sweep", choices=["grid", "random", "guided"], default="grid",
                     help="grid: every configuration; random: --max-runs drawn ones, 20 by default; "
                          "guided: Bayesian search (Optuna TPE), --max-runs configurations, 30 by default")
    run.add_argument("--max-runs", type=int, help="cap the number of runs")
    run.add_argument("--early-stopping", action="store_true",
                     help="successive halving over samples: every configuration starts on --min-samples samples, "
                          "the best 1/--eta go on with eta times more, the rest are pruned")
    run.add_argument("--min-samples", type=int, help="with --early-stopping: samples every configuration runs on "
                                                     "first (default 4)")
    run.add_argument("--eta", type=int, help="with --early-stopping: keep the best 1/eta of each rung (default 3)")
    run.add_argument("--server", help="URL of a running PromptLooper (default: an embedded server)")
    run.add_argument("--api-key", help="admin API key for --server")
    run.add_argument("--fail-under", type=float, help="exit 1 when the best weighted score is below this")
    run.add_argument("--output", help="write results JSON here")
    run.add_argument("--junit", help="write JUnit XML here: one test case per sample per scorer of the best run")
    run.add_argument("--markdown", help="write a markdown summary here (e.g. for a pull-request comment)")
    run.add_argument("--threshold", type=float, default=0.5,
                     help="a JUnit case fails under this value, unless its scorer sets `threshold` (default 0.5)")
    run.add_argument("--concurrency", type=int, help="LLM calls in flight")
    run.add_argument("-v", "--verbose", action="store_true", help="show library INFO logs (or LOG_LEVEL=debug)")
    run.set_defaults(func=_run)
    imp = sub.add_parser("import", help="convert another tool's config into a PromptLooper experiment (YAML)")
    imp.add_argument("tool", choices=["promptfoo"], help="the tool the config comes from")
    imp.add_argument("file", help="the config file, e.g. promptfooconfig.yaml")
    imp.add_argument("-o", "--output", help="write the experiment here (default: stdout)")
    imp.add_argument("-v", "--verbose", action="store_true", help="show library INFO logs")
    imp.set_defaults(func=_import)
    mcp = sub.add_parser("mcp", help="serve MCP: --stdio for agents that spawn it, else HTTP on MCP_PORT")
    mcp.add_argument("--stdio", action="store_true",
                     help="speak MCP on stdin/stdout (key: PROMPTLOOPER_API_KEY or API_KEY)")
    mcp.add_argument("--host", default=None, help="bind address (default: HOST)")
    mcp.add_argument("--port", type=int, default=None, help="port (default: MCP_PORT or 8401)")
    mcp.set_defaults(func=_mcp)
    worker = sub.add_parser("worker", help="execute runs from Redis (production mode: DATABASE_URL and REDIS_URL)")
    worker.add_argument("--concurrency", type=int, default=None,
                        help="runs executed at once (default: WORKER_CONCURRENCY or 16)")
    worker.add_argument("--pool", choices=["threads", "prefork", "solo"], default=None,
                        help="Celery pool (default: WORKER_POOL or threads; each process runs the async engine)")
    worker.add_argument("--loglevel", default=None, help="log level (default: LOG_LEVEL)")
    worker.set_defaults(func=_worker)
    openapi = sub.add_parser("openapi", help="print the OpenAPI document (the dashboard's client is generated from it)")
    openapi.add_argument("--output", help="write it to this file instead of stdout")
    openapi.set_defaults(func=_openapi)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    configure_logging(args.command, bool(getattr(args, "verbose", False)))
    return int(args.func(args))


QUIET_COMMANDS = ("run", "import")
LIBRARY_LOGGERS = ("alembic", "httpx2", "httpcore2", "uvicorn", "uvicorn.error", "uvicorn.access", "promptlooper")


def configure_logging(command: str, verbose: bool) -> None:
    """INFO logs for servers and workers; `run` and `import` show warnings only, unless --verbose or
    LOG_LEVEL=debug, so the progress bar and the table are all a terminal shows."""
    quiet = command in QUIET_COMMANDS and not verbose and os.environ.get("LOG_LEVEL", "").lower() != "debug"
    level = logging.WARNING if quiet else logging.INFO
    if os.environ.get("LOG_LEVEL", "").lower() == "debug":
        level = logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from promptlooper.logsafety import install_log_redaction

    install_log_redaction()
    if quiet:
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
