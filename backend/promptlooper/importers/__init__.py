"""Importers: other tools' configs turned into PromptLooper experiment documents.

Each importer is a module with a `convert(path) -> Imported` function; `cli.py` wires it to
`promptlooper import <tool> FILE` (and `promptlooper run` detects the tool's config by its keys).
"""

from __future__ import annotations

from .base import Imported, ImportFailed, render_yaml

__all__ = ["ImportFailed", "Imported", "render_yaml"]
