"""promptfoo config -> PromptLooper experiment document (the CLI's YAML form).

What maps where (README "Coming from promptfoo" shows a side-by-side):
- `prompts` (strings, `raw`, `{id, label}`, `file://` files and globs, chat-message lists) become the
  stage's prompt variants; a chat list's system messages become `system_prompt`.
- `providers` (a list of whole configurations) become ONE linked choice `stages.prompt` whose values
  set model, endpoint and request parameters together, so the sweep runs exactly prompts x providers.
  Their base URLs become `endpoints` (referenced by label with `endpoint:`; `promptlooper run` creates them).
- `tests` (inline, CSV/JSONL/YAML/JSON files, globs) merged over `defaultTest` become samples; a var
  holding a list expands into one test per value, as promptfoo does. Nunjucks `{{ var }}` becomes
  Jinja2 `{{ vars.var }}` (`{{ input }}` when every prompt reads the same single variable).
- Assertions become scorers. promptfoo asserts per test while PromptLooper scores per experiment, so
  each distinct assertion (after its `{{ var }}`s are filled with the test's vars) is one scorer
  entry restricted (`samples`) to the tests that carry it: its score is the pass rate over exactly
  those tests, and its `threshold` says when one sample passes (JUnit). `defaultTest` assertions
  apply to every sample.
Everything that cannot map is listed in the report (`Imported.left_out`) and left out.
"""

from __future__ import annotations

import csv
import glob
import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, meta
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from .base import Imported, ImportFailed

STAGE = "prompt"
PROVIDER_BASES = {
    "openai": "https://api.openai.com/v1",
    "ollama": "http://localhost:11434/v1",
    "localai": "http://localhost:8080/v1",
    "llama": "http://localhost:8080/v1",
    "vllm": "http://localhost:8000/v1",
}
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY"}
REQUEST_PARAMS = frozenset({
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop", "presence_penalty",
    "frequency_penalty", "response_format", "logit_bias", "user", "top_k", "min_p", "repeat_penalty",
    "reasoning_effort",
})
PARAM_ALIASES = {"num_predict": "max_tokens", "maxTokens": "max_tokens", "topP": "top_p", "topK": "top_k",
                 "presencePenalty": "presence_penalty", "frequencyPenalty": "frequency_penalty",
                 "stop_sequences": "stop"}
ENDPOINT_KEYS = frozenset({"apiBaseUrl", "apiHost", "apiKey", "apiKeyEnvar", "baseUrl"})
TOP_LEVEL = frozenset({"description", "prompts", "providers", "tests", "defaultTest", "scenarios"})
RUNNER_OPTIONS = frozenset({"outputPath", "sharing", "evaluateOptions", "writeLatestResults", "tags",
                            "commandLineOptions", "metadata"})
DEFAULT_EMBEDDING_MODEL = "text-embedding-3-large"

RUBRIC_PROMPT = """You grade an output against a rubric.
Rubric:
{{% raw %}}{rubric}{{% endraw %}}

Output:
{{{{ output }}}}

Answer with one JSON object: {{"reason": "<why>", "pass": <true or false>, "score": <a number from 0 to 1>}}."""
GEVAL_PROMPT = """You evaluate an output on these criteria:
{{% raw %}}{rubric}{{% endraw %}}

Input:
{{{{ input }}}}

Output:
{{{{ output }}}}

Think through the criteria step by step, then answer with one JSON object:
{{"reason": "<why>", "score": <a number from 0 to 10>}}."""
FACTUALITY_PROMPT = """You compare a submitted answer with an expert answer for factual content.
Question:
{{{{ input }}}}

Expert answer:
{{% raw %}}{rubric}{{% endraw %}}

Submitted answer:
{{{{ output }}}}

The submission may be a subset, a superset, the same as, or differ from the expert answer in ways that do not
matter for factuality; any of these scores 1. If it disagrees with the expert answer, it scores 0.
Answer with one JSON object: {{"reason": "<why>", "score": <0 or 1>}}."""
CLOSEDQA_PROMPT = """You check whether an output meets a criterion.
Input:
{{{{ input }}}}

Criterion:
{{% raw %}}{rubric}{{% endraw %}}

Output:
{{{{ output }}}}

Answer with one JSON object: {{"reason": "<why>", "score": <1 if the output meets the criterion, else 0>}}."""
JUDGES = {"llm-rubric": (RUBRIC_PROMPT, None, 0.5), "g-eval": (GEVAL_PROMPT, 10.0, 0.7),
          "factuality": (FACTUALITY_PROMPT, None, None), "model-graded-closedqa": (CLOSEDQA_PROMPT, None, None)}
