"""format, embedding_similarity, llm_judge and human_rating scorers, against the real loopback LLM server."""

from __future__ import annotations

import asyncio
import socket

import pytest

from promptlooper.engine import scorers
from promptlooper.engine.adapters import OpenAICompatAdapter
from promptlooper.engine.cache import CachedChat, MemoryCacheStore
from promptlooper.engine.definition import SampleDef, ScorerEntry
from promptlooper.engine.scorers import LocalScorerServices, ScoreContext, parse_judge_answer, score_outputs
from promptlooper.engine.scorers.embedding import EmbeddingSimilarityConfig, EmbeddingSimilarityScorer
from promptlooper.engine.scorers.embedding_cache import embedding_key
from promptlooper.engine.scorers.format import FormatConfig, FormatScorer
from promptlooper.engine.scorers.llm_judge import LLMJudgeConfig, LLMJudgeScorer

SAMPLE = SampleDef(id="s1", input="What is the capital of France?", reference="Paris is the capital of France")
BUILTIN_IDS = {"keyword", "length", "format", "embedding_similarity", "llm_judge", "python", "webhook", "human_rating"}


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def services(llm):
    adapter = OpenAICompatAdapter(llm.base_url, max_retries=0)
    down = OpenAICompatAdapter(f"http://127.0.0.1:{closed_port()}/v1", max_retries=0, connect_timeout_s=2)
    local = LocalScorerServices(endpoints={"local": (adapter, llm.base_url), "down": (down, down.base_url)},
                                chat=CachedChat(MemoryCacheStore()), default_endpoint_id="local")
    yield local
    await adapter.aclose()
    await down.aclose()


def ctx(services=None, reference: str | None = SAMPLE.reference, sample: SampleDef = SAMPLE) -> ScoreContext:
    extras = {"services": services} if services is not None else {}
    return ScoreContext(sample=sample, reference=reference, extras=extras)


# ---- format ---------------------------------------------------------------------------------------------------


async def fmt(output: str, **config):
    return await FormatScorer().score("in", output, ctx(), FormatConfig.model_validate(config))


async def test_format_json():
    assert (await fmt('{"a": [1, 2], "b": "日本"}', type="json")).value == 1.0
    assert (await fmt("42", type="json")).value == 1.0
    bad = await fmt("{'a': 1}", type="json")
    assert bad.value == 0.0 and bad.metadata["reason"].startswith("not JSON")
    empty = await fmt("  ", type="json")
    assert empty.value == 0.0 and "empty" in empty.metadata["reason"]
    fenced = await fmt('```json\n{"ok": true}\n```', type="json")
    assert fenced.value == 1.0 and fenced.metadata["code_fence"] is True
    assert (await fmt('```json\n{"ok": true}\n```', type="json", allow_code_fence=False)).value == 0.0


async def test_format_json_schema():
    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}}
    assert (await fmt('{"name": "Zoë", "n": 3}', type="json_schema", schema=schema)).value == 1.0
    wrong = await fmt('{"n": "three"}', type="json_schema", schema=schema)
    assert wrong.value == 0.0 and wrong.metadata["error_count"] == 2
    assert any("'name' is a required property" in e for e in wrong.metadata["errors"])
    assert any(e.startswith("n:") for e in wrong.metadata["errors"])
    assert (await fmt("not json", type="json_schema", schema=schema)).metadata["reason"].startswith("not JSON")


async def test_format_regex_and_flags():
    assert (await fmt("Order #123 shipped", type="regex", pattern=r"#\d+")).metadata["match"] == "#123"
    assert (await fmt("no number", type="regex", pattern=r"\d+")).value == 0.0
    assert (await fmt("HELLO", type="regex", pattern="hello")).value == 0.0
    assert (await fmt("HELLO", type="regex", pattern="hello", flags="i")).value == 1.0
    assert (await fmt("a\nb", type="regex", pattern="^b$", flags="m")).value == 1.0
    assert (await fmt("日本語です", type="regex", pattern="本語")).value == 1.0
    assert (await fmt("", type="regex", pattern="x")).value == 0.0


