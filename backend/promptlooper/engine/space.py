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
_MISSES_BEFORE_STOP = 1000  # random sampling gives up after this many draws in a row found nothing new
MAX_SWEEP_RUNS = 100_000  # default cap on one sweep's configs (Settings.max_sweep_runs)


class SpaceError(ValueError):
    """A parameter space or an override that cannot be turned into configs."""


class SpaceTooLarge(SpaceError):
    """A space (or one range of it) holds more combinations than the cap allows; counted, never expanded."""

    def __init__(self, message: str, count: int, cap: int) -> None:
        super().__init__(message)
        self.count = count
        self.cap = cap


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


def range_count(spec: RangeSpec) -> int:
    """How many grid points a range has (before equal rounded values merge), counted without listing them."""
    if spec.max < spec.min:
        raise SpaceError(f"range min {spec.min} is greater than max {spec.max}")
    if spec.step is None:
        return 1 if spec.min == spec.max else UNSTEPPED_POINTS
    if spec.step <= 0:
        raise SpaceError(f"range step must be greater than 0, not {spec.step}")
    points = (spec.max - spec.min) / spec.step
    if not math.isfinite(points):
        raise SpaceError(f"range from {spec.min} to {spec.max} by {spec.step} has too many points to count")
    nearest = round(points)
    steps = nearest if abs(points - nearest) <= 1e-9 * max(1.0, points) else math.floor(points)
    return int(steps) + 1


def range_values(spec: RangeSpec, cap: int = MAX_SWEEP_RUNS) -> list[int | float]:
    """The grid points of a range: by `step`, else UNSTEPPED_POINTS evenly (log: geometrically) spaced.

    A range of more than `cap` points is refused (SpaceTooLarge) before any point is made.
    """
    count = range_count(spec)
    if count > cap:
        raise SpaceTooLarge(f"The range from {spec.min:g} to {spec.max:g} by {spec.step} has {count:,} points; "
                            f"a sweep may hold at most {cap:,} configurations.", count, cap)
    if spec.step is not None:
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
    values = [_clean_number(min(value, spec.max), spec) for value in raw]
    return list(dict.fromkeys(values))  # in order, equal rounded values once (a set: linear, not quadratic)


def _axes(defn: ExperimentDefinition, cap: int = MAX_SWEEP_RUNS) -> list[tuple[str, list[Any]]]:
    axes: list[tuple[str, list[Any]]] = []
    for key, value in defn.parameter_space.items():
        choices = range_values(value, cap) if isinstance(value, RangeSpec) else list(value)
        if not choices:
            raise SpaceError(f"`{key}` has no values")
        axes.append((key, choices))
    return axes


def count_grid(defn: ExperimentDefinition) -> int:
    """How many combinations a grid sweep holds (before identical configs are merged), by arithmetic only."""
    total = 1
    for key, value in defn.parameter_space.items():
        count = range_count(value) if isinstance(value, RangeSpec) else len(value)
        if count == 0:
            raise SpaceError(f"`{key}` has no values")
        total *= count
    return total


def check_grid_size(defn: ExperimentDefinition, max_runs: int | None, cap: int = MAX_SWEEP_RUNS) -> int:
    """The grid's combination count; SpaceTooLarge past `cap` unless `max_runs` (at most `cap`) bounds the sweep."""
    count = count_grid(defn)
    if max_runs is not None and max_runs > cap:
        raise SpaceTooLarge(f"max_runs is {max_runs:,}; a sweep may hold at most {cap:,} configurations.",
                            max_runs, cap)
    if count > cap and max_runs is None:
        raise SpaceTooLarge(f"The grid holds {count:,} combinations; a sweep may hold at most {cap:,}. "
                            "Set max_runs, narrow the space or use a random sweep.", count, cap)
    return count


def _unique(configs: Iterator[dict[str, Any]], limit: int | None, max_misses: int | None = None,
            examined: int | None = None) -> list[dict[str, Any]]:
    """Distinct configs in order, up to `limit`; stop after `max_misses` duplicates in a row or `examined` in all."""
    seen: set[str] = set()
    result: list[dict[str, Any]] = []
    misses = 0
    for index, config in enumerate(configs):
        if examined is not None and index >= examined:
            break
        digest = config_hash(config)
        if digest in seen:
            misses += 1
            if max_misses is not None and misses >= max_misses:
                break
            continue
        misses = 0
        seen.add(digest)
        result.append(config)
        if limit is not None and len(result) >= limit:
            break
    return result


def expand_grid(defn: ExperimentDefinition, default_endpoint_id: str | None,
                max_runs: int | None = None, cap: int = MAX_SWEEP_RUNS) -> list[dict[str, Any]]:
    """Every combination (the last key varies fastest), identical configs merged, capped at max_runs.

    Ranges expand by `step` (min, min+step, ... up to max); a range without `step` gives
    UNSTEPPED_POINTS points, evenly spaced, or geometrically spaced when `log` is set. The size is
    counted first (check_grid_size); combinations are made lazily and at most 2 x cap are looked at.
    """
    check_grid_size(defn, max_runs, cap)
    axes = _axes(defn, cap)
    keys = [key for key, _ in axes]
    combos = itertools.product(*(choices for _, choices in axes))
    configs = (apply_overrides(defn, dict(zip(keys, combo, strict=True)), default_endpoint_id) for combo in combos)
    return _unique(configs, max_runs, examined=2 * cap)


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
                  seed: int | None = None, cap: int = MAX_SWEEP_RUNS) -> list[dict[str, Any]]:
    """Up to max_runs distinct random configs (lists: uniform choice; ranges: see draw_value), seeded.

    Draws one config at a time (a huge space is never listed) and stops once max_runs are found,
    or after _MISSES_BEFORE_STOP draws in a row found nothing new (the space is smaller than asked).
    """
    if max_runs < 1:
        raise SpaceError("max_runs must be at least 1")
    if max_runs > cap:
        raise SpaceTooLarge(f"max_runs is {max_runs:,}; a sweep may hold at most {cap:,} configurations.",
                            max_runs, cap)
    for key, value in defn.parameter_space.items():
        if isinstance(value, list) and not value:
            raise SpaceError(f"`{key}` has no values")
        if isinstance(value, RangeSpec):
            range_count(value)  # raises on an invalid range
    rng = random.Random(seed)

    def draws() -> Iterator[dict[str, Any]]:
        for _ in range(max_runs * _DRAWS_PER_RUN):
            overrides = {
                key: draw_value(value, rng) if isinstance(value, RangeSpec) else rng.choice(value)
                for key, value in defn.parameter_space.items()
            }
            yield apply_overrides(defn, overrides, default_endpoint_id)

    return _unique(draws(), max_runs, max_misses=_MISSES_BEFORE_STOP)
