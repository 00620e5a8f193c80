"""Named prompt variants on the server side (the dashboard's `src/lib/variants.tsx` does the same):
a swept prompt, or any long swept text, is known by its `variant_names` entry or `v1`, `v2`, ... by
its position in the parameter space list."""

from __future__ import annotations

from typing import Any

from promptlooper.engine.definition import ExperimentDefinition, parse_space_key
from promptlooper.engine.space import canonical_json
from promptlooper.services.importance import config_value

PROMPT_FIELDS = {"prompt_template", "system_prompt"}


def variant_keys(defn: ExperimentDefinition, names: dict[str, list[str]]) -> dict[str, list[Any]]:
    """The list-valued keys whose values are shown as variants, with their values."""
    out: dict[str, list[Any]] = {}
    for key, values in defn.parameter_space.items():
        if not isinstance(values, list):
            continue
        field = key.split(".")[-1]
        if (any(n for n in names.get(key, [])) or field in PROMPT_FIELDS
                or any(isinstance(v, str) and len(v) > 24 for v in values)):
            out[key] = values
    return out


def variant_label(key: str, values: list[Any], names: dict[str, list[str]], value: Any) -> str | None:
    """The name of `value` among a key's values (None when it is not one of them)."""
    wanted = canonical_json(value)
    for i, candidate in enumerate(values):
        if canonical_json(candidate) == wanted:
            given = names.get(key, [])
            return (given[i].strip() if i < len(given) else "") or f"v{i + 1}"
    return None


def labels_of(defn: ExperimentDefinition, names: dict[str, list[str]], config: dict[str, Any]) -> dict[str, str]:
    """{key: variant name} for a run's resolved config."""
    out: dict[str, str] = {}
    for key, values in variant_keys(defn, names).items():
        target = parse_space_key(key, defn.pipeline_stages)
        if isinstance(target, str) or target.kind == "linked":
            continue
        label = variant_label(key, values, names, config_value(config, target, None))
        if label is not None:
            out[key] = label
    return out


def value_and_label(defn: ExperimentDefinition, names: dict[str, list[str]], key: str, values: list[Any],
                    config: dict[str, Any]) -> tuple[Any, str | None]:
    """A run's value for a variant key and its name (None when it is not one of the key's values)."""
    target = parse_space_key(key, defn.pipeline_stages)
    if isinstance(target, str) or target.kind == "linked":
        return None, None
    value = config_value(config, target, None)
    return value, variant_label(key, values, names, value)