@pytest.mark.parametrize("text, expected", [
    ("# Title\n\nSome text", ["heading"]),
    ("Items:\n- one\n- two", ["list"]),
    ("1. first\n2. second", ["list"]),
    ("This is **bold** text", ["emphasis"]),
    ("see [docs](https://example.com)", ["link"]),
    ("```python\nprint(1)\n```", ["code"]),
    ("> quoted", ["blockquote"]),
    ("| a | b |\n|---|---|\n| 1 | 2 |", ["table"]),
])
async def test_format_markdown_features(text, expected):
    result = await fmt(text, type="markdown")
    assert result.value == 1.0 and result.metadata["features"] == expected


async def test_format_markdown_plain_text_and_min_features():
    plain = await fmt("Just a plain sentence, 2 * 3 = 6, nothing else.", type="markdown")
    assert plain.value == 0.0 and plain.metadata["features"] == []
    assert (await fmt("", type="markdown")).value == 0.0
    assert (await fmt("# T\n- a", type="markdown", min_features=2)).value == 1.0
    assert (await fmt("# T only", type="markdown", min_features=2)).value == 0.0


def test_format_config_errors():
    assert any("not a valid JSON schema" in m for m in
               scorers.validate_scorer_config("format", {"type": "json_schema", "schema": {"type": "nope"}}))
    assert any("needs a `schema`" in m for m in scorers.validate_scorer_config("format", {"type": "json_schema"}))
    assert any("not a valid regular expression" in m for m in
               scorers.validate_scorer_config("format", {"type": "regex", "pattern": "(unclosed"}))
    assert scorers.validate_scorer_config("format", {"type": "regex"}) != []
    assert scorers.validate_scorer_config("format", {"type": "regex", "pattern": "x", "flags": "q"}) != []
    assert scorers.validate_scorer_config("format", {"type": "json", "pattern": "x"}) != []
    assert scorers.validate_scorer_config("format", {"type": "yaml"}) != []
    assert scorers.validate_scorer_config("format", {"type": "json_schema", "schema": {"type": "object"}}) == []


# ---- embedding_similarity -----------------------------------------------------------------------------------


async def embed_score(services, output: str, sample_reference: str | None = SAMPLE.reference, **config):
    parsed = EmbeddingSimilarityConfig.model_validate({"model": "emb", **config})
    return await EmbeddingSimilarityScorer().score("in", output, ctx(services, sample_reference), parsed)


async def test_embedding_similarity_values(services, llm):
    same = await embed_score(services, "Paris is the capital of France")
    assert same.value == pytest.approx(1.0) and same.metadata["embedded"] == 1  # one text, embedded once
    close = await embed_score(services, "the capital of France is Paris, of course")
    far = await embed_score(services, "bananas grow on trees")
    assert 0.6 < close.value < 1.0 and far.value < 0.2 < close.value
    unicode = await embed_score(services, "東京 は 日本 の 首都", sample_reference="東京 は 日本 の 首都 です")
    assert 0.5 < unicode.value < 1.0
    assert llm.stats()["embedding_calls"] == 4


async def test_embedding_reference_from_config_and_missing_reference(services):
    override = await embed_score(services, "blue sky", sample_reference="something else", reference="blue sky")
    assert override.value == pytest.approx(1.0)
    from_config_only = await embed_score(services, "blue sky", sample_reference=None, reference="blue sky")
    assert from_config_only.value == pytest.approx(1.0)
    missing = await embed_score(services, "anything", sample_reference=None)
    assert missing.value == 0.0 and "no reference" in missing.metadata["reason"]
    blank = await embed_score(services, "anything", sample_reference="   ")
    assert blank.value == 0.0 and "no reference" in blank.metadata["reason"]
    empty = await embed_score(services, "  ")
    assert empty.value == 0.0 and "output is empty" in empty.metadata["reason"]


