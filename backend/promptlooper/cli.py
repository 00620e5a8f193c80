"""The `promptlooper` command: serve, worker, migrate, run, mcp, openapi."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from promptlooper.config import ConfigError, Settings


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from promptlooper.main import create_app

    settings = Settings()
    host = args.host or settings.host
    port = args.port or settings.port
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

    from promptlooper.cli_run import EXIT_ERROR, CliError, run_command

    try:
        return run_command(Path(args.file), args.sweep, args.server, args.api_key, args.fail_under,
                           Path(args.output) if args.output else None, args.max_runs, args.concurrency)
    except (CliError, ConfigError) as exc:
        print(f"promptlooper run: {exc}", file=sys.stderr)
        return EXIT_ERROR


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
    run.add_argument("--sweep", choices=["grid", "random"], default="grid")
    run.add_argument("--server", help="URL of a running PromptLooper (default: an embedded server)")
    run.add_argument("--api-key", help="admin API key for --server")
    run.add_argument("--fail-under", type=float, help="exit 1 when the best weighted score is below this")
    run.add_argument("--output", help="write results JSON here")
    run.add_argument("--max-runs", type=int, help="cap the number of runs")
    run.add_argument("--concurrency", type=int, help="LLM calls in flight")
    run.set_defaults(func=_run)
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
