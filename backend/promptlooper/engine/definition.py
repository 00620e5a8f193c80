"""The experiment document (CONTRACT.md "Experiment definition") and its validation."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import templates

STAGE_FIELDS = ("endpoint_id", "model", "system_prompt", "prompt_template")
# What one value of a linked choice (`stages.<name-or-index>` alone) may set together.
LINKED_FIELDS = (*STAGE_FIELDS, "params")
TEMPLATE_FIELDS = ("system_prompt", "prompt_template")
PARAM_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Request-body keys the adapter sets itself, and words that would make a key ambiguous.
RESERVED_PARAMS = frozenset({"messages", "stream", "name", "params", "stages", "vars"})

Loc = list[str | int]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleDef(_Strict):
    """One input the pipeline processes."""

    id: str = Field(min_length=1)
    input: str
    reference: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)


class StageDef(_Strict):
    """One LLM call of the pipeline."""

    name: str = Field(min_length=1)
    endpoint_id: str | None = None
    model: str | None = None
    system_prompt: str | None = None
    prompt_template: str
    params: dict[str, Any] = Field(default_factory=dict)


class ScorerEntry(_Strict):
    """A scorer applied to every sample's final output."""

    scorer: str = Field(min_length=1)
    name: str | None = None
    weight: float = 1.0  # must be >= 0: checked by validate_definition so it is reported with every other problem
    config: dict[str, Any] = Field(default_factory=dict)
    samples: list[str] | None = None
    """Ids of the samples this scorer applies to (None: every sample); its run score is their mean."""
    threshold: float | None = None
    """A sample passes this scorer when its value is at least this (CI reports); None: the reporter's default."""

    @property
    def key(self) -> str:
        """The name a run's score is stored under."""
        return self.name or self.scorer


class RangeSpec(_Strict):
    """A numeric range in the parameter space."""

    min: float
    max: float
    step: float | None = None
    type: Literal["float", "int"] = "float"
    log: bool = False


class ExperimentDefinition(_Strict):
    """The experiment document without its project (the app adds `project_id`)."""

    name: str = Field(min_length=1)
    description: str | None = None
    sample_data: list[SampleDef] = Field(default_factory=list)
    pipeline_stages: list[StageDef] = Field(min_length=1)
    scoring_config: list[ScorerEntry] = Field(default_factory=list)
    parameter_space: dict[str, list[Any] | RangeSpec] = Field(default_factory=dict)


class DefinitionError(Exception):
    """Every problem found in a document, as 422-style `{loc, msg, type}` items."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


class SpaceKey:
    """A parsed parameter_space key: what it targets and where."""

    def __init__(self, kind: Literal["field", "param", "var", "linked"], name: str, stage: int | None) -> None:
        self.kind = kind  # linked: `stages.<ref>` alone, each value a partial stage object set at once
        self.name = name
        self.stage = stage  # None: every stage (or vars)


def resolve_stage(stages: Sequence[StageDef | Mapping[str, Any]], ref: str) -> int | None:
    """A stage's index from its name or its index as text; None when there is no such stage."""
    for index, stage in enumerate(stages):
        name = stage.name if isinstance(stage, StageDef) else stage.get("name")
        if name == ref:
            return index
    if ref.isdigit() and int(ref) < len(stages):
        return int(ref)
    return None


def _target(name: str, stage: int | None) -> SpaceKey | str:
    if name in STAGE_FIELDS:
        return SpaceKey("field", name, stage)
    if name in RESERVED_PARAMS or not PARAM_NAME.match(name):
        return f"`{name}` is not a stage field ({', '.join(STAGE_FIELDS)}) nor a request parameter name"
    return SpaceKey("param", name, stage)


def parse_space_key(key: str, stages: Sequence[StageDef | Mapping[str, Any]]) -> SpaceKey | str:
    """Resolve a parameter_space / override key, or a sentence saying why it cannot be resolved."""
    parts = key.split(".")
    if len(parts) == 1:
        return _target(key, None)
    if parts[0] == "vars":
        if len(parts) == 2 and VAR_NAME.match(parts[1]):
            return SpaceKey("var", parts[1], None)
        return f"`{key}` is not a valid template variable key: use `vars.<name>`"
    if parts[0] == "stages":
        if len(parts) not in (2, 3):
            return f"`{key}` must look like `stages.<name-or-index>.<field-or-param>` or `stages.<name-or-index>`"
        index = resolve_stage(stages, parts[1])
        if index is None:
            return f"`{key}` names stage `{parts[1]}`, which does not exist"
        return SpaceKey("linked", "", index) if len(parts) == 2 else _target(parts[2], index)
    return f"`{key}` is not a known key: use a field or parameter name, `stages.<name>.<field>` or `vars.<name>`"


class _Collector:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, loc: Loc, msg: str) -> None:
        self.errors.append({"loc": loc, "msg": msg, "type": "definition_error"})