KEYWORD_TYPES = {"contains", "icontains", "contains-any", "icontains-any", "contains-all", "icontains-all"}
REGEX_TYPES = {"regex", "equals", "starts-with"}
JSON_TYPES = {"is-json", "contains-json"}
UNMAPPED_WHY = {
    "javascript": "PromptLooper runs no JavaScript; rewrite it as a `python` assertion",
    "latency": "no scorer sees a run's latency (it is recorded per run: the leaderboard's duration_ms); "
               "there is no honest per-sample equivalent",
    "cost": "no scorer sees a call's cost (it is recorded per run: cost_estimate; a sweep `budget` caps "
            "the total); there is no honest per-sample equivalent",
    "perplexity": "needs token logprobs, which PromptLooper does not record",
    "perplexity-score": "needs token logprobs, which PromptLooper does not record",
    "levenshtein": "there is no edit-distance scorer",
    "rouge-n": "there is no ROUGE scorer",
    "bleu": "there is no BLEU scorer",
    "moderation": "there is no moderation scorer",
    "select-best": "compares outputs of several prompts; PromptLooper scores each output alone",
    "is-valid-openai-function-call": "there is no function-call scorer",
    "is-valid-openai-tools-call": "there is no tool-call scorer",
    "assert-set": "nested assertion sets are not imported",
}

KNOWN_TYPES = frozenset({*KEYWORD_TYPES, *REGEX_TYPES, *JSON_TYPES, *JUDGES, *UNMAPPED_WHY, "similar", "python",
                         "webhook", "grade", "javascript"})

_ENV = Environment()
_VALUES = SandboxedEnvironment()


@dataclass
class Prompt:
    """One prompt variant."""

    label: str
    template: str
    system: str | None = None


@dataclass
class Provider:
    """One whole configuration: endpoint, model and request parameters."""

    label: str
    endpoint: str  # the endpoint's label in the document's `endpoints`
    model: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Test:
    """One promptfoo test case, after defaultTest was merged in."""

    description: str | None
    vars: dict[str, Any]
    asserts: list[tuple[str, dict[str, Any]]]  # (where it came from, the assertion)
    provider: Any = None  # options.provider for this test's model-graded assertions


def _short(value: Any, width: int = 32) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def convert_nunjucks(template: str, input_var: str | None) -> tuple[str, set[str]]:
    """A promptfoo (Nunjucks) template as a PromptLooper (Jinja2) one, and the variables it reads.

    Every free variable `x` becomes `vars.x` (`input_var` becomes `input`); Nunjucks' `dump` filter is
    Jinja2's `tojson`. Filter and test names, attributes and loop variables are left alone.
    """
    try:
        tokens = list(_ENV.lex(template))
    except JinjaError as exc:
        raise ValueError(f"the template does not parse: {exc}") from None
    previous = ""
    renamed: list[tuple[str, str]] = []
    for _, kind, value in tokens:
        if kind == "name" and value == "dump" and previous == "|":
            value = "tojson"
        renamed.append((kind, value))
        if kind != "whitespace":
            previous = value
    source = "".join(value for _, value in renamed)
    try:
        free = set(meta.find_undeclared_variables(_ENV.parse(source))) - set(_ENV.globals)
    except JinjaError as exc:
        raise ValueError(f"the template does not parse: {exc}") from None
    out: list[str] = []
    previous = ""
    for kind, value in renamed:
        if kind == "name" and value in free and previous not in (".", "|", "is") and not _kwarg_next(renamed, len(out)):
            value = "input" if value == input_var else f"vars.{value}"
        out.append(value)
        if kind != "whitespace":
            previous = value
    return "".join(out), free


def _kwarg_next(tokens: list[tuple[str, str]], index: int) -> bool:
    for kind, value in tokens[index + 1:]:
        if kind != "whitespace":
            return value == "="
    return False


def _fill(value: Any, variables: dict[str, Any]) -> Any:
    """An assertion value with the test's `{{ var }}`s filled in (promptfoo renders them per test)."""
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        try:
            return _VALUES.from_string(value).render(**variables)
        except JinjaError:
            return value
    if isinstance(value, list):
        return [_fill(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, variables) for k, v in value.items()}
    return value


