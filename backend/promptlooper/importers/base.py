"""What every importer answers: the document, what was left out and what changed meaning."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml


class ImportFailed(Exception):
    """A config that cannot be imported at all (unreadable, or nothing to run)."""


@dataclass
class Imported:
    """An experiment document (the CLI's YAML form) and the import report."""

    source: str
    document: dict[str, Any]
    left_out: list[str] = field(default_factory=list)
    """Everything of the source that is NOT in the document, each with where it was and why."""
    changed: list[str] = field(default_factory=list)
    """Things imported with a different meaning or an approximation, each saying how."""
    summary: str = ""
    """One line: what runs (e.g. `2 prompts x 3 providers x 4 tests = 24 LLM calls`)."""
    labels: list[str] = field(default_factory=list)
    """Lines naming the configurations (prompt and provider labels), for the output's header."""

    def report(self) -> str:
        """The one import report (stderr and the output's header comment)."""
        lines = [f"Imported {self.source}: {self.summary}"]
        lines += self.labels
        if self.left_out:
            lines.append(f"NOT imported ({len(self.left_out)}), left out of the experiment:")
            lines += [f"  - {item}" for item in self.left_out]
        else:
            lines.append("Nothing was left out.")
        if self.changed:
            lines.append(f"Imported with a change of meaning ({len(self.changed)}):")
            lines += [f"  - {item}" for item in self.changed]
        return "\n".join(lines)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (prompts, python code) as `|` blocks, so the file reads like the source."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    block = "\n" in value and not any(line != line.rstrip() for line in value.splitlines())
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if block else None)


_Dumper.add_representer(str, _text)


def render_yaml(imported: Imported) -> str:
    """The document as YAML, headed by the import report as comments."""
    header = "\n".join(f"# {line}".rstrip() for line in imported.report().splitlines())
    body = yaml.dump(imported.document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return f"{header}\n{body}"
