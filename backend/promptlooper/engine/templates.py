"""Jinja2 prompt templates: sandboxed, strict about undefined names, bounded, compiled once.

A template is user input, and it renders inside the server (estimates) and the workers (runs), so
every render is bounded up front, not after the damage: the output and every string or list a
template builds (`"x" * n`, `~`, `+`, `%`, `format`, `center`, `join`, `replace`, ...) stay under
MAX_OUTPUT_CHARS / MAX_ITEMS, every loop iteration, call, filter and operator counts against
MAX_STEPS, and a render stops after TIME_LIMIT_S. Crossing a limit is a TemplateError naming it.
"""

from __future__ import annotations

import contextvars
import functools
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

TemplateContext = Mapping[str, Any]

MAX_OUTPUT_CHARS = 1_000_000  # a rendered template, and any string a template builds on the way
MAX_ITEMS = 100_000  # any list a template builds (`[x] * n`), and Jinja's own cap on range()
MAX_STEPS = 200_000  # loop iterations + calls + filters + intercepted operators in one render
TIME_LIMIT_S = 2.0  # wall-clock backstop for one render
MAX_POWER_BITS = 4096  # `a ** b` may not produce a number wider than this
_CLOCK_EVERY = 256  # steps between two looks at the clock
_CALL_STEPS = 10  # a call (a macro's above all) costs about ten loop iterations

# How many keys below a root name identify a variable: `vars.x`, `stages.<name>.output`.
_PATH_DEPTH = {"vars": 1, "stages": 2}
_BIG_NUMBER = re.compile(r"\{[^{}]*:[^{}]*\d{7,}|%[-#0 +]*\d{7,}|%[-#0 +]*\d*\.\d{7,}")  # width/precision >= 1e6
_NESTED_WIDTH = re.compile(r"\{[^{}]*:[^{}]*\{|%[-#0 +]*\*|%[-#0 +]*\d*\.\*")
_SIZED_FILTERS = frozenset({"center", "indent", "wordwrap", "batch", "slice", "truncate"})  # ints = sizes


class TemplateError(Exception):
    """A template that does not parse or does not render, with a sentence saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LimitExceeded(TemplateError):
    """A render was stopped by one of the limits (whatever the sample: the template itself is the problem)."""


class TemplateLimitError(SecurityError):
    """A render crossed one of the limits above (raised inside Jinja, reported as a TemplateError)."""


class _Budget:
    """The steps and the deadline of one render."""

    __slots__ = ("deadline", "steps")

    def __init__(self, steps: int, seconds: float) -> None:
        self.steps = steps
        self.deadline = time.monotonic() + seconds

    def charge(self, steps: int = 1) -> None:
        before = self.steps
        self.steps -= steps
        if self.steps < 0:
            raise TemplateLimitError(
                f"the template does too much work (more than {MAX_STEPS:,} loop iterations, calls and operations)")
        if before // _CLOCK_EVERY != self.steps // _CLOCK_EVERY and time.monotonic() > self.deadline:
            raise TemplateLimitError(f"the template took longer than {TIME_LIMIT_S:g} s to render")


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("template_budget", default=None)


def _charge(steps: int = 1) -> None:
    budget = _budget.get()
    if budget is not None:
        budget.charge(steps)


def _check_size(value: Any) -> Any:
    """Refuse a string or list past the limits (after it was built: only for bounded growth, like `~`)."""
    if isinstance(value, str):
        if len(value) > MAX_OUTPUT_CHARS:
            raise TemplateLimitError(f"the template builds a text longer than {MAX_OUTPUT_CHARS:,} characters")
    elif isinstance(value, list | tuple) and len(value) > MAX_ITEMS:
        raise TemplateLimitError(f"the template builds a list longer than {MAX_ITEMS:,} items")
    return value


def _would_exceed(size: int, of: Any) -> None:
    """Refuse, before building it, a value of `size` characters (str) or items (anything else)."""
    if isinstance(of, str):
        if size > MAX_OUTPUT_CHARS:
            raise TemplateLimitError(f"the template would build a text of {size:,} characters "
                                     f"(the limit is {MAX_OUTPUT_CHARS:,})")
    elif size > MAX_ITEMS:
        raise TemplateLimitError(f"the template would build a list of {size:,} items (the limit is {MAX_ITEMS:,})")


def _check_number(value: Any) -> None:
    """Widths, counts and repetitions above the output limit are refused whatever they would do."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OUTPUT_CHARS:
        raise TemplateLimitError(f"{value:,} is larger than a template may use as a count or width "
                                 f"(at most {MAX_OUTPUT_CHARS:,})")
    if isinstance(value, float) and math.isfinite(value) and abs(value) > MAX_OUTPUT_CHARS and value.is_integer():
        raise TemplateLimitError(f"{value:,.0f} is larger than a template may use as a count or width")


def _check_format(fmt: Any, args: Iterable[Any] = ()) -> None:
    """Refuse a width or precision of a million or more, written in the format or passed for `{:{}}` / `%*d`."""
    if not isinstance(fmt, str):
        return
    if _BIG_NUMBER.search(fmt):
        raise TemplateLimitError("a format width or precision of a million or more is refused")
    if _NESTED_WIDTH.search(fmt):  # the width comes from an argument: no argument may be that large
        for arg in args:
            _check_number(arg)


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, Sized) else 0


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int):
                _would_exceed(len(seq) * max(times, 0), seq)
    elif operator == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            _would_exceed(len(left) + len(right), left)
    elif operator == "**":
        if isinstance(left, int | float) and isinstance(right, int | float) and abs(left) > 1 and right > 0:
            if right * math.log2(abs(left)) > MAX_POWER_BITS:
                raise TemplateLimitError(f"{left} ** {right} is too large a number for a template")
    elif operator == "%" and isinstance(left, str):
        _check_format(left, right if isinstance(right, tuple) else (right,))
        _would_exceed(len(left) + sum(len(str(a)) for a in (right if isinstance(right, tuple) else (right,))
                                      if isinstance(a, str)), left)


