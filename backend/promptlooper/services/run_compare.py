"""Comparing two runs: parameter diff, outputs side by side per sample, score differences."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from promptlooper.engine.stats import paired_difference
from promptlooper.schemas import RunDetail


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) and "name" in v for v in value):
        out = {}
        for item in value:
            out |= _flatten({k: v for k, v in item.items() if k != "name"}, f"{prefix}.{item['name']}")
        return out
    return {prefix: value}


def _outputs(run: RunDetail) -> dict[str, dict[str, Any]]:
    """Each sample's final stage result."""
    out: dict[str, dict[str, Any]] = {}
    for stage in run.stage_results:
        current = out.get(stage.sample_id)
        if current is None or stage.stage_index >= current["stage_index"]:
            out[stage.sample_id] = {
                "stage_index": stage.stage_index, "output": stage.response_raw, "model": stage.model_used,
                "tokens_out": stage.tokens_out, "latency_ms": stage.latency_ms, "error": stage.error,
            }
    return out


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 6)


def compare(a: RunDetail, b: RunDetail) -> dict[str, Any]:
    """Parameter diff, per-sample outputs side by side and score differences of two runs (diff = b - a)."""
    flat_a, flat_b = _flatten(a.config), _flatten(b.config)
    changed = [
        {"path": path, "a": flat_a.get(path), "b": flat_b.get(path)}
        for path in sorted(set(flat_a) | set(flat_b))
        if flat_a.get(path) != flat_b.get(path)
    ]
    out_a, out_b = _outputs(a), _outputs(b)
    samples = [
        {"sample_id": sid, "a": out_a.get(sid), "b": out_b.get(sid),
         "same_output": (out_a.get(sid) or {}).get("output") == (out_b.get(sid) or {}).get("output")}
        for sid in sorted(set(out_a) | set(out_b))
    ]
    scores = {
        name: {"a": a.scores.get(name), "b": b.scores.get(name), "diff": _diff(a.scores.get(name), b.scores.get(name))}
        for name in sorted(set(a.scores) | set(b.scores))
    }
    wa, wb = a.weighted_score, b.weighted_score
    better = "tie" if wa == wb else ("a" if wb is None or (wa is not None and wa > wb) else "b")
    return {
        "run_a": {"id": str(a.id), "status": a.status, "config_hash": a.config_hash},
        "run_b": {"id": str(b.id), "status": b.status, "config_hash": b.config_hash},
        "same_experiment": a.experiment_id == b.experiment_id,
        "parameters": {"changed": changed, "unchanged_count": len(set(flat_a) & set(flat_b)) - sum(
            1 for c in changed if c["path"] in flat_a and c["path"] in flat_b)},
        "samples": samples,
        "scores": scores,
        "weighted_score": {"a": wa, "b": wb, "diff": _diff(wa, wb)},
        "better": better,
        # b - a per common sample: the mean, its 95% bootstrap interval and the Wilcoxon p-value
        "paired": asdict(paired_difference(a.sample_scores, b.sample_scores)),
        "cost": {"a": a.cost_estimate, "b": b.cost_estimate, "diff": round(b.cost_estimate - a.cost_estimate, 6)},
        "tokens": {"a": a.tokens_in + a.tokens_out, "b": b.tokens_in + b.tokens_out},
    }
