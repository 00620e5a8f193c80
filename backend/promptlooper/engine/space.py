"""Parameter space -> resolved run configs: overrides, grid expansion, random sampling, hashing."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from collections.abc import Iterator, Mapping
from typing import Any

from .definition import ExperimentDefinition, RangeSpec, SpaceKey, parse_space_key

UNSTEPPED_POINTS = 5  # a range without `step` in a grid becomes this many evenly spaced points
_SIG_DIGITS = 12  # floats are rounded to this many significant digits before hashing
_DRAWS_PER_RUN = 20


class SpaceError(ValueError):
    """A parameter space or an override that cannot be turned into configs."""


def normalize(value: Any) -> Any:
    """A JSON-able copy whose floats are rounded so equal numbers hash equally (ints stay ints)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpaceError(f"{value} is not a finite number")
        rounded = float(f"{value:.{_SIG_DIGITS}g}")
        return 0.0 if rounded == 0 else rounded
    if isinstance(value, Mapping):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    raise SpaceError(f"{type(value).__name__} values cannot be part of a config")


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: the form every hash is computed on."""
    return json.dumps(normalize(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 hex of a config's canonical JSON."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()


def _base_stages(defn: ExperimentDefinition) -> list[dict[str, Any]]:
    return [
        {"name": s.name, "endpoint_id": s.endpoint_id, "model": s.model, "system_prompt": s.system_prompt,
         "prompt_template": s.prompt_template, "params": dict(s.params)}
        for s in defn.pipeline_stages
    ]


def _set(stage: dict[str, Any], target: SpaceKey, value: Any) -> None:
    if target.kind == "linked":  # one value of a linked choice sets several fields together
        if not isinstance(value, Mapping):
            raise SpaceError("a linked choice (`stages.<name>`) value must be an object of stage fields")
        for field, item in value.items():
            if field == "params":
                if not isinstance(item, Mapping):
                    raise SpaceError("`params` of a linked choice value must be an object")
                stage["params"].update(item)
            else:
                stage[str(field)] = item
    elif target.kind == "field":
        stage[target.name] = value
    else:
        stage["params"][target.name] = value


def apply_overrides(defn: ExperimentDefinition, overrides: Mapping[str, Any],
                    default_endpoint_id: str | None) -> dict[str, Any]:
    """One resolved config from single values keyed like parameter_space (stage keys beat bare keys).

    A linked choice (`stages.<name>` alone) takes one partial stage object and sets its fields together;
    its `params` are merged over the stage's. A `stages.<name>.<field>` key still beats it.
    """
    stages = _base_stages(defn)
    variables: dict[str, Any] = {}
    parsed: list[tuple[SpaceKey, Any]] = []
    for key, value in overrides.items():
        target = parse_space_key(key, defn.pipeline_stages)
        if isinstance(target, str):
            raise SpaceError(target)
        if isinstance(value, dict) and target.kind not in ("var", "linked"):
            raise SpaceError(f"`{key}` needs a single value, not an object")
        parsed.append((target, value))
    # bare keys first, then a stage's linked choice, then its single fields: the most specific key wins
    for target, value in sorted(parsed, key=lambda p: (p[0].stage is not None, p[0].kind != "linked")):
        if target.kind == "var":
            variables[target.name] = value
        else:
            for index in range(len(stages)) if target.stage is None else [target.stage]:
                _set(stages[index], target, value)
    for stage in stages:
        stage["endpoint_id"] = stage["endpoint_id"] or default_endpoint_id
        stage["params"] = {k: v for k, v in stage["params"].items() if v is not None}
    return {"stages": normalize(stages), "vars": normalize(variables)}


def _clean_number(value: float, spec: RangeSpec) -> int | float:
    if spec.type == "int":
        return round(value)
    return round(value, 10)


def range_values(spec: RangeSpec) -> list[int | float]:
    """The grid points of a range: by `step`, else UNSTEPPED_POINTS evenly (log: geometrically) spaced."""
    if spec.max < spec.min:
        raise SpaceError(f"range min {spec.min} is greater than max {spec.max}")
    if spec.step is not None:
        if spec.step <= 0:
            raise SpaceError(f"range step must be greater than 0, not {spec.step}")
        count = math.floor((spec.max - spec.min) / spec.step + 1e-9) + 1
        raw = [spec.min + i * spec.step for i in range(count)]
    elif spec.min == spec.max:
        raw = [spec.min]
    elif spec.log:
        if spec.min <= 0:
            raise SpaceError("a log range needs min greater than 0")
        ratio = (spec.max / spec.min) ** (1 / (UNSTEPPED_POINTS - 1))
        raw = [spec.min * ratio**i for i in range(UNSTEPPED_POINTS)]
    else:
        width = (spec.max - spec.min) / (UNSTEPPED_POINTS - 1)
        raw = [spec.min + i * width for i in range(UNSTEPPED_POINTS)]
    values: list[int | float] = []
    for value in raw:
        clean = _clean_number(min(value, spec.max), spec)
        if clean not in values:
            values.append(clean)
    return values


def _axes(defn: ExperimentDefinition) -> list[tuple[str, list[Any]]]:
    axes: list[tuple[str, list[Any]]] = []
    for key, value in defn.parameter_space.items():
        choices = range_values(value) if isinstance(value, RangeSpec) else list(value)
        if not choices:
            raise SpaceError(f"`{key}` has no values")
        axes.append((key, choices))
    return axes


def count_grid(defn: ExperimentDefinition) -> int:
    """How many combinations a grid sweep holds (before identical configs are merged)."""
    total = 1
    for _, choices in _axes(defn):
        total *= len(choices)
    return total


def _unique(configs: Iterator[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    seen: set[str] = set()
    result: list[dict[str, Any]] = []
    for config in configs:
        digest = config_hash(config)
        if digest in seen:
            continue
        seen.add(digest)
        result.append(config)
        if limit is not None and len(result) >= limit:
            break
    return result


def expand_grid(defn: ExperimentDefinition, default_endpoint_id: str | None,
                max_runs: int | None = None) -> list[dict[str, Any]]:
    """Every combination (the last key varies fastest), identical configs merged, capped at max_runs.

    Ranges expand by `step` (min, min+step, ... up to max); a range without `step` gives
    UNSTEPPED_POINTS points, evenly spaced, or geometrically spaced when `log` is set.
    """
    axes = _axes(defn)
    keys = [key for key, _ in axes]
    combos = itertools.product(*(choices for _, choices in axes))
    configs = (apply_overrides(defn, dict(zip(keys, combo, strict=True)), default_endpoint_id) for combo in combos)
    return _unique(configs, max_runs)


def _snap(value: float, spec: RangeSpec) -> float:
    assert spec.step is not None
    steps = round((value - spec.min) / spec.step)
    snapped = spec.min + steps * spec.step
    while snapped > spec.max + 1e-9:
        snapped -= spec.step
    return snapped


def draw_value(spec: RangeSpec, rng: random.Random) -> int | float:
    """One random value of a range: uniform (log-uniform with `log`), snapped to `step` when given."""
    if spec.type == "int" and spec.step is None and not spec.log:
        low, high = math.ceil(spec.min), math.floor(spec.max)
        return rng.randint(low, high) if low <= high else round(spec.min)
    if spec.log and spec.min > 0:
        value = math.exp(rng.uniform(math.log(spec.min), math.log(spec.max)))
    else:
        value = rng.uniform(spec.min, spec.max)
    if spec.step is not None:
        value = _snap(value, spec)
    elif spec.type == "float":
        value = float(f"{value:.4g}")
    value = min(max(value, spec.min), spec.max)
    return _clean_number(value, spec)


def sample_random(defn: ExperimentDefinition, default_endpoint_id: str | None, max_runs: int,
                  seed: int | None = None) -> list[dict[str, Any]]:
    """Up to max_runs distinct random configs (lists: uniform choice; ranges: see draw_value), seeded."""
    if max_runs < 1:
        raise SpaceError("max_runs must be at least 1")
    for key, value in defn.parameter_space.items():
        if isinstance(value, list) and not value:
            raise SpaceError(f"`{key}` has no values")
        if isinstance(value, RangeSpec):
            range_values(value)  # raises on an invalid range
    rng = random.Random(seed)

    def draws() -> Iterator[dict[str, Any]]:
        for _ in range(max_runs * _DRAWS_PER_RUN):
            overrides = {
                key: draw_value(value, rng) if isinstance(value, RangeSpec) else rng.choice(value)
                for key, value in defn.parameter_space.items()
            }
            yield apply_overrides(defn, overrides, default_endpoint_id)

    return _unique(draws(), max_runs)