def _check_names(defn: ExperimentDefinition, out: _Collector) -> None:
    seen: set[str] = set()
    for index, stage in enumerate(defn.pipeline_stages):
        if stage.name in seen:
            out.add(["pipeline_stages", index, "name"], f"Stage name `{stage.name}` is used twice; it must be unique.")
        if "." in stage.name:
            out.add(["pipeline_stages", index, "name"], f"Stage name `{stage.name}` must not contain a dot.")
        seen.add(stage.name)
        for param in stage.params:
            if param in RESERVED_PARAMS or param == "model":
                out.add(["pipeline_stages", index, "params", param], f"`{param}` cannot be set as a request parameter.")
    sample_ids: set[str] = set()
    for index, sample in enumerate(defn.sample_data):
        if sample.id in sample_ids:
            out.add(["sample_data", index, "id"], f"Sample id `{sample.id}` is used twice; ids must be unique.")
        sample_ids.add(sample.id)


def _check_range(spec: RangeSpec, loc: Loc, out: _Collector) -> None:
    if spec.min > spec.max:
        out.add([*loc, "min"], f"Range min {spec.min} is greater than max {spec.max}.")
    if spec.step is not None and spec.step <= 0:
        out.add([*loc, "step"], f"Range step must be greater than 0, not {spec.step}.")
    if spec.log and spec.min <= 0:
        out.add([*loc, "log"], "A log range needs min greater than 0.")
    if spec.type == "int":
        for field in ("min", "max", "step"):
            value = getattr(spec, field)
            if value is not None and not float(value).is_integer():
                out.add([*loc, field], f"An int range needs a whole-number {field}, not {value}.")


def check_linked_value(item: Any, loc: Loc, out: _Collector) -> None:
    """One value of a linked choice: a partial stage object of LINKED_FIELDS with well-typed values."""
    if not isinstance(item, dict):
        out.add(loc, "A linked choice value is an object of stage fields, e.g. {\"model\": \"m1\", \"params\": {...}}.")
        return
    if not item:
        out.add(loc, "A linked choice value must set at least one stage field.")
    for field, value in item.items():
        if field not in LINKED_FIELDS:
            out.add([*loc, field],
                    f"`{field}` is not a stage field a linked choice can set ({', '.join(LINKED_FIELDS)}).")
        elif field == "params":
            if not isinstance(value, dict):
                out.add([*loc, field], "`params` must be an object of request parameters.")
                continue
            for param in value:
                if param in RESERVED_PARAMS or param == "model" or not PARAM_NAME.match(str(param)):
                    out.add([*loc, field, param], f"`{param}` cannot be set as a request parameter.")
        elif value is not None and not isinstance(value, str):
            out.add([*loc, field], f"`{field}` must be a string.")


def _check_space(defn: ExperimentDefinition, out: _Collector) -> dict[str, SpaceKey]:
    resolved: dict[str, SpaceKey] = {}
    for key, value in defn.parameter_space.items():
        loc: Loc = ["parameter_space", key]
        target = parse_space_key(key, defn.pipeline_stages)
        if isinstance(target, str):
            out.add(loc, target)
            continue
        resolved[key] = target
        if isinstance(value, RangeSpec):
            if target.kind in ("field", "linked"):
                out.add(loc, f"`{key}` takes a list of choices, not a numeric range.")
            _check_range(value, loc, out)
        elif not value:
            out.add(loc, f"`{key}` needs at least one value.")
        elif target.kind == "linked":
            for j, item in enumerate(value):
                check_linked_value(item, [*loc, j], out)
        elif target.kind == "field" and target.name in TEMPLATE_FIELDS:
            for j, item in enumerate(value):
                if item is not None and not isinstance(item, str):
                    out.add([*loc, j], f"`{key}` values must be strings.")
    return resolved


def _defined_vars(defn: ExperimentDefinition, space: dict[str, SpaceKey]) -> set[str]:
    swept = {t.name for t in space.values() if t.kind == "var"}
    common: set[str] | None = None
    for sample in defn.sample_data:
        common = set(sample.vars) if common is None else common & set(sample.vars)
    return swept | (common or set())


def _name_problem(name: str, stage_index: int, earlier: list[str], defined_vars: set[str]) -> str | None:
    parts = name.split(".")
    root = parts[0]
    if root in ("input", "reference", "vars", "stages") and len(parts) == 1:
        return None
    if root == "previous":
        return None if stage_index >= 1 else "`previous` is only defined from the second stage on"
    if root == "vars":
        return None if parts[1] in defined_vars else (
            f"`{name}` is not defined: sweep `{name}` in parameter_space or give every sample a `{parts[1]}` var"
        )
    if root == "stages":
        if parts[1] not in earlier:
            return f"`{name}` is not defined: only earlier stages ({', '.join(earlier) or 'none'}) can be read"
        if len(parts) > 2 and parts[2] != "output":
            return f"`{name}` is not defined: a stage only has `output`"
        return None
    if root in templates.GLOBAL_NAMES:
        return None
    return f"`{name}` is not defined: use input, reference, vars.<name>, previous or stages.<name>.output"


