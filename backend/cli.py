"""The `promptlooper` command: serve, migrate (and, with their features, run, worker, mcp)."""

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
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), ws="websockets")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
