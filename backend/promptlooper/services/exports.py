"""Exports of the best configuration: JSON, .env, YAML and a markdown report."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.errors import NotFound
from promptlooper.models import Experiment, LLMEndpoint, Run
from promptlooper.services.common import get_or_404
from promptlooper.services.experiments import definition_of
from promptlooper.services.results import leaderboard, scores_by_run
from promptlooper.services.variants import labels_of, variant_keys, variant_label


def _of(experiment_id: uuid.UUID, sweep_id: uuid.UUID | None) -> list[Any]:
    """The runs of the experiment, or of one of its sweeps."""
    where: list[Any] = [Run.experiment_id == experiment_id]
    if sweep_id is not None:
        where.append(Run.sweep_id == sweep_id)
    return where


async def _best(session: AsyncSession, experiment_id: uuid.UUID,
                    sweep_id: uuid.UUID | None = None) -> tuple[Experiment, Run]:
    experiment = await get_or_404(session, Experiment, experiment_id, "Experiment")
    board = await leaderboard(session, experiment_id, 1, "weighted_score", sweep_id)
    if not board.items:
        raise NotFound(
            "This experiment has no completed runs to export yet; run a sweep first.", code="no_completed_runs"
        )
    run = await session.get(Run, board.items[0].run_id)
    assert run is not None
    return experiment, run


async def _endpoint_urls(session: AsyncSession, config: dict[str, Any]) -> dict[str, str]:
    ids = {str(s.get("endpoint_id")) for s in config.get("stages", []) if s.get("endpoint_id")}
    out: dict[str, str] = {}
    for endpoint_id in ids:
        try:
            endpoint = await session.get(LLMEndpoint, uuid.UUID(endpoint_id))
        except ValueError:
            endpoint = None
        out[endpoint_id] = endpoint.url if endpoint else endpoint_id
    return out


def _stage_block(stage: dict[str, Any], urls: dict[str, str]) -> dict[str, Any]:
    block: dict[str, Any] = {
        "name": stage.get("name"),
        "model": stage.get("model"),
        "endpoint": urls.get(str(stage.get("endpoint_id")), None),
    }
    block |= stage.get("params", {})
    block["system_prompt"] = stage.get("system_prompt")
    block["prompt_template"] = stage.get("prompt_template")
    return block


async def best_json(session: AsyncSession, experiment_id: uuid.UUID,
                    sweep_id: uuid.UUID | None = None) -> dict[str, Any]:
    """The best run as the spec's JSON: model, endpoint, params, prompts, score and provenance."""
    experiment, run = await _best(session, experiment_id, sweep_id)
    urls = await _endpoint_urls(session, run.config)
    stages = [_stage_block(s, urls) for s in run.config.get("stages", [])]
    out: dict[str, Any] = {k: v for k, v in stages[-1].items() if k != "name"} if stages else {}
    if len(stages) == 1:
        out = {k: v for k, v in stages[0].items() if k != "name"}
    out |= {
        "score": run.weighted_score,
        "scores": (await scores_by_run(session, [run.id])).get(run.id, {}),
        "experiment": experiment.name,
        "run_id": str(run.id),
        "config_hash": run.config_hash,
        "exported_at": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    if run.config.get("vars"):
        out["vars"] = run.config["vars"]
    if len(stages) > 1:
        out["stages"] = stages
    variants = labels_of(definition_of(experiment), dict(experiment.variant_names or {}), run.config)
    if variants:
        out["variants"] = variants  # {space key: variant name}, e.g. {"prompt_template": "concise"}
    return out


def _env_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if re.fullmatch(r"[A-Za-z0-9_./:@+-]*", text):
        return text
    return json.dumps(text)


def _env_name(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")


async def best_env(session: AsyncSession, experiment_id: uuid.UUID,
                    sweep_id: uuid.UUID | None = None) -> str:
    """The best run as a .env snippet (LLM_MODEL=..., or LLM_<STAGE>_MODEL=... for several stages)."""
    data = await best_json(session, experiment_id, sweep_id)
    stages = data.get("stages") or [data]
    lines: list[str] = []
    for stage in stages:
        prefix = "LLM_" if len(stages) == 1 else f"LLM_{_env_name(str(stage.get('name')))}_"
        lines.append(f"{prefix}MODEL={_env_value(stage.get('model') or '')}")
        lines.append(f"{prefix}API_URL={_env_value(stage.get('endpoint') or '')}")
        for key, value in stage.items():
            if key in (
                "name",
                "model",
                "endpoint",
                "system_prompt",
                "prompt_template",
                "score",
                "scores",
                "experiment",
                "run_id",
                "config_hash",
                "exported_at",
                "vars",
                "stages",
            ):
                continue
            lines.append(f"{prefix}{_env_name(key)}={_env_value(value)}")
        for key in ("system_prompt", "prompt_template"):
            if stage.get(key):
                lines.append(f"{prefix}{key.upper()}={_env_value(stage[key])}")
    score = data.get("score")
    lines.append(f"# Score: {score if score is None else round(score, 4)} | Experiment: {data['experiment']}")
    return "\n".join(lines) + "\n"


class _LiteralStr(str):
    pass


def _literal(dumper: yaml.SafeDumper, value: _LiteralStr) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


yaml.SafeDumper.add_representer(_LiteralStr, _literal)


def _yaml_stage(stage: dict[str, Any]) -> dict[str, Any]:
    params = {
        k: v for k, v in stage.items() if k not in ("name", "model", "endpoint", "system_prompt", "prompt_template")
    }
    block: dict[str, Any] = {"model": stage.get("model"), "endpoint": stage.get("endpoint"), "parameters": params}
    for key in ("system_prompt", "prompt_template"):
        if stage.get(key) is not None:
            block[key] = _LiteralStr(stage[key] if stage[key].endswith("\n") else stage[key] + "\n")
    return block


async def best_yaml(session: AsyncSession, experiment_id: uuid.UUID,
                    sweep_id: uuid.UUID | None = None) -> str:
    """The best run in the spec's YAML layout (model, endpoint, parameters, prompts, metadata)."""
    data = await best_json(session, experiment_id, sweep_id)
    stages = data.get("stages")
    single = {
        k: v
        for k, v in data.items()
        if k not in ("score", "scores", "experiment", "run_id", "config_hash", "exported_at", "vars", "stages")
    }
    doc = _yaml_stage(single if not stages else {**stages[-1]})
    if stages:
        doc["stages"] = [{"name": s["name"], **_yaml_stage(s)} for s in stages]
    if data.get("vars"):
        doc["vars"] = data["vars"]
    doc["metadata"] = {
        "score": data["score"],
        "experiment": data["experiment"],
        "run_id": data["run_id"],
        "exported_at": data["exported_at"],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


async def report_markdown(session: AsyncSession, experiment_id: uuid.UUID,
                    sweep_id: uuid.UUID | None = None) -> str:
    """A markdown report: the winner, the leaderboard, per-status counts and cost."""
    experiment, best = await _best(session, experiment_id, sweep_id)
    board = await leaderboard(session, experiment_id, 10, "weighted_score", sweep_id)
    counts = dict(
        (
            await session.execute(
                select(Run.status, func.count()).where(*_of(experiment_id, sweep_id)).group_by(Run.status)
            )
        )
        .all()
    )
    totals = (
        await session.execute(
            select(func.sum(Run.tokens_in), func.sum(Run.tokens_out), func.sum(Run.cost_estimate)).where(
                *_of(experiment_id, sweep_id)
            )
        )
    ).one()
    data = await best_json(session, experiment_id, sweep_id)
    names = sorted({n for entry in board.items for n in entry.scores})
    defn = definition_of(experiment)
    given = dict(experiment.variant_names or {})
    vkeys = variant_keys(defn, given)
    lines = [
        f"# Experiment report: {experiment.name}",
        "",
        experiment.description or "",
        "",
        f"- Runs: {sum(counts.values())} ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))})",
        f"- Tokens: {int(totals[0] or 0)} in, {int(totals[1] or 0)} out; estimated cost ${float(totals[2] or 0):.4f}",
        f"- Samples: {len(experiment.sample_data)}; stages: {len(experiment.pipeline_stages)}",
        "",
        "## Best configuration",
        "",
        f"Run `{best.id}` with weighted score **{best.weighted_score}**.",
        "",
        "```json",
        json.dumps({k: v for k, v in data.items() if k != "exported_at"}, indent=2),
        "```",
        "",
        "## Leaderboard",
        "",
        "| rank | weighted | " + " | ".join(names) + " | model | params |" + "".join(f" {k} |" for k in vkeys),
        "|---|---|" + "---|" * len(names) + "---|---|" + "---|" * len(vkeys),
    ]
    for entry in board.items:
        stage = entry.config.get("stages", [{}])[-1]
        cells = [f"{entry.scores.get(n, float('nan')):.3f}" for n in names]
        weighted = "-" if entry.weighted_score is None else f"{entry.weighted_score:.4f}"
        lines.append(
            f"| {entry.rank} | {weighted} | "
            + " | ".join(cells)
            + f" | {stage.get('model')} | `{json.dumps(stage.get('params', {}))}` |"
            + "".join(f" {labels_of(defn, given, entry.config).get(k, '-')} |" for k in vkeys)
        )
    if vkeys:
        lines += ["", "## Prompt variants", ""]
        for key, values in vkeys.items():
            for value in values:
                text = value if isinstance(value, str) else json.dumps(value)
                lines += [f"**{key} · {variant_label(key, values, given, value)}**", "", "```text", text, "```", ""]
    lines += ["", f"_Generated {data['exported_at']} by PromptLooper._", ""]
    return "\n".join(lines)
