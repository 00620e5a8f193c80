"""Secret values inside documents: webhook-scorer and webhook headers, Fernet-encrypted at rest.

Stored as `fernet:<token>` (`engine.scorers.webhook.ENCRYPTED_PREFIX`), shown as `MASK` ("***").
Writing `MASK` back (what a client that read the document sends) keeps the stored value; a scorer
entry resent without `headers` keeps its stored headers; a header left out of a resent `headers`
is removed.
"""

from __future__ import annotations

import copy
from typing import Any

from cryptography.fernet import InvalidToken

from promptlooper.context import AppContext
from promptlooper.engine.scorers.webhook import ENCRYPTED_PREFIX, REVEAL_KEY

MASK = "***"
SECRET_HEADER_SCORERS = frozenset({"webhook"})


def seal(ctx: AppContext, value: str) -> str:
    """Encrypt one value for storage (already sealed values are kept)."""
    if value.startswith(ENCRYPTED_PREFIX):
        return value
    return ENCRYPTED_PREFIX + ctx.settings.secrets.fernet.encrypt(value.encode()).decode()


def reveal(ctx: AppContext, value: str) -> str | None:
    """The clear text of a stored value (a legacy clear value is itself); None when it cannot be decrypted."""
    if not value.startswith(ENCRYPTED_PREFIX):
        return value
    try:
        return ctx.settings.secrets.fernet.decrypt(value[len(ENCRYPTED_PREFIX):].encode()).decode()
    except (InvalidToken, ValueError):
        return None


def reveal_extras(ctx: AppContext) -> dict[str, Any]:
    """The `ScoreContext.extras` entry the webhook scorer decrypts its headers with."""
    return {REVEAL_KEY: lambda value: reveal(ctx, value)}


def seal_headers(ctx: AppContext, new: dict[str, str], old: dict[str, Any] | None = None) -> dict[str, str]:
    """Headers for storage: MASK keeps the old value, an unchanged value keeps its old ciphertext."""
    old = old or {}
    sealed: dict[str, str] = {}
    for name, value in new.items():
        previous = old.get(name)
        if value == MASK:
            if isinstance(previous, str):
                sealed[name] = seal(ctx, previous)
            continue  # a mask for a header that never existed: nothing to keep
        if isinstance(previous, str) and reveal(ctx, previous) == value:
            sealed[name] = seal(ctx, previous)
        else:
            sealed[name] = seal(ctx, value)
    return sealed


def mask_headers(headers: dict[str, Any]) -> dict[str, str]:
    """Header names with masked values."""
    return dict.fromkeys(headers, MASK)


def _entry_key(entry: dict[str, Any]) -> str:
    return str(entry.get("name") or entry.get("scorer"))


def seal_scoring_config(ctx: AppContext, new: list[dict[str, Any]],
                        old: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """A scoring_config for storage: every secret header value encrypted (see the module doc)."""
    previous = {_entry_key(e): e for e in old or [] if e.get("scorer") in SECRET_HEADER_SCORERS}
    sealed: list[dict[str, Any]] = []
    for entry in new:
        if entry.get("scorer") not in SECRET_HEADER_SCORERS or not isinstance(entry.get("config"), dict):
            sealed.append(entry)
            continue
        entry = copy.deepcopy(entry)
        old_headers = (previous.get(_entry_key(entry)) or {}).get("config", {}).get("headers") or {}
        if "headers" not in entry["config"]:
            if old_headers:
                entry["config"]["headers"] = dict(old_headers)
        else:
            entry["config"]["headers"] = seal_headers(ctx, entry["config"]["headers"] or {}, old_headers)
        sealed.append(entry)
    return sealed


def mask_scoring_config(scoring_config: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A scoring_config for the wire: secret header values replaced by MASK."""
    masked: list[dict[str, Any]] = []
    for entry in scoring_config:
        config = entry.get("config")
        if entry.get("scorer") in SECRET_HEADER_SCORERS and isinstance(config, dict) and config.get("headers"):
            entry = {**entry, "config": {**config, "headers": mask_headers(config["headers"])}}
        masked.append(entry)
    return masked