def _guarded_iter(value: Any) -> Iterator[Any]:
    """What a `{% for %}` loop iterates: every item costs one step."""
    budget = _budget.get()
    for item in value:
        if budget is not None:
            budget.charge()
        yield item


def _check_call_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for arg in (*args, *kwargs.values()):
        _check_number(arg)


def _precheck_filter(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Refuse a filter call whose result would be too large, before it is computed."""
    if not args:
        return args
    value = args[0]
    if name in _SIZED_FILTERS:
        _check_call_args(args[1:], kwargs)
    if name == "format":
        _check_format(value, args[1:])
    elif name == "replace" and isinstance(value, str) and len(args) >= 3:
        _check_replace(value, args[1], args[2])
    elif name == "indent" and isinstance(value, str):
        width = args[1] if len(args) > 1 else kwargs.get("width", 4)
        extra = len(width) if isinstance(width, str) else int(width or 0)
        _would_exceed(len(value) + (value.count("\n") + 1) * max(extra, 0), value)
    elif name in ("join", "sum") and not isinstance(value, Mapping):
        items = list(value)
        _charge(len(items))
        args = (items, *args[1:])
        separator = args[1] if len(args) > 1 else kwargs.get("d", "")
        total = sum(_sized(item) for item in items)
        if name == "join":
            total += _sized(separator) * max(len(items) - 1, 0)
            _would_exceed(total, "")
        elif items and not isinstance(items[0], int | float):
            _would_exceed(total, items[0])
    return args


def _check_replace(text: str, old: Any, new: Any) -> None:
    if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        hits = text.count(old) if old else len(text) + 1
        _would_exceed(len(text) + hits * (len(new) - len(old)), text)


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    passed = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # context/environment first

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _charge()
        args = (*args[:passed], *_precheck_filter(name, args[passed:], kwargs))
        return _check_size(func(*args, **kwargs))

    return guarded


def _range(*args: int) -> range:
    """Jinja's sandboxed range(), refusing past MAX_ITEMS with the limit's sentence."""
    items = range(*args)
    if len(items) > MAX_ITEMS:
        raise TemplateLimitError(f"range() of {len(items):,} items is refused (the limit is {MAX_ITEMS:,})")
    return items


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    from jinja2.utils import generate_lorem_ipsum

    if n > 100 or max > 1000:
        raise TemplateLimitError("lipsum() is limited to 100 paragraphs of at most 1,000 words")
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


class _Guard(NodeTransformer):
    """Rewrites a parsed template so loops pay per item and `~` is size-checked."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "_pl_iter", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Filter(node, "_pl_size", [], [], None, None, lineno=node.lineno)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, plus limits on what a template may build and how long it may work."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filters = {name: _guard_filter(name, func) for name, func in self.filters.items()}
        self.filters["_pl_iter"] = _guarded_iter
        self.filters["_pl_size"] = _check_size
        self.globals["lipsum"] = _lipsum
        self.globals["range"] = _range

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        return super()._generate(_Guard().visit(source), name, filename, defer_init=defer_init)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _charge()
        _check_binop(operator, left, right)
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _charge(_CALL_STEPS + sum(_sized(a) for a in args if not isinstance(a, str)))
        if isinstance(getattr(__obj, "__self__", None), str | list | tuple):  # ljust(n), zfill(n), ...: sizes
            _check_call_args(args, kwargs)
        if getattr(__obj, "__name__", None) == "replace" and isinstance(getattr(__obj, "__self__", None), str):
            if len(args) >= 2:
                _check_replace(__obj.__self__, args[0], args[1])
        elif getattr(__obj, "__name__", None) == "join" and isinstance(getattr(__obj, "__self__", None), str):
            if args:
                items = list(args[0])
                _would_exceed(sum(_sized(i) for i in items) + len(__obj.__self__) * max(len(items) - 1, 0), "")
                args = (items, *args[1:])
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = getattr(value, "__self__", "")

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format(fmt, (*args, *kwargs.values()))
            return str(_check_size(wrapped(*args, **kwargs)))

        return checked


_ENV = BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

GLOBAL_NAMES: frozenset[str] = frozenset(_ENV.globals)


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
    """Render a template with the given names, within the limits; raises TemplateError with a clear sentence."""
    compiled = compile_template(template)
    token = _budget.set(_Budget(MAX_STEPS, TIME_LIMIT_S))
    try:
        parts: list[str] = []
        size = 0
        for part in compiled.generate(dict(context)):
            size += len(part)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateLimitError(f"the rendered text is longer than {MAX_OUTPUT_CHARS:,} characters")
            parts.append(part)
        return "".join(parts)
    except TemplateLimitError as exc:
        raise LimitExceeded(f"Template refused: {exc.message}.") from exc
    except RecursionError as exc:
        raise LimitExceeded("Template refused: it recurses too deeply.") from exc
    except MemoryError as exc:
        raise LimitExceeded("Template refused: it needs too much memory.") from exc
    except UndefinedError as exc:
        raise TemplateError(f"Template uses an undefined name: {exc.message}") from exc
    except SecurityError as exc:
        raise TemplateError(f"Template tried an operation the sandbox forbids: {exc}") from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(_syntax_message(exc)) from exc
    except Exception as exc:  # a template may divide by zero, call a method with bad args, ...
        raise TemplateError(f"Template failed to render: {type(exc).__name__}: {exc}") from exc
    finally:
        _budget.reset(token)


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