async def test_embedding_failures_score_zero_with_reason(services, llm):
    down = await embed_score(services, "Paris", endpoint_id="down")
    assert down.value == 0.0 and "embedding call failed" in down.metadata["reason"]
    assert "refused" in down.metadata["reason"]
    unknown = await embed_score(services, "Paris", endpoint_id="nope")
    assert unknown.value == 0.0 and "Unknown endpoint `nope`" in unknown.metadata["reason"]
    parsed = EmbeddingSimilarityConfig(model="emb")
    bare = await EmbeddingSimilarityScorer().score("in", "Paris", ctx(None), parsed)
    assert bare.value == 0.0 and "scorer services" in bare.metadata["reason"]
    assert llm.stats()["embedding_calls"] == 0


async def test_embedding_cache_embeds_a_reference_once(services, llm):
    await embed_score(services, "first answer")
    assert llm.stats()["embedding_calls"] == 1  # reference and output in one request
    second = await embed_score(services, "second answer")
    assert second.metadata["embedded"] == 1  # only the new output: the reference came from the cache
    third = await embed_score(services, "first answer")
    assert third.metadata["embedded"] == 0 and llm.stats()["embedding_calls"] == 2
    store = services.chat.store
    assert embedding_key(llm.base_url + "/", "emb", SAMPLE.reference) in store.data  # keyed on the normalised URL
    assert len(store.data) == 3


async def test_embedding_concurrent_scorings_share_one_call(services, llm):
    results = await asyncio.gather(*(embed_score(services, "Paris is lovely") for _ in range(8)))
    assert len({r.value for r in results}) == 1
    assert llm.stats()["embedding_calls"] == 1


async def test_embedding_errors_are_not_cached(services, llm):
    await embed_score(services, "x", endpoint_id="down")
    assert services.chat.store.data == {}
    ok = await embed_score(services, "x")
    assert ok.metadata["embedded"] == 2


# ---- llm_judge ----------------------------------------------------------------------------------------------


async def judge(services, output: str = "Paris", reference: str | None = SAMPLE.reference, **config):
    parsed = LLMJudgeConfig.model_validate({"model": "m1", **config})
    return await LLMJudgeScorer().score(SAMPLE.input, output, ctx(services, reference), parsed)


async def test_judge_json_answer(services, llm):
    # The loopback server echoes the prompt, so the prompt decides what the judge "answers".
    result = await judge(services, prompt='Q: {{ input }} A: {{ output }} Verdict: {"score": 0.8}')
    assert result.value == pytest.approx(0.8) and result.metadata["parsed_as"] == "json"
    assert result.metadata["cached"] is False and "Verdict" in result.metadata["answer"]
    sent = llm.requests[-1]
    assert sent["model"] == "m1"
    assert sent["messages"] == [{"role": "user", "content": 'Q: What is the capital of France? A: Paris Verdict: {"score": 0.8}'}]
    on_ten = await judge(services, prompt='{{ output }} {"score": 8}')
    assert on_ten.value == pytest.approx(0.8)


async def test_judge_fraction_system_prompt_and_params(services, llm):
    result = await judge(services, prompt="{{ output }} vs {{ reference }}: 7/10", system_prompt="Be strict.",
                         params={"temperature": 0})
    assert result.value == pytest.approx(0.7) and result.metadata["parsed_as"] == "fraction"
    sent = llm.requests[-1]
    assert sent["temperature"] == 0 and sent["messages"][0] == {"role": "system", "content": "Be strict."}
    assert "Paris vs Paris is the capital of France" in sent["messages"][1]["content"]


async def test_judge_prose_answer_scores_zero_with_the_answer(services):
    result = await judge(services, prompt="Is this answer good? {{ output }}", output="Yes, it is fine")
    assert result.value == 0.0
    assert "no score in the answer" in result.metadata["reason"]
    assert "Is this answer good? Yes, it is fine" in result.metadata["answer"]


