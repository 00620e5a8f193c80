"""Exports of a configuration: JSON, .env, YAML and a markdown report.

Which configuration: the run or saved configuration asked for, else the experiment's latest
approval, else its best run (`steering.export_target`); every export served is recorded.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.auth import Principal
from promptlooper.models import Experiment, LLMEndpoint, Run
from promptlooper.services.experiments import definition_of
from promptlooper.services.results import leaderboard
from promptlooper.services.statistics import versus_runner_up
from promptlooper.services.steering import ExportTarget, export_target, record_export
from promptlooper.services.variants import labels_of, value_and_label, variant_keys, variant_label


def _of(experiment_id: uuid.UUID, sweep_id: uuid.UUID | None) -> list[Any]:
    """The runs of the experiment, or of one of its sweeps."""
    where: list[Any] = [Run.experiment_id == experiment_id]
    if sweep_id is not None:
        where.append(Run.sweep_id == sweep_id)
    return where


async def _best(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    run_id: uuid.UUID | None,
    saved_config_id: uuid.UUID | None,
    format: str,
    principal: Principal | None,
    sweep_id: uuid.UUID | None = None,
) -> ExportTarget:
    """The configuration to export (asked for, approved, else best; never a rejected one), recorded."""
    target = await export_target(session, experiment_id, run_id, saved_config_id, sweep_id)
    record_export(session, target, format, principal)
    return target


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


async def best_json(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    run_id: uuid.UUID | None = None,
    saved_config_id: uuid.UUID | None = None,
    principal: Principal | None = None,
    sweep_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The exported configuration as the spec's JSON: model, endpoint, params, prompts, score and provenance."""
    target = await _best(session, experiment_id, run_id, saved_config_id, "json", principal, sweep_id)
    return await _json_of(session, target, sweep_id)


async def _json_of(session: AsyncSession, target: ExportTarget, sweep_id: uuid.UUID | None) -> dict[str, Any]:
    config = target.config
    urls = await _endpoint_urls(session, config)
    stages = [_stage_block(s, urls) for s in config.get("stages", [])]
    out: dict[str, Any] = {k: v for k, v in stages[-1].items() if k != "name"} if stages else {}
    if len(stages) == 1:
        out = {k: v for k, v in stages[0].items() if k != "name"}
    out |= {
        "score": target.score,
        "scores": target.scores,
        "experiment": target.experiment.name,
        "run_id": str(target.run_id) if target.run_id else None,
        "config_hash": target.config_hash,
        "exported_at": datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }
    if target.saved_config_id is not None:
        out["saved_config_id"] = str(target.saved_config_id)
    versus = await versus_runner_up(session, target.experiment, target.config_hash, sweep_id)
    out["significance"] = None if versus is None else versus.as_dict()
    if config.get("vars"):
        out["vars"] = config["vars"]
    if len(stages) > 1:
        out["stages"] = stages
    variants = labels_of(definition_of(target.experiment), dict(target.experiment.variant_names or {}), config)
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


async def best_env(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    run_id: uuid.UUID | None = None,
    saved_config_id: uuid.UUID | None = None,
    principal: Principal | None = None,
    sweep_id: uuid.UUID | None = None,
) -> str:
    """The exported configuration as a .env snippet (LLM_MODEL=..., or LLM_<STAGE>_MODEL=... for several stages)."""
    data = await _json_of(session, await _best(session, experiment_id, run_id, saved_config_id, "env", principal,
                                               sweep_id), sweep_id)
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
                "significance",
                "variants",
            ):
                continue
            lines.append(f"{prefix}{_env_name(key)}={_env_value(value)}")
        for key in ("system_prompt", "prompt_template"):
            if stage.get(key):
                lines.append(f"{prefix}{key.upper()}={_env_value(stage[key])}")
    score = data.get("score")
    lines.append(f"# Score: {score if score is None else round(score, 4)} | Experiment: {data['experiment']}")
    lines.append(f"# {significance_sentence(data.get('significance'))}")
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


