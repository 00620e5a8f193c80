"""Jinja2 prompt templates: sandboxed, strict about undefined names, compiled once."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

TemplateContext = Mapping[str, Any]

# How many keys below a root name identify a variable: `vars.x`, `stages.<name>.output`.
_PATH_DEPTH = {"vars": 1, "stages": 2}

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

GLOBAL_NAMES: frozenset[str] = frozenset(_ENV.globals)


class TemplateError(Exception):
    """A template that does not parse or does not render, with a sentence saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _syntax_message(exc: TemplateSyntaxError) -> str:
    return f"Template syntax error on line {exc.lineno}: {exc.message}"


@lru_cache(maxsize=2048)
def _compile(template: str) -> Template:
    return _ENV.from_string(template)


def compile_template(template: str) -> Template:
    """The compiled (memoised) template; raises TemplateError when it does not parse."""
    try:
        return _compile(template)
    except TemplateSyntaxError as exc:
        raise TemplateError(_syntax_message(exc)) from exc
    except JinjaError as exc:
        raise TemplateError(f"Template does not compile: {exc}") from exc


def render(template: str, context: TemplateContext) -> str:
    """Render a template with the given names; raises TemplateError with a clear sentence."""
    compiled = compile_template(template)
    try:
        return compiled.render(dict(context))
    except UndefinedError as exc:
        raise TemplateError(f"Template uses an undefined name: {exc.message}") from exc
    except SecurityError as exc:
        raise TemplateError(f"Template tried an operation the sandbox forbids: {exc}") from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(_syntax_message(exc)) from exc
    except Exception as exc:  # a template may divide by zero, call a method with bad args, ...
        raise TemplateError(f"Template failed to render: {type(exc).__name__}: {exc}") from exc


def build_context(
    *,
    input: str,
    reference: str | None,
    vars: Mapping[str, Any],
    previous: str | None,
    stages: Mapping[str, str],
    stage_index: int,
) -> dict[str, Any]:
    """The names a stage's templates see (`previous` only from the second stage on)."""
    context: dict[str, Any] = {
        "input": input,
        "reference": reference if reference is not None else "",
        "vars": dict(vars),
        "stages": {name: {"output": output} for name, output in stages.items()},
    }
    if stage_index >= 1:
        context["previous"] = previous if previous is not None else ""
    return context


def merge_vars(swept: Mapping[str, Any], sample_vars: Mapping[str, Any]) -> dict[str, Any]:
    """Swept `vars.*` values with the sample's own vars merged over them."""
    return {**swept, **sample_vars}


def parse(template: str) -> nodes.Template:
    """The template's AST; raises TemplateError when it does not parse."""
    try:
        return _ENV.parse(template)
    except TemplateSyntaxError as exc:
        raise TemplateError(_syntax_message(exc)) from exc


def _chain(node: nodes.Node) -> list[str] | None:
    """`a.b["c"]` as ["a", "b", "c"]; None when a key is not a constant or the root is not a name."""
    keys: list[str] = []
    current = node
    while True:
        if isinstance(current, nodes.Getattr):
            keys.append(current.attr)
            current = current.node
        elif isinstance(current, nodes.Getitem):
            if not isinstance(current.arg, nodes.Const) or not isinstance(current.arg.value, str | int):
                return None
            keys.append(str(current.arg.value))
            current = current.node
        elif isinstance(current, nodes.Name):
            keys.append(current.name)
            return list(reversed(keys))
        else:
            return None


def _collect(node: nodes.Node, roots: set[str], out: set[str]) -> None:
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        # `vars.x.upper()`: the method name is not a variable; look at the object it is called on.
        _collect(node.node.node, roots, out)
        extra: list[nodes.Node | None] = [*node.args, *node.kwargs, node.dyn_args, node.dyn_kwargs]
        for arg in extra:
            if arg is not None:
                _collect(arg, roots, out)
        return
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        path = _chain(node)
        if path is not None and path[0] in roots:
            out.add(".".join(path[: _PATH_DEPTH.get(path[0], 0) + 1]))
            return
    for child in node.iter_child_nodes():
        _collect(child, roots, out)


def referenced_names(template: str) -> set[str]:
    """Names a template reads from outside: top-level names plus `vars.<x>` and `stages.<name>.output` paths."""
    ast = parse(template)
    top = set(meta.find_undeclared_variables(ast))
    paths: set[str] = set()
    _collect(ast, {name for name in top if name in _PATH_DEPTH}, paths)
    return top | paths