async def test_judge_unicode_empty_output_and_missing_reference(services, llm):
    result = await judge(services, output="", reference=None, prompt='[{{ output }}][{{ reference }}] 日本 {"score": 1}')
    assert result.value == 1.0
    assert llm.requests[-1]["messages"][0]["content"] == '[][] 日本 {"score": 1}'


async def test_judge_calls_are_cached(services, llm):
    first = await judge(services, prompt='{{ output }} {"score": 0.5}')
    second = await judge(services, prompt='{{ output }} {"score": 0.5}')
    assert llm.calls == 1 and first.value == second.value == 0.5
    assert second.metadata["cached"] is True
    together = await asyncio.gather(*(judge(services, output="Lyon", prompt='{{ output }} {"score": 0.5}')
                                      for _ in range(5)))
    assert llm.calls == 2 and all(r.value == 0.5 for r in together)


async def test_judge_failures_score_zero_and_never_raise(services, llm):
    down = await judge(services, endpoint_id="down", prompt='{"score": 1}')
    assert down.value == 0.0 and down.metadata["reason"].startswith("judge call failed") and "refused" in down.metadata["reason"]
    llm.script(["500"])
    error = await judge(services, prompt='x {"score": 1}')
    assert error.value == 0.0 and "500" in error.metadata["reason"]
    retried = await judge(services, prompt='x {"score": 1}')  # errors are not cached
    assert retried.value == 1.0
    unknown = await judge(services, endpoint_id="elsewhere", prompt='{"score": 1}')
    assert unknown.value == 0.0 and "Unknown endpoint" in unknown.metadata["reason"]
    failing_template = await judge(services, prompt="{{ output.nope.deeper }}")
    assert failing_template.value == 0.0 and "judge prompt" in failing_template.metadata["reason"]
    no_services = await judge(None, prompt='{"score": 1}')
    assert no_services.value == 0.0 and "scorer services" in no_services.metadata["reason"]


@pytest.mark.parametrize("answer, value, rule", [
    ('{"score": 0.75}', 0.75, "json"),
    ('Reasoning... final: {"score": 9, "why": "good"}', 0.9, "json"),
    ('{"score": "0.4"}', 0.4, "json"),
    ('{"score": 85}', 0.85, "json"),
    ("I rate it 7/10.", 0.7, "fraction"),
    ("Score: 4 / 5", 0.8, "fraction"),
    ("8", 0.8, "number"),
    ("0.35", 0.35, "number"),
    ("  Score: 6.5. ", 0.65, "number"),
    ("**9**", 0.9, "number"),
    ("1", 1.0, "number"),
    ("0", 0.0, "number"),
])
def test_parse_judge_answer(answer, value, rule):
    parsed = parse_judge_answer(answer)
    assert not isinstance(parsed, str), parsed
    assert parsed[0] == pytest.approx(value) and parsed[1] == rule


@pytest.mark.parametrize("answer, reason", [
    ("The answer is good.", "no score"),
    ("It is good, I'd say 8 out of 10", "no score"),
    ('{"score": 250}', "outside 0-100"),
    ('{"score": -1}', "outside 0-100"),
    ("{not json: 5}", "no score"),
    ('{"score": true}', "no score"),
    ("", "no score"),
    ("12/10", "no score"),
])
def test_parse_judge_answer_unparseable(answer, reason):
    parsed = parse_judge_answer(answer)
    assert isinstance(parsed, str) and reason in parsed


def test_parse_judge_answer_with_scale():
    assert parse_judge_answer("4", scale=5) == (0.8, "number")
    assert parse_judge_answer('{"score": 1}', scale=5) == (0.2, "json")
    assert parse_judge_answer("3/10", scale=5) == (0.3, "fraction")  # an explicit fraction wins over the scale
    assert "outside 0-5" in str(parse_judge_answer("6", scale=5))