def _check_template(text: str, loc: Loc, stage_index: int, defn: ExperimentDefinition,
                    defined_vars: set[str], out: _Collector) -> None:
    try:
        names = templates.referenced_names(text)
    except templates.TemplateError as exc:
        out.add(loc, exc.message)
        return
    earlier = [s.name for s in defn.pipeline_stages[:stage_index]]
    for name in sorted(names):
        problem = _name_problem(name, stage_index, earlier, defined_vars)
        if problem is not None:
            out.add(loc, f"Template uses {problem}.")


def _check_templates(defn: ExperimentDefinition, space: dict[str, SpaceKey], out: _Collector) -> None:
    defined_vars = _defined_vars(defn, space)
    for index, stage in enumerate(defn.pipeline_stages):
        for field in TEMPLATE_FIELDS:
            text = getattr(stage, field)
            if isinstance(text, str):
                _check_template(text, ["pipeline_stages", index, field], index, defn, defined_vars, out)
    for key, target in space.items():
        values = defn.parameter_space[key]
        if target.kind == "linked" and isinstance(values, list) and target.stage is not None:
            for j, item in enumerate(values):
                for field in TEMPLATE_FIELDS:
                    text = item.get(field) if isinstance(item, dict) else None
                    if isinstance(text, str):
                        _check_template(text, ["parameter_space", key, j, field], target.stage, defn,
                                        defined_vars, out)
            continue
        if target.kind != "field" or target.name not in TEMPLATE_FIELDS or not isinstance(values, list):
            continue
        stage_indexes = range(len(defn.pipeline_stages)) if target.stage is None else [target.stage]
        for j, text in enumerate(values):
            if not isinstance(text, str):
                continue
            before = len(out.errors)
            for stage_index in stage_indexes:
                _check_template(text, ["parameter_space", key, j], stage_index, defn, defined_vars, out)
            _dedupe_tail(out, before)


def _dedupe_tail(out: _Collector, start: int) -> None:
    """A swept template checked against several stages reports each problem once."""
    seen: set[tuple[str, str]] = set()
    kept = out.errors[:start]
    for error in out.errors[start:]:
        marker = (repr(error["loc"]), error["msg"])
        if marker not in seen:
            seen.add(marker)
            kept.append(error)
    out.errors = kept


def _check_models(defn: ExperimentDefinition, space: dict[str, SpaceKey], out: _Collector) -> None:
    swept_all = any(t.kind == "field" and t.name == "model" and t.stage is None for t in space.values())
    swept = {t.stage for t in space.values() if t.kind == "field" and t.name == "model"}
    for key, target in space.items():  # a linked choice sweeps the model when every value sets one
        values = defn.parameter_space[key]
        if target.kind == "linked" and isinstance(values, list) and values and all(
                isinstance(v, dict) and v.get("model") for v in values):
            swept.add(target.stage)
    for index, stage in enumerate(defn.pipeline_stages):
        if not stage.model and not swept_all and index not in swept:
            out.add(["pipeline_stages", index, "model"],
                    f"Stage `{stage.name}` has no model: set `model` or sweep it in parameter_space.")


def _check_scorers(defn: ExperimentDefinition, known: Collection[str],
                   validate_config: Callable[[str, dict[str, Any]], list[str]] | None, out: _Collector) -> None:
    keys: set[str] = set()
    sample_ids = {s.id for s in defn.sample_data}
    for index, entry in enumerate(defn.scoring_config):
        loc: Loc = ["scoring_config", index]
        if entry.scorer not in known:
            out.add([*loc, "scorer"], f"Unknown scorer `{entry.scorer}`; known: {', '.join(sorted(known))}.")
        elif validate_config is not None:
            for message in validate_config(entry.scorer, entry.config):
                out.add([*loc, "config"], message)
        if entry.weight < 0:
            out.add([*loc, "weight"], "A scorer weight must be 0 or more.")
        if entry.key in keys:
            out.add([*loc, "name"], f"Two scorers are named `{entry.key}`; give one a distinct `name`.")
        keys.add(entry.key)
        if entry.threshold is not None and not 0 <= entry.threshold <= 1:
            out.add([*loc, "threshold"], f"A scorer threshold is a score, between 0 and 1, not {entry.threshold}.")
        if entry.samples is not None:
            if not entry.samples:
                out.add([*loc, "samples"], "`samples` lists the sample ids a scorer applies to; leave it out for all.")
            for j, sample_id in enumerate(entry.samples):
                if sample_id not in sample_ids:
                    out.add([*loc, "samples", j], f"Sample `{sample_id}` does not exist.")


def validate_definition(defn: ExperimentDefinition, known_scorers: Collection[str],
                        validate_scorer_config: Callable[[str, dict[str, Any]], list[str]] | None = None) -> None:
    """Check every rule of the document; raise DefinitionError listing all problems found."""
    out = _Collector()
    _check_names(defn, out)
    space = _check_space(defn, out)
    _check_templates(defn, space, out)
    _check_models(defn, space, out)
    _check_scorers(defn, known_scorers, validate_scorer_config, out)
    if out.errors:
        raise DefinitionError(out.errors)
