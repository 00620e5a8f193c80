"""A trial render of a document's templates: a template that crosses a limit is refused when saved."""

from __future__ import annotations

from typing import Any

from . import templates
from .definition import ExperimentDefinition, SampleDef
from .space import SpaceError, expand_grid

STAND_IN_OUTPUT = "x" * 1024  # what an earlier stage "answered" in the trial


def template_limit_errors(defn: ExperimentDefinition) -> list[dict[str, Any]]:
    """422-style errors for every stage template that a limit stops (first config, first sample).

    Only limit violations count: an undefined name is the static check's business, and a template
    that fails on this stand-in data may well work on the real outputs. CPU-bound (bounded renders).
    """
    try:
        configs = expand_grid(defn, None, max_runs=1)
    except SpaceError:
        return []  # the space's own problems are reported when it is expanded
    if not configs:
        return []
    config = configs[0]
    sample = defn.sample_data[0] if defn.sample_data else SampleDef(id="trial", input="")
    variables = templates.merge_vars(config.get("vars") or {}, sample.vars)
    outputs: dict[str, str] = {}
    errors: list[dict[str, Any]] = []
    for index, stage in enumerate(config["stages"]):
        context = templates.build_context(input=sample.input, reference=sample.reference, vars=variables,
                                          previous=STAND_IN_OUTPUT, stages=outputs, stage_index=index)
        for field in ("system_prompt", "prompt_template"):
            text = stage.get(field)
            if not text:
                continue
            try:
                templates.render(str(text), context)
            except templates.LimitExceeded as exc:
                errors.append({"loc": ["body", "pipeline_stages", index, field], "msg": exc.message,
                               "type": "template_limit"})
            except templates.TemplateError:
                pass
        outputs[str(stage["name"])] = STAND_IN_OUTPUT
    return errors
