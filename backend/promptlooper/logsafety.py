"""No credential in any log line: query-string tokens and URL user:password are redacted.

`RedactFilter` rewrites a record's message and arguments before any handler formats it. It runs in
the log record factory (every record of the process) and on the loggers that print URLs: uvicorn's
access and error logs (WebSocket lines are logged by `uvicorn.error`), httpx2/httpcore2
(`HTTP Request: POST <url>`) and PromptLooper's own.
"""

from __future__ import annotations

import logging
import re
from typing import Any

SECRET_PARAMS = ("token", "access_token", "api_key", "apikey", "key", "secret", "password", "jwt")
_QUERY = re.compile(r"([?&](?:" + "|".join(SECRET_PARAMS) + r")=)[^&\s\"'#]*", re.IGNORECASE)
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@\"']+@", re.IGNORECASE)
REDACTED = "***"
LOGGERS = ("uvicorn.access", "uvicorn.error", "uvicorn", "httpx2", "httpcore2", "promptlooper", "celery", "")


def redact(text: str) -> str:
    """The text with secret query parameters and URL credentials replaced by ***."""
    if "=" in text:
        text = _QUERY.sub(r"\1" + REDACTED, text)
    if "@" in text:
        text = _USERINFO.sub(r"\1" + REDACTED + "@", text)
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes | bytearray):
        return redact(value.decode("utf-8", "replace"))
    if value is None or isinstance(value, int | float | tuple | list | dict):
        return value
    text = str(value)  # e.g. httpx2 logs httpx2.URL objects
    cleaned = redact(text)
    return cleaned if cleaned != text else value


class RedactFilter(logging.Filter):
    """Redacts credentials in a record's message and arguments (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return True


_FILTER = RedactFilter()
_installed_factory: list[Any] = []


def _redacting_factory(previous: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = previous(*args, **kwargs)
        _FILTER.filter(record)
        return record

    return factory


def install_log_redaction() -> None:
    """Redact every log record of this process (idempotent).

    The record factory covers every logger and handler, including ones configured later (uvicorn's
    dictConfig, Celery taking over the root logger); the filters on the loggers that print URLs and
    on their handlers are a second line for records made by a replaced factory.
    """
    current = logging.getLogRecordFactory()
    if current not in _installed_factory:
        factory = _redacting_factory(current)
        _installed_factory.append(factory)
        logging.setLogRecordFactory(factory)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
