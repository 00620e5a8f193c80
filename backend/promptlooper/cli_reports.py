"""What `promptlooper run` writes for people and CI: the result table, JUnit XML and a markdown summary."""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.table import Table

MODEL_WIDTH = 32
SCORE_COLUMNS = 6  # the table shows at most this many scorers; the rest are summarised
_WEIGHTS_SUFFIX = re.compile(r"\.(gguf|bin|safetensors|ggml|pt|pth)$", re.IGNORECASE)


def short_model(model: Any, width: int = MODEL_WIDTH) -> str:
    """A model id fit for a table cell: a file path (llama.cpp reports one) becomes its file name
    without the weights extension; anything still longer than `width` keeps its start and end."""
    text = str(model)
    if "\\" in text or ("/" in text and (text.startswith(("/", "~", ".")) or _WEIGHTS_SUFFIX.search(text))):
        text = re.split(r"[\\/]", text)[-1]
    text = _WEIGHTS_SUFFIX.sub("", text)
    if len(text) <= width:
        return text
    head = (width - 1) * 2 // 3
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def _params(config: dict[str, Any]) -> str:
    stages = config.get("stages") or []
    if not stages:
        return ""
    params = stages[-1].get("params") or {}
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(params.items()))


def _prompt(config: dict[str, Any], width: int = 28) -> str:
    stages = config.get("stages") or []
    if not stages:
        return ""
    text = " ".join(str(stages[-1].get("prompt_template") or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def result_table(items: list[dict[str, Any]]) -> Table:
    """The leaderboard as a rich table (model ids shortened, at most SCORE_COLUMNS scorer columns)."""
    names = sorted({n for item in items for n in item["scores"]})
    shown, hidden = names[:SCORE_COLUMNS], names[SCORE_COLUMNS:]
    table = Table(title="Leaderboard", title_justify="left")
    table.add_column("rank", justify="right")
    table.add_column("score", justify="right")
    for name in shown:
        table.add_column(name if len(name) <= 24 else name[:23] + "…", justify="right")
    if hidden:
        table.add_column(f"+{len(hidden)} scorers (mean)", justify="right")
    prompts = {_prompt(item["config"]) for item in items}
    table.add_column("model")
    if len(prompts) > 1:
        table.add_column("prompt")
    table.add_column("params")
    table.add_column("run")
    for item in items:
        score = item.get("weighted_score")
        row = [str(item["rank"]), "-" if score is None else f"{score:.4f}"]
        row += [f"{item['scores'][n]:.3f}" if n in item["scores"] else "-" for n in shown]
        if hidden:
            values = [item["scores"][n] for n in hidden if n in item["scores"]]
            row.append(f"{sum(values) / len(values):.3f}" if values else "-")
        models = ", ".join(short_model(s.get("model")) for s in item["config"].get("stages", []))
        row.append(models)
        if len(prompts) > 1:
            row.append(_prompt(item["config"]))
        row += [_params(item["config"]), str(item["run_id"])[:8]]
        table.add_row(*row)
    return table


@dataclass
class Case:
    """One JUnit test case: one sample under one scorer of the best configuration."""

    scorer: str
    sample: str
    value: float | None
    threshold: float
    reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """At or above the threshold."""
        return self.value is not None and self.value >= self.threshold


def cases(run: dict[str, Any], scoring_config: list[dict[str, Any]], default_threshold: float) -> list[Case]:
    """Every (scorer, sample) of a run's score details, with the threshold that applies to it.

    A scorer entry's own `threshold` wins over `default_threshold` (the CLI's --threshold).
    """
    thresholds = {str(e.get("name") or e.get("scorer")): e.get("threshold") for e in scoring_config}
    out: list[Case] = []
    for detail in run.get("score_details") or []:
        name = str(detail["name"])
        if name not in thresholds:
            continue  # e.g. a human rating: not part of the configured, computed scorers
        threshold = thresholds[name]
        per_sample = (detail.get("metadata") or {}).get("per_sample") or {}
        details = (detail.get("metadata") or {}).get("details") or {}
        for sample_id, value in per_sample.items():
            meta = details.get(sample_id) or {}
            out.append(Case(name, str(sample_id), None if value is None else float(value),
                            default_threshold if threshold is None else float(threshold),
                            meta.get("reason") if isinstance(meta, dict) else None,
                            meta if isinstance(meta, dict) else {}))
    return out


def junit_xml(experiment: str, run: dict[str, Any], all_cases: list[Case], duration_s: float) -> str:
    """JUnit XML (the Ant/Jenkins schema most CI dashboards read): one testsuite per scorer, one
    testcase per sample, a `failure` when the sample's value is under its threshold."""
    suites = ET.Element("testsuites")  # the Ant/Windy Road schema gives <testsuites> no attributes
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    host = socket.gethostname() or "localhost"
    scorers = list(dict.fromkeys(c.scorer for c in all_cases))
    per_case = duration_s / max(len(all_cases), 1)
    for index, scorer in enumerate(scorers):
        mine = [c for c in all_cases if c.scorer == scorer]
        failures = sum(not c.passed for c in mine)
        suite = ET.SubElement(suites, "testsuite", {
            "name": scorer, "package": experiment, "id": str(index), "timestamp": stamp, "hostname": host,
            "tests": str(len(mine)), "failures": str(failures), "errors": "0", "skipped": "0",
            "time": f"{per_case * len(mine):.3f}"})
        properties = ET.SubElement(suite, "properties")
        for key, value in (("run_id", run.get("id")), ("config_hash", run.get("config_hash")),
                           ("weighted_score", run.get("weighted_score")),
                           ("threshold", mine[0].threshold if mine else None)):
            ET.SubElement(properties, "property", {"name": key, "value": "" if value is None else str(value)})
        for case in mine:
            element = ET.SubElement(suite, "testcase", {"name": case.sample, "classname": f"{experiment}.{scorer}",
                                                        "time": f"{per_case:.3f}"})
            if not case.passed:
                value = "no value" if case.value is None else f"{case.value:.4f}"
                failure = ET.SubElement(element, "failure", {
                    "message": f"{scorer} scored {value} on {case.sample}, under the threshold {case.threshold:g}"
                               + (f": {case.reason}" if case.reason else ""),
                    "type": "below_threshold"})
                failure.text = json.dumps(case.meta, indent=2, default=str)[:4000]
        ET.SubElement(suite, "system-out").text = ""
        ET.SubElement(suite, "system-err").text = ""
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_summary(experiment: str, status: str, board: list[dict[str, Any]], all_cases: list[Case],
                     fail_under: float | None, total_runs: int, max_failures: int = 20) -> str:
    """A pull-request comment: the gate, the top configurations and the failing samples of the best one."""
    best = board[0]["weighted_score"] if board else None
    if fail_under is None:
        gate = "no gate (`--fail-under` not set)"
    elif best is not None and best >= fail_under:
        gate = f"✅ passed: best {best:.4f} ≥ {fail_under:g}"
    else:
        gate = f"❌ failed: best {best if best is None else f'{best:.4f}'} < {fail_under:g}"
    lines = [f"## PromptLooper: {_md(experiment)}", "",
             f"**Gate:** {gate}  ", f"**Sweep:** {status}, {total_runs} runs", ""]
    if board:
        lines += ["| rank | score | model | params |", "| ---: | ---: | --- | --- |"]
        for item in board[:5]:
            score = item.get("weighted_score")
            models = ", ".join(short_model(s.get("model")) for s in item["config"].get("stages", []))
            lines.append(f"| {item['rank']} | {'-' if score is None else f'{score:.4f}'} | {_md(models)} | "
                         f"{_md(_params(item['config']))} |")
        lines.append("")
    if all_cases:
        failed = [c for c in all_cases if not c.passed]
        lines.append(f"**Best configuration:** {len(all_cases) - len(failed)}/{len(all_cases)} sample checks passed.")
        if failed:
            lines += ["", "| scorer | sample | value | threshold | reason |", "| --- | --- | ---: | ---: | --- |"]
            for case in failed[:max_failures]:
                value = "-" if case.value is None else f"{case.value:.3f}"
                lines.append(f"| {_md(case.scorer)} | {_md(case.sample)} | {value} | {case.threshold:g} | "
                             f"{_md(case.reason or '')} |")
            if len(failed) > max_failures:
                lines.append(f"\n…and {len(failed) - max_failures} more.")
    else:
        lines.append("No completed runs.")
    return "\n".join(lines) + "\n"
