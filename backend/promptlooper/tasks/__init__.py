"""Celery tasks: thin wrappers that take IDs and call the same services as every other entry point."""

from __future__ import annotations

from celery import Celery

from promptlooper.config import Settings
from promptlooper.tasks.runs import register_run_tasks


def register_tasks(app: Celery, settings: Settings) -> None:
    """Register every task on the app."""
    register_run_tasks(app, settings)