class _Converter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.dir = path.parent
        self.left_out: list[str] = []
        self.changed: list[str] = []
        self.endpoints: dict[str, dict[str, Any]] = {}  # url -> endpoint document

    # ---- files ---------------------------------------------------------------------------------

    def files(self, ref: str, where: str) -> list[Path]:
        pattern = ref.removeprefix("file://")
        full = pattern if Path(pattern).is_absolute() else str(self.dir / pattern)
        found = sorted(Path(p) for p in glob.glob(full, recursive=True))
        if not found:
            raise ImportFailed(f"{where}: `{ref}` matches no file (relative to {self.dir})")
        return found

    def read_data(self, path: Path) -> Any:
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
        if path.suffix == ".json":
            return json.loads(text)
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                return list(csv.DictReader(handle))
        return text

    # ---- prompts -------------------------------------------------------------------------------

    def prompts(self, raw: Any) -> list[tuple[str, Any]]:
        """(label, body) of every prompt; body is a string or a chat-message list."""
        if isinstance(raw, dict) and not ({"raw", "id"} & set(raw)):  # {"file://a.txt": "label", ...}
            raw = [{"id": key, "label": label} for key, label in raw.items()]
        items = raw if isinstance(raw, list) else [raw]
        out: list[tuple[str, Any]] = []
        for index, item in enumerate(items):
            where = f"prompts[{index}]"
            label: str | None = None
            if isinstance(item, dict):
                label = item.get("label") or item.get("id")
                if "raw" in item:
                    out.append((str(label or _short(item["raw"])), item["raw"]))
                    continue
                item = item.get("id")
            if not isinstance(item, str):
                self.left_out.append(f"{where}: a prompt of type {type(item).__name__} is not understood")
                continue
            if item.startswith("file://"):
                out += self.prompt_files(item, label, where)
            else:
                out.append((label or _short(item), item))
        return out

    def prompt_files(self, ref: str, label: str | None, where: str) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        ref = re.sub(r"(\.(?:py|js|ts|mjs|cjs)):\w+$", r"\1", ref)  # `file://x.py:function`
        for path in self.files(ref, where):
            if path.suffix in (".py", ".js", ".ts", ".mjs", ".cjs"):
                self.left_out.append(f"{where}: `{path.name}` is a prompt function ({path.suffix}); "
                                     "PromptLooper prompts are templates")
                continue
            body = self.read_data(path)
            if isinstance(body, str):
                parts = [p.strip("\n") for p in re.split(r"^---$", body, flags=re.MULTILINE)] if path.suffix in (
                    ".txt", ".md", "") else [body]
                parts = [p for p in parts if p.strip()]
                for n, part in enumerate(parts):
                    name = label or path.name
                    out.append((name if len(parts) == 1 else f"{name} #{n + 1}", part))
            else:
                out.append((label or path.name, body))
        return out

    def to_prompt(self, label: str, body: Any, input_var: str | None, where: str) -> Prompt | None:
        if isinstance(body, str):
            stripped = body.strip()
            if stripped.startswith("[") and stripped.endswith("]"):
                try:
                    parsed = json.loads(stripped)
                except ValueError:
                    parsed = None
                if isinstance(parsed, list) and all(isinstance(m, dict) and "role" in m for m in parsed):
                    body = parsed
        if isinstance(body, list):
            return self.chat_prompt(label, body, input_var, where)
        if not isinstance(body, str):
            self.left_out.append(f"{where} ({label}): a prompt of type {type(body).__name__} is not understood")
            return None
        return Prompt(label, convert_nunjucks(body, input_var)[0])

    def chat_prompt(self, label: str, messages: list[Any], input_var: str | None, where: str) -> Prompt | None:
        system = [str(m.get("content", "")) for m in messages if isinstance(m, dict) and m.get("role") == "system"]
        rest = [m for m in messages if isinstance(m, dict) and m.get("role") != "system"]
        if not rest:
            self.left_out.append(f"{where} ({label}): a chat prompt without a user message")
            return None
        if len(rest) == 1 and rest[0].get("role") == "user":
            template = str(rest[0].get("content", ""))
        else:
            template = "\n\n".join(f"{m.get('role')}: {m.get('content', '')}" for m in rest)
            self.changed.append(f"{where} ({label}): a multi-turn chat ({len(rest)} non-system messages) is sent as "
                                "ONE user message with `role:` prefixes")
        return Prompt(label, convert_nunjucks(template, input_var)[0],
                      convert_nunjucks("\n\n".join(system), input_var)[0] if system else None)

    # ---- providers -----------------------------------------------------------------------------

    def provider(self, item: Any, where: str) -> Provider | None:
        config: dict[str, Any] = {}
        label: str | None = None
        if isinstance(item, dict) and "id" not in item and len(item) == 1:  # {"openai:gpt-4": {config: ...}}
            (pid, body), = item.items()
            item = {"id": pid, **(body if isinstance(body, dict) else {})}
        if isinstance(item, dict):
            pid = item.get("id")
            label = item.get("label")
            config = dict(item.get("config") or {})
            for key in sorted(set(item) - {"id", "label", "config"}):
                self.left_out.append(f"{where}.{key}: provider option not imported")
        else:
            pid = item
        if not isinstance(pid, str) or not pid:
            self.left_out.append(f"{where}: a provider without an `id` string")
            return None
        if pid.startswith("file://"):
            self.left_out.append(f"{where} ({pid}): provider files are not imported; list the provider inline")
            return None
        parts = pid.split(":")
        kind, rest = parts[0], parts[1:]
        if kind in ("http", "https"):
            return self.http_provider(pid, label, config, where)
        if kind not in PROVIDER_BASES or not rest:
            self.left_out.append(f"{where} ({pid}): not an OpenAI-compatible provider PromptLooper can call "
                                 f"(supported: {', '.join(sorted(PROVIDER_BASES))}, http to a /chat/completions URL)")
            return None
        api = "chat"
        if rest[0] in ("chat", "completion", "embedding", "embeddings", "responses", "assistant"):
            api, rest = rest[0], rest[1:]
        elif kind in ("ollama", "llama"):
            api = "completion"
        model = ":".join(rest)
        if not model:
            self.left_out.append(f"{where} ({pid}): no model in the provider id")
            return None
        if api in ("embedding", "embeddings", "assistant"):
            self.left_out.append(f"{where} ({pid}): a `{api}` provider is not a chat model")
            return None
        if api != "chat":
            self.changed.append(f"{where} ({pid}): the `{api}` API is called as chat completions "
                                "(PromptLooper speaks /chat/completions only)")
        base = config.pop("apiBaseUrl", None) or config.pop("baseUrl", None)
        host = config.pop("apiHost", None)
        if not base and host:
            base = str(host) if "://" in str(host) else f"https://{host}/v1"
        url = str(base or PROVIDER_BASES[kind]).rstrip("/")
        if kind == "ollama" and not base and not host:
            self.changed.append(f"{where} ({pid}): Ollama is called through its OpenAI-compatible API at {url}")
        endpoint = self.endpoint(url, config, kind, label or pid, where)
        return Provider(label or pid, endpoint, model, self.params(config, where))

    def http_provider(self, pid: str, label: str | None, config: dict[str, Any], where: str) -> Provider | None:
        url = str(config.pop("url", "") or (pid if "://" in pid else ""))
        body = config.pop("body", None)
        model = body.get("model") if isinstance(body, dict) else None
        if not url.rstrip("/").endswith("/chat/completions") or not isinstance(model, str):
            self.left_out.append(f"{where} ({pid}): an http provider is imported only when its url ends with "
                                 "/chat/completions and its body names a `model`")
            return None
        config.pop("method", None)
        headers = config.pop("headers", None)
        if headers:
            self.left_out.append(f"{where}.config.headers: custom headers are not imported (set the endpoint's key)")
        extra = {k: v for k, v in (body or {}).items() if k not in ("model", "messages")}
        base = url.rstrip("/").removesuffix("/chat/completions")
        endpoint = self.endpoint(base, config, "http", label or base, where)
        return Provider(label or pid, endpoint, model, self.params({**extra, **config}, where))

    def endpoint(self, url: str, config: dict[str, Any], kind: str, label: str, where: str) -> str:
        key = config.pop("apiKey", None)
        key_env = config.pop("apiKeyEnvar", None)
        if isinstance(key, str):
            env = re.fullmatch(r"\{\{\s*env\.(\w+)\s*\}\}", key.strip())
            if env:
                key, key_env = None, env.group(1)
        existing = self.endpoints.get(url)
        if existing is not None:
            return str(existing["label"])
        document: dict[str, Any] = {"label": self.unique_label(label), "url": url}
        if isinstance(key, str) and key:
            document["api_key"] = key
        elif key_env or kind in DEFAULT_KEY_ENV:
            document["api_key_env"] = str(key_env or DEFAULT_KEY_ENV[kind])
        self.endpoints[url] = document
        return str(document["label"])

    def unique_label(self, label: str) -> str:
        taken = {e["label"] for e in self.endpoints.values()}
        candidate, n = label, 2
        while candidate in taken:
            candidate, n = f"{label} #{n}", n + 1
        return candidate

    def params(self, config: dict[str, Any], where: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for key, value in config.items():
            name = PARAM_ALIASES.get(key, key)
            if name in REQUEST_PARAMS:
                params[name] = value
            elif key not in ENDPOINT_KEYS:
                self.left_out.append(f"{where}.config.{key}: not a request parameter PromptLooper sends")
        return params

    # ---- tests ---------------------------------------------------------------------------------

    def raw_tests(self, raw: Any) -> list[dict[str, Any]]:
        items = raw if isinstance(raw, list) else [raw] if raw is not None else []
        tests: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            if isinstance(item, str) and item.startswith("file://"):
                for path in self.files(item, f"tests[{index}]"):
                    tests += self.file_tests(path)
            elif isinstance(item, str):
                tests += self.file_tests(self.files(item, f"tests[{index}]")[0])
            elif isinstance(item, dict):
                tests.append(item)
            else:
                self.left_out.append(f"tests[{index}]: a test of type {type(item).__name__} is not understood")
        return tests

    def file_tests(self, path: Path) -> list[dict[str, Any]]:
        data = self.read_data(path)
        if path.suffix == ".csv":
            return [self.csv_test(row, f"{path.name} row {n + 2}") for n, row in enumerate(data)]
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise ImportFailed(f"{path}: a tests file must hold a list of tests")
        tests = []
        for row in data:
            if isinstance(row, dict) and not ({"vars", "assert", "description", "options"} & set(row)):
                row = {"vars": row}  # a JSONL/YAML row of plain vars
            tests.append(row)
        return tests

    def csv_test(self, row: dict[str, str], where: str) -> dict[str, Any]:
        test: dict[str, Any] = {"vars": {}, "assert": []}
        for column, value in row.items():
            if column is None:
                continue
            if column.startswith("__expected"):
                if value and value.strip():
                    test["assert"].append(self.csv_assert(value.strip()))
            elif column == "__description":
                test["description"] = value
            elif column.startswith("__"):
                self.left_out.append(f"{where}: column `{column}` is not imported")
            else:
                test["vars"][column] = value
        return test

    @staticmethod
    def csv_assert(text: str) -> dict[str, Any]:
        """promptfoo's `__expected` cell: `type: value`, a bare type, or a plain value (equals)."""
        match = re.fullmatch(r"(not-)?([a-z][a-z-]*)\s*(?::\s*(.*))?", text, re.DOTALL)
        if match and match.group(2) in KNOWN_TYPES and (
                match.group(3) is not None or match.group(2) in ("is-json", "contains-json")):
            kind = (match.group(1) or "") + match.group(2)
            if match.group(3) is None:
                return {"type": kind}
            value: Any = match.group(3)
            if kind.removeprefix("not-").removeprefix("i").startswith(("contains-any", "contains-all")):
                value = [v.strip() for v in next(csv.reader([value]))]
            if match.group(2) in ("python", "javascript") or kind.startswith("grade"):
                return {"type": "llm-rubric" if kind.startswith("grade") else kind, "value": value}
            return {"type": kind, "value": value}
        if text.startswith("fn:"):
            return {"type": "javascript", "value": text[3:]}
        if text.startswith("eval:"):
            return {"type": "javascript", "value": text[5:]}
        return {"type": "equals", "value": text}

    def tests(self, raw_tests: Any, default: Any) -> list[Test]:
        if isinstance(default, str) and default.startswith("file://"):
            default = self.read_data(self.files(default, "defaultTest")[0])
        default = default if isinstance(default, dict) else {}
        for key in sorted(set(default) - {"vars", "assert", "options", "description"}):
            self.left_out.append(f"defaultTest.{key}: not imported")
        default_vars = dict(default.get("vars") or {})
        default_asserts = [(f"defaultTest.assert[{i}]", a) for i, a in enumerate(default.get("assert") or [])]
        default_options = default.get("options") or {}
        self.option_report(default_options, "defaultTest.options")
        out: list[Test] = []
        raw = self.raw_tests(raw_tests) or [{}]
        for index, item in enumerate(raw):
            where = f"tests[{index}]"
            for key in sorted(set(item) - {"vars", "assert", "options", "description"}):
                self.left_out.append(f"{where}.{key}: not imported")
            options = item.get("options") or {}
            self.option_report(options, f"{where}.options")
            variables = {**default_vars, **self.load_vars(item.get("vars") or {}, where)}
            asserts = default_asserts + [(f"{where}.assert[{i}]", a) for i, a in enumerate(item.get("assert") or [])]
            provider = options.get("provider") or default_options.get("provider")
            for combo in self.expand(variables):
                out.append(Test(item.get("description"), combo, asserts, provider))
        return out

    def option_report(self, options: dict[str, Any], where: str) -> None:
        for key in sorted(set(options) - {"provider"}):
            self.left_out.append(f"{where}.{key}: not imported (e.g. a JavaScript transform or a prefix)")

    def load_vars(self, raw: Any, where: str) -> dict[str, Any]:
        if isinstance(raw, str) and raw.startswith("file://"):
            data = self.read_data(self.files(raw, f"{where}.vars")[0])
            return dict(data) if isinstance(data, dict) else {}
        out: dict[str, Any] = {}
        for name, value in dict(raw).items():
            if isinstance(value, str) and value.startswith("file://"):
                path = self.files(value, f"{where}.vars.{name}")[0]
                if path.suffix in (".py", ".js", ".ts"):
                    self.left_out.append(f"{where}.vars.{name}: `{path.name}` is code; only data files are read")
                    continue
                value = self.read_data(path)
            out[str(name)] = value
        return out

    @staticmethod
    def expand(variables: dict[str, Any]) -> list[dict[str, Any]]:
        """promptfoo runs a test once per combination of its list-valued vars."""
        lists = [(k, v) for k, v in variables.items() if isinstance(v, list)]
        if not lists:
            return [variables]
        keys = [k for k, _ in lists]
        return [{**variables, **dict(zip(keys, combo, strict=True))} for combo in
                itertools.product(*(v or [None] for _, v in lists))]

    # ---- assertions ----------------------------------------------------------------------------

    def judge(self, provider: Any, fallback: Provider | None, where: str) -> tuple[str, str] | None:
        """(endpoint label, model) of a grading provider."""
        if isinstance(provider, dict) and "id" not in provider and ("text" in provider or "embedding" in provider):
            provider = provider.get("text") or provider.get("embedding")
        if provider is not None:
            parsed = self.provider(provider, f"{where}.provider")
            if parsed is not None:
                return parsed.endpoint, parsed.model
        return (fallback.endpoint, fallback.model) if fallback is not None else None

    def scorer(self, item: Any, test: Test, fallback: Provider | None, where: str) -> dict[str, Any] | None:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            self.left_out.append(f"{where}: an assertion without a `type`")
            return None
        kind: str = item["type"]
        if "transform" in item:
            self.left_out.append(f"{where} ({kind}): it has a `transform` (JavaScript), so it is left out whole")
            return None
        negate = kind.startswith("not-")
        base = kind.removeprefix("not-")
        value = _fill(item.get("value"), test.vars)
        if isinstance(value, str) and value.startswith("file://") and base not in ("python", *JSON_TYPES):
            value = self.read_data(self.files(value, where)[0])  # promptfoo reads the value from the file
            value = value.strip() if isinstance(value, str) else value
        entry: dict[str, Any] | None = None
        threshold = item.get("threshold")
        if base in KEYWORD_TYPES:
            entry = self.keyword(base, value, negate, where)
            if entry is not None and threshold is None and base.endswith("contains-all"):
                keywords = entry["config"]["keywords"]
                threshold = 1 / len(keywords) if negate else 1.0
        elif base in REGEX_TYPES:
            entry = self.regex(base, value, negate, where)
        elif base in JSON_TYPES:
            config: dict[str, Any] = {"type": "json_schema" if value else "json"}
            if value:
                schema = self.read_data(self.files(value, where)[0]) if isinstance(value, str) else value
                config["schema"] = schema
            config["allow_code_fence"] = False
            if base == "contains-json":
                config["anywhere"] = True
            if negate:
                config["negate"] = True
            entry = {"scorer": "format", "config": config}
        elif negate:
            self.left_out.append(f"{where} ({kind}): a negated `{base}` has no PromptLooper equivalent")
            return None
        elif base == "similar":
            entry = self.similar(item, value, test, fallback, where)
            threshold = 0.75 if threshold is None else threshold
        elif base in JUDGES:
            entry = self.judge_entry(base, item, value, test, fallback, where)
            if threshold is None:
                threshold = JUDGES[base][2]
        elif base == "python":
            entry = self.python(value, where)
        elif base == "webhook":
            if not isinstance(value, str):
                self.left_out.append(f"{where} (webhook): no URL")
                return None
            entry = {"scorer": "webhook", "config": {"url": value}}
            note = (f"{kind} assertions: PromptLooper POSTs {{input, output, reference, context}} and reads "
                    "{\"score\": x} back; a webhook answering only {\"pass\": true} scores 0")
            if note not in self.changed:
                self.changed.append(note)
        else:
            self.left_out.append(f"{where} ({kind}): {UNMAPPED_WHY.get(base, 'no PromptLooper scorer does this')}")
            return None
        if entry is None:
            return None
        entry["weight"] = float(item.get("weight", 1.0))
        if isinstance(threshold, int | float) and not isinstance(threshold, bool) and 0 <= threshold <= 1:
            entry["threshold"] = float(threshold)
        elif threshold is not None:
            self.left_out.append(f"{where} ({kind}): its threshold {threshold!r} is not a score between 0 and 1; "
                                 "the assertion is imported without it")
        entry["name"] = str(item.get("metric") or (f"{kind}: {_short(value)}" if value is not None else kind))
        return entry

    def keyword(self, base: str, value: Any, negate: bool, where: str) -> dict[str, Any] | None:
        if isinstance(value, str):
            keywords = [value] if base in ("contains", "icontains") else [v.strip() for v in value.split(",")]
        elif isinstance(value, list):
            keywords = [str(v) for v in value]
        elif isinstance(value, int | float) and not isinstance(value, bool):
            keywords = [str(value)]
        else:
            self.left_out.append(f"{where} ({base}): no value to look for")
            return None
        if not keywords or any(not k.strip() for k in keywords):
            self.left_out.append(f"{where} ({base}): a blank value")
            return None
        config: dict[str, Any] = {"keywords": keywords, "mode": "all" if base.endswith("all") else "any",
                                  "case_sensitive": not base.startswith("i")}
        if negate:
            config["negate"] = True
        return {"scorer": "keyword", "config": config}

    def regex(self, base: str, value: Any, negate: bool, where: str) -> dict[str, Any] | None:
        if base == "regex":
            if not isinstance(value, str) or not value:
                self.left_out.append(f"{where} (regex): no pattern")
                return None
            try:
                re.compile(value)
            except re.error as exc:
                self.left_out.append(f"{where} (regex): `{value}` is not a Python regular expression ({exc})")
                return None
            pattern = value
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            pattern = r"\A" + re.escape(str(value)) + (r"\Z" if base == "equals" else "")
        else:
            self.left_out.append(f"{where} ({base}): only text values are compared")
            return None
        config: dict[str, Any] = {"type": "regex", "pattern": pattern}
        if negate:
            config["negate"] = True
        return {"scorer": "format", "config": config}

    def similar(self, item: dict[str, Any], value: Any, test: Test, fallback: Provider | None,
                where: str) -> dict[str, Any] | None:
        if isinstance(value, list):
            if len(value) > 1:
                self.changed.append(f"{where} (similar): compared with the first of its {len(value)} values only")
            value = value[0] if value else None
        if not isinstance(value, str) or not value.strip():
            self.left_out.append(f"{where} (similar): no text to compare with")
            return None
        provider = item.get("provider") or test.provider
        if isinstance(provider, dict) and "id" not in provider and "embedding" in provider:
            provider = provider["embedding"]
        pid = provider.get("id") if isinstance(provider, dict) else provider
        model = DEFAULT_EMBEDDING_MODEL
        embedding = re.fullmatch(r"([^:]+):embeddings?:(.+)", pid) if isinstance(pid, str) else None
        if embedding is not None:
            model = embedding.group(2)
            chat_id = f"{embedding.group(1)}:chat:{model}"
            provider = {**provider, "id": chat_id} if isinstance(provider, dict) else chat_id
        else:
            note = (f"similar assertions: embeddings use `{model}` (promptfoo's default) on the grading "
                    "provider's endpoint; set `provider: openai:embedding:<model>` to choose")
            if note not in self.changed:
                self.changed.append(note)
        endpoint = self.judge(provider, fallback, where)
        if endpoint is None:
            self.left_out.append(f"{where} (similar): no provider to compute embeddings with")
            return None
        return {"scorer": "embedding_similarity", "config": {"endpoint": endpoint[0], "model": model,
                                                             "reference": value}}

    def judge_entry(self, base: str, item: dict[str, Any], value: Any, test: Test, fallback: Provider | None,
                    where: str) -> dict[str, Any] | None:
        if not isinstance(value, str) or not value.strip():
            self.left_out.append(f"{where} ({base}): no rubric text")
            return None
        judge = self.judge(item.get("provider") or test.provider, fallback, where)
        if judge is None:
            self.left_out.append(f"{where} ({base}): no grading provider")
            return None
        template, scale, _ = JUDGES[base]
        config: dict[str, Any] = {"endpoint": judge[0], "model": judge[1],
                                  "prompt": template.format(rubric=value.replace("{% endraw %}", "")),
                                  "params": {"temperature": 0}}
        if scale is not None:
            config["scale"] = scale
        return {"scorer": "llm_judge", "config": config}

    def python(self, value: Any, where: str) -> dict[str, Any] | None:
        if not isinstance(value, str) or not value.strip():
            self.left_out.append(f"{where} (python): no code")
            return None
        if value.startswith("file://"):
            ref, _, function = value.removeprefix("file://").partition(":")
            path = self.files(ref, where)[0]
            code = path.read_text(encoding="utf-8") + f"\n\ndef _promptfoo(output, context):\n" \
                                                      f"    return {function or 'get_assert'}(output, context)\n"
        elif "\n" in value.strip() or "return " in value:
            body = "\n".join("    " + line for line in value.strip("\n").splitlines())
            code = f"def _promptfoo(output, context):\n{body}\n"
        else:
            code = f"def _promptfoo(output, context):\n    return ({value.strip()})\n"
        code += (
            "\n\ndef score(input, output, context):\n"
            "    result = _promptfoo(output, context)\n"
            "    if isinstance(result, dict):  # a promptfoo GradingResult\n"
            "        result = result.get('score', 1.0 if result.get('pass') else 0.0)\n"
            "    if isinstance(result, bool):\n"
            "        return 1.0 if result else 0.0\n"
            "    return float(result)\n"
        )
        return {"scorer": "python", "config": {"code": code}}


def is_promptfoo_config(document: Any) -> bool:
    """Whether a loaded YAML document is a promptfoo config (it has `prompts` and `providers` or `tests`)."""
    return isinstance(document, dict) and "prompts" in document and (
        "providers" in document or "tests" in document) and "pipeline_stages" not in document


def _input_var(prompt_vars: Iterable[set[str]], tests: list[Test]) -> str | None:
    sets = list(prompt_vars)
    if not sets or any(s != sets[0] for s in sets) or len(sets[0]) != 1:
        return None
    (name,) = sets[0]
    if tests and all(isinstance(t.vars.get(name), str) for t in tests):
        return name
    return None


def _sample_id(test: Test, index: int, taken: set[str]) -> str:
    base = " ".join(str(test.description).split())[:60] if test.description else f"test-{index + 1}"
    candidate = base if base not in taken else f"{base} #{index + 1}"
    taken.add(candidate)
    return candidate


def convert(path: Path) -> Imported:
    """Convert the promptfoo config at `path`; raise ImportFailed when there is nothing runnable."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ImportFailed(f"cannot read {path}: {exc}") from exc
    if not is_promptfoo_config(raw):
        raise ImportFailed(f"{path} is not a promptfoo config (it needs `prompts` and `providers` or `tests`)")
    return convert_document(raw, path)


def convert_document(raw: dict[str, Any], path: Path) -> Imported:
    """Convert a loaded promptfoo config (`path` locates its relative files)."""
    conv = _Converter(path)
    for key in sorted(set(raw) - TOP_LEVEL):
        why = "a promptfoo runner option (use promptlooper run's flags)" if key in RUNNER_OPTIONS else "not imported"
        conv.left_out.append(f"{key}: top-level key, {why}")
    if "scenarios" in raw:
        conv.left_out.append("scenarios: not imported (list their tests under `tests`)")
    bodies = conv.prompts(raw.get("prompts"))
    providers_raw = raw.get("providers") or []
    providers_raw = providers_raw if isinstance(providers_raw, list) else [providers_raw]
    providers = [p for i, item in enumerate(providers_raw) if (p := conv.provider(item, f"providers[{i}]"))]
    tests = conv.tests(raw.get("tests"), raw.get("defaultTest"))
    free: list[set[str]] = []
    for _, body in bodies:
        texts = [body] if isinstance(body, str) else [str(m.get("content", "")) for m in body if isinstance(m, dict)]
        names: set[str] = set()
        for text in texts:
            try:
                names |= convert_nunjucks(text, None)[1]
            except ValueError:
                pass
        free.append(names)
    input_var = _input_var(free, tests)
    prompts: list[Prompt] = []
    for index, (label, body) in enumerate(bodies):
        try:
            prompt = conv.to_prompt(label, body, input_var, f"prompts[{index}]")
        except ValueError as exc:
            conv.left_out.append(f"prompts[{index}] ({label}): {exc}")
            continue
        if prompt is not None:
            prompts.append(prompt)
    if not prompts:
        raise ImportFailed(f"{path}: no prompt could be imported")
    if not providers:
        raise ImportFailed(f"{path}: no provider could be imported (see the report)\n" + "\n".join(conv.left_out))
    used = set().union(*free)
    taken: set[str] = set()
    samples: list[dict[str, Any]] = []
    for index, test in enumerate(tests):
        variables = dict(test.vars)  # all of them: python assertions read context["vars"]
        for name in sorted(used - set(test.vars)):
            variables[name] = ""  # promptfoo renders an undefined var as empty text
        first = next((test.vars[n] for n in sorted(used) if n in test.vars), "")
        text = test.vars[input_var] if input_var else first if isinstance(first, str) else json.dumps(first)
        sample: dict[str, Any] = {"id": _sample_id(test, index, taken), "input": text}
        if variables:
            sample["vars"] = variables
        samples.append(sample)
    scoring = _scoring(conv, tests, samples, providers[0])
    document = _document(raw, path, conv, prompts, providers, samples, scoring)
    configs = len(prompts) * len(providers)
    summary = (f"{len(prompts)} prompt(s) x {len(providers)} provider(s) x {len(samples)} test(s) = "
               f"{configs * len(samples)} LLM calls ({configs} configurations), {len(scoring)} scorer(s)")
    labels = [f"  prompts: {', '.join(f'{i + 1}. {p.label}' for i, p in enumerate(prompts))}",
              f"  providers: {', '.join(f'{i + 1}. {p.label}' for i, p in enumerate(providers))}"]
    return Imported(str(path), document, list(dict.fromkeys(conv.left_out)), list(dict.fromkeys(conv.changed)),
                    summary, labels)


def _scoring(conv: _Converter, tests: list[Test], samples: list[dict[str, Any]],
             fallback: Provider) -> list[dict[str, Any]]:
    groups: dict[str, tuple[dict[str, Any], list[str]]] = {}
    reported: set[str] = set()
    for test, sample in zip(tests, samples, strict=True):
        for where, item in test.asserts:
            before = len(conv.left_out), len(conv.changed)
            entry = conv.scorer(item, test, fallback, where)
            if where.startswith("defaultTest") and where in reported:  # report defaultTest problems once
                del conv.left_out[before[0]:]
                del conv.changed[before[1]:]
            reported.add(where)
            if entry is None:
                continue
            signature = json.dumps(entry, sort_keys=True)
            groups.setdefault(signature, (entry, []))[1].append(sample["id"])
    every = [s["id"] for s in samples]
    names: dict[str, int] = {}
    out: list[dict[str, Any]] = []
    for entry, ids in groups.values():
        name = entry.pop("name")
        names[name] = names.get(name, 0) + 1
        if names[name] > 1:
            name = f"{name} #{names[name]}"
        scored: dict[str, Any] = {"scorer": entry["scorer"], "name": name, "weight": entry["weight"]}
        if "threshold" in entry:
            scored["threshold"] = entry["threshold"]
        if sorted(set(ids)) != sorted(every):
            scored["samples"] = list(dict.fromkeys(ids))
        scored["config"] = entry["config"]
        out.append(scored)
    return out


def _document(raw: dict[str, Any], path: Path, conv: _Converter, prompts: list[Prompt], providers: list[Provider],
              samples: list[dict[str, Any]], scoring: list[dict[str, Any]]) -> dict[str, Any]:
    first = prompts[0]
    stage: dict[str, Any] = {"name": STAGE}
    if first.system is not None:
        stage["system_prompt"] = first.system
    stage["prompt_template"] = first.template
    space: dict[str, Any] = {}
    provider_values = [{"model": p.model, "endpoint": p.endpoint, "params": p.params} for p in providers]
    prompt_values = [{"system_prompt": p.system, "prompt_template": p.template} for p in prompts]
    if len(providers) == 1:
        stage.update(provider_values[0])
    if len(prompts) > 1 and all(p.system is None for p in prompts):
        space[f"stages.{STAGE}.prompt_template"] = [p.template for p in prompts]
        prompt_values = []
    if len(prompts) > 1 and prompt_values and len(providers) > 1:
        # system and user parts travel together, and so do a provider's fields: one linked choice of
        # every (prompt, provider) pair, still exactly prompts x providers configurations
        space[f"stages.{STAGE}"] = [{**pv, **rv} for pv in prompt_values for rv in provider_values]
    elif len(prompts) > 1 and prompt_values:
        space[f"stages.{STAGE}"] = prompt_values
    elif len(providers) > 1:
        space[f"stages.{STAGE}"] = provider_values
    name = str(raw.get("description") or f"promptfoo {path.stem}")
    document: dict[str, Any] = {"project": "promptfoo", "name": " ".join(name.split())[:200]}
    if raw.get("description"):
        document["description"] = f"Imported from promptfoo config {path.name}"
    document["endpoints"] = list(conv.endpoints.values())
    document["sample_data"] = samples
    document["pipeline_stages"] = [stage]
    document["scoring_config"] = scoring
    if space:
        document["parameter_space"] = space
    return document