def test_judge_config_errors():
    assert scorers.validate_scorer_config("llm_judge", {"model": "m", "prompt": "{{ output }} {{ reference }}"}) == []
    assert any("unknown: vars" in m for m in
               scorers.validate_scorer_config("llm_judge", {"model": "m", "prompt": "{{ vars.x }}"}))
    assert any("syntax" in m.lower() for m in scorers.validate_scorer_config("llm_judge", {"model": "m", "prompt": "{{ x"}))
    assert scorers.validate_scorer_config("llm_judge", {"prompt": "x"}) == ["config.model: Field required"]
    assert scorers.validate_scorer_config("llm_judge", {"model": "m", "prompt": "x", "scale": 0}) != []


# ---- registry, human_rating, score_outputs ------------------------------------------------------------------


def test_builtins_are_registered_with_described_config_schemas():
    assert BUILTIN_IDS <= scorers.known_scorer_ids()
    for scorer_id in BUILTIN_IDS - {"keyword", "length", "human_rating"}:
        schema = scorers.config_schema(scorer_id)
        assert schema["properties"], scorer_id
        for name, prop in schema["properties"].items():
            assert prop.get("description"), f"{scorer_id}.{name} has no description"
        assert scorers.get_scorer(scorer_id).description
    assert "schema" in scorers.config_schema("format")["properties"]
    assert scorers.config_schema("human_rating")["properties"] == {}
    assert scorers.validate_scorer_config("human_rating", {}) == []


def test_admin_only_and_manual_flags():
    assert scorers.scorer_is_admin_only("python") and not scorers.scorer_is_admin_only("llm_judge")
    assert not scorers.scorer_is_admin_only("nope")
    assert scorers.scorer_is_manual("human_rating") and not scorers.scorer_is_manual("keyword")
    config = {"code": "def score(input, output, context):\n    return 1.0"}
    assert scorers.validate_scorer_config("python", config) == []
    assert scorers.validate_scorer_config("python", config, is_admin=True) == []
    refused = scorers.validate_scorer_config("python", config, is_admin=False)
    assert len(refused) == 1 and "only admins" in refused[0]
    assert scorers.validate_scorer_config("keyword", {"keywords": ["a"]}, is_admin=False) == []


async def test_score_outputs_skips_manual_scorers_and_uses_services(services, llm):
    entries = [ScorerEntry(scorer="human_rating"),
               ScorerEntry(scorer="llm_judge", name="judge", config={"model": "m1", "prompt": '{{ output }} {"score": 0.6}'}),
               ScorerEntry(scorer="embedding_similarity", config={"model": "emb"}),
               ScorerEntry(scorer="format", config={"type": "json"})]
    samples = [SAMPLE, SampleDef(id="s2", input="2+2?", reference="4")]
    outputs = {"s1": "Paris is the capital of France", "s2": "4"}
    result = await score_outputs(entries, samples, outputs, extras={"services": services})
    assert list(result) == ["judge", "embedding_similarity", "format"]
    assert result["judge"].value == pytest.approx(0.6) and llm.calls == 2
    assert result["embedding_similarity"].value == pytest.approx(1.0)
    assert result["format"].metadata["per_sample"] == {"s1": 0.0, "s2": 1.0}
    again = await score_outputs(entries, samples, outputs, extras={"services": services})
    assert again["judge"].value == pytest.approx(0.6) and llm.calls == 2  # re-scoring makes no new judge call
    assert llm.stats()["embedding_calls"] == 2


async def test_local_services_default_endpoint(llm):
    adapter = OpenAICompatAdapter(llm.base_url)
    try:
        single = LocalScorerServices(endpoints={"only": (adapter, llm.base_url)})
        assert (await single.endpoint(None))[1] == llm.base_url
        assert isinstance(single, scorers.ScorerServices)
        several = LocalScorerServices(endpoints={"a": (adapter, "x"), "b": (adapter, "y")})
        with pytest.raises(scorers.UnknownEndpoint, match="no default endpoint"):
            await several.endpoint(None)
    finally:
        await adapter.aclose()