async def best_yaml(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    run_id: uuid.UUID | None = None,
    saved_config_id: uuid.UUID | None = None,
    principal: Principal | None = None,
    sweep_id: uuid.UUID | None = None,
) -> str:
    """The exported configuration in the spec's YAML layout (model, endpoint, parameters, prompts, metadata)."""
    data = await _json_of(session, await _best(session, experiment_id, run_id, saved_config_id, "yaml", principal,
                                               sweep_id), sweep_id)
    stages = data.get("stages")
    single = {
        k: v
        for k, v in data.items()
        if k not in ("score", "scores", "experiment", "run_id", "config_hash", "exported_at", "vars", "stages",
                     "significance")
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
        "significance": data.get("significance"),
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


async def report_markdown(
    session: AsyncSession,
    experiment_id: uuid.UUID,
    run_id: uuid.UUID | None = None,
    saved_config_id: uuid.UUID | None = None,
    principal: Principal | None = None,
    sweep_id: uuid.UUID | None = None,
) -> str:
    """A markdown report: the exported configuration, the leaderboard, per-status counts and cost."""
    best = await _best(session, experiment_id, run_id, saved_config_id, "report", principal, sweep_id)
    experiment = best.experiment
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
            select(
                func.coalesce(func.sum(Run.tokens_in), 0),
                func.coalesce(func.sum(Run.tokens_out), 0),
                func.coalesce(func.sum(Run.cost_estimate), 0.0),
                func.coalesce(func.sum(Run.tokens_in_spent), 0),
                func.coalesce(func.sum(Run.tokens_out_spent), 0),
                func.coalesce(func.sum(Run.cost_spent), 0.0),
                func.coalesce(func.sum(Run.llm_calls_paid), 0),
                func.coalesce(func.sum(Run.cache_hits), 0),
            ).where(*_of(experiment_id, sweep_id))
        )
    ).one()
    t_in, t_out, worth, s_in, s_out, spent, paid_calls, hits = totals
    data = await _json_of(session, best, sweep_id)
    names = sorted({n for entry in board.items for n in entry.scores} | _human_scorers(experiment))
    defn = definition_of(experiment)
    given = dict(experiment.variant_names or {})
    vkeys = variant_keys(defn, given)
    lines = [
        f"# Experiment report: {experiment.name}",
        "",
        experiment.description or "",
        "",
        f"- Runs: {sum(counts.values())} ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))})",
        f"- Tokens paid for: {int(s_in)} in, {int(s_out)} out (every answer together: {int(t_in)} in, "
        f"{int(t_out)} out)",
        f"- Cost: spent ${float(spent):.4f}; saved by the cache ${max(float(worth) - float(spent), 0.0):.4f}",
        f"- Calls: {int(paid_calls)} LLM calls paid, {int(hits)} answered from the cache",
        f"- Samples: {len(experiment.sample_data)}; stages: {len(experiment.pipeline_stages)}",
        "",
        "## Best configuration",
        "",
        f"Run `{best.run_id}` with weighted score **{best.score}**."
        + (" (approved configuration)" if best.saved_config_id else ""),
        "",
        significance_sentence(data.get("significance")),
        "",
        "```json",
        json.dumps({k: v for k, v in data.items() if k != "exported_at"}, indent=2),
        "```",
        "",
        "## Leaderboard",
        "",
        "Mean over samples with its 95% bootstrap interval; *vs best*: Wilcoxon signed-rank p-value against the "
        "leader over the samples both were scored on, Holm-corrected across the table (tied: not significant at 0.05).",
        "",
        "| rank | weighted | mean [95% CI] | vs best | " + " | ".join(names) + " | model | params |"
        + "".join(f" {k} |" for k in vkeys) + " runs |",
        "|---|---|---|---|" + "---|" * len(names) + "---|---|" + "---|" * len(vkeys) + "---|",
    ]
    for entry in board.items:
        stage = entry.config.get("stages", [{}])[-1]
        cells = [_score_cell(n, entry.scores.get(n)) for n in names]
        weighted = "—" if entry.weighted_score is None else f"{entry.weighted_score:.4f}"
        lines.append(
            f"| {entry.rank} | {weighted} | {_interval_cell(entry)} | {_versus_cell(entry)} | "
            + " | ".join(cells)
            + f" | {stage.get('model')} | `{json.dumps(stage.get('params', {}))}` |"
            + "".join(f" {_variant_cell(defn, given, k, values, entry.config)} |" for k, values in vkeys.items())
            + f" {entry.runs} |"
        )
    if vkeys:
        lines += ["", "## Prompt variants", ""]
        for key, values in vkeys.items():
            for value in values:
                text = value if isinstance(value, str) else json.dumps(value)
                lines += [f"**{key} · {variant_label(key, values, given, value)}**", "", "```text", text, "```", ""]
    lines += ["", f"_Generated {data['exported_at']} by PromptLooper._", ""]
    return "\n".join(lines)


def significance_sentence(significance: dict[str, Any] | None) -> str:
    """Whether the exported configuration is significantly better than the runner-up, in one sentence."""
    if significance is None:
        return "Significance: no other configuration to compare with."
    p, n, diff = significance["p_value"], significance["samples"], significance["diff"]
    if p is None:
        return f"Significance: not testable against the runner-up ({n} common samples; at least 2 are needed)."
    interval = ""
    if significance["ci_low"] is not None:
        interval = f", 95% CI [{significance['ci_low']:+.4f}, {significance['ci_high']:+.4f}]"
    verdict = "significantly better" if significance["significantly_better"] else "NOT significantly better"
    return (f"Significance: {verdict} than the runner-up (`{significance['runner_up_run_id']}`): mean difference "
            f"{diff:+.4f}{interval}, Wilcoxon signed-rank p = {p:.4g} over {n} samples.")


def _interval_cell(entry: Any) -> str:
    if entry.mean_score is None:
        return "—"
    if entry.ci_low is None:
        return f"{entry.mean_score:.4f}"
    return f"{entry.mean_score:.4f} [{entry.ci_low:.4f}, {entry.ci_high:.4f}]"


def _versus_cell(entry: Any) -> str:
    if entry.p_value is None:
        return "leader" if entry.tied_with_best else "—"
    mark = "tied" if entry.tied_with_best else "worse"
    return f"{mark} (p={entry.p_adjusted:.3g})"


def _human_scorers(experiment: Experiment) -> set[str]:
    """Human ratings are stored as `human_rating` whatever the entry's name: a column even when none is in."""
    rated = any(e.get("scorer") == "human_rating" for e in experiment.scoring_config or [])
    return {"human_rating"} if rated else set()


def _score_cell(name: str, value: float | None) -> str:
    if value is None:
        return "not rated" if name == "human_rating" else "—"
    return f"{value:.3f}"


def _variant_cell(defn: Any, given: dict[str, list[str]], key: str, values: list[Any], config: dict[str, Any]) -> str:
    """`name: text` of a run's variant (the name alone says little, the text alone is long)."""
    value, label = value_and_label(defn, given, key, values, config)
    if label is None:
        return "-"
    return f"{label}: {_cell(value, 48)}"


def _cell(value: Any, width: int = 60) -> str:
    """A table cell: one line, pipes escaped, long text shortened."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = " ".join(text.split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("|", "\\|")
