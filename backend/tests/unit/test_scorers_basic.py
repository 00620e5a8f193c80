"""keyword and length scorers, the registry, score_outputs and weighted_score."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from promptlooper.engine import scorers
from promptlooper.engine.definition import SampleDef, ScorerEntry
from promptlooper.engine.scorers import (
    ScoreContext,
    ScoreOutcome,
    ScoreResult,
    ScorerRegistry,
    score_outputs,
    weighted_score,
)
from promptlooper.engine.scorers.keyword import KeywordConfig, KeywordScorer
from promptlooper.engine.scorers.length import LengthConfig, LengthScorer

SAMPLE = SampleDef(id="s1", input="in", reference="ref")
CTX = ScoreContext(sample=SAMPLE, reference="ref")


async def kw(output: str, **config) -> ScoreResult:
    return await KeywordScorer().score("in", output, CTX, KeywordConfig(**config))


async def length(output: str, **config) -> float:
    return (await LengthScorer().score("in", output, CTX, LengthConfig(**config))).value


async def test_keyword_all_any_and_case():
    result = await kw("Alpha and gamma", keywords=["alpha", "beta", "gamma", "delta"])
    assert result.value == 0.5 and result.metadata["found"] == ["alpha", "gamma"]
    assert result.metadata["missing"] == ["beta", "delta"]
    assert (await kw("Alpha", keywords=["alpha"], case_sensitive=True)).value == 0.0
    assert (await kw("no match here", keywords=["x", "here"], mode="any")).value == 1.0
    assert (await kw("nothing", keywords=["x", "y"], mode="any")).value == 0.0


async def test_keyword_edge_cases():
    assert (await kw("", keywords=["a"])).value == 0.0
    assert (await kw("STRASSE und Café 日本語", keywords=["straße", "CAFÉ", "日本"])).value == 1.0
    assert (await kw("a", keywords=["a", "a"])).metadata["found"] == ["a"]  # duplicates counted once
    with pytest.raises(ValueError):
        KeywordConfig(keywords=[])
    with pytest.raises(ValueError):
        KeywordConfig(keywords=["  "])


async def test_length_max_min_and_several_bounds():
    assert await length("w " * 30, max_words=30) == 1.0
    assert await length("w " * 45, max_words=30) == 0.5
    assert await length("w " * 60, max_words=30) == 0.0
    assert await length("w " * 90, max_words=30) == 0.0
    assert await length("w " * 10, min_words=10) == 1.0
    assert await length("w " * 5, min_words=10) == 0.5
    assert await length("", min_words=10) == 0.0
    assert await length("abcd", max_chars=0) == 0.0
    assert await length("", max_chars=0) == 1.0
    both = await LengthScorer().score("in", "w " * 5, CTX, LengthConfig(min_words=10, max_chars=5))
    assert both.value == 0.0 and both.metadata["words"] == 5 and both.metadata["chars"] == 10
    assert await length("日本語 テキスト", min_chars=16) == pytest.approx(8 / 16)


def test_length_config_rules():
    with pytest.raises(ValueError, match="at least one"):
        LengthConfig()
    with pytest.raises(ValueError, match="min_words"):
        LengthConfig(min_words=10, max_words=5)
    with pytest.raises(ValueError):
        LengthConfig(max_words=-1)


def test_score_result_is_clipped():
    assert ScoreResult(1.7).value == 1.0 and ScoreResult(-2).value == 0.0 and ScoreResult(float("nan")).value == 0.0


def test_registry_functions():
    assert {"keyword", "length"} <= scorers.known_scorer_ids()
    assert scorers.get_scorer("keyword").id == "keyword"
    assert [s.id for s in scorers.list_scorers()] == sorted(s.id for s in scorers.list_scorers())
    assert scorers.validate_scorer_config("keyword", {"keywords": ["a"]}) == []
    assert scorers.validate_scorer_config("keyword", {}) == ["config.keywords: Field required"]
    assert scorers.validate_scorer_config("keyword", {"keywords": ["a"], "typo": 1})[0].startswith("config.typo:")
    assert scorers.validate_scorer_config("nope", {}) == ["Unknown scorer `nope`."]
    assert "keywords" in scorers.config_schema("keyword")["properties"]
    with pytest.raises(KeyError):
        scorers.get_scorer("nope")
    with pytest.raises(ValueError, match="already registered"):
        scorers.register(KeywordScorer())


class _Cfg(BaseModel):
    pass


class PluginScorer:
    id = "plugin"
    description = "from an entry point"
    config_model = _Cfg

    async def score(self, input, output, context, config):
        return ScoreResult(1.0)


class _FakeEntryPoint:
    def __init__(self, name, obj):
        self.name, self._obj = name, obj

    def load(self):
        if isinstance(self._obj, Exception):
            raise self._obj
        return self._obj


def test_entry_point_plugins_load_and_broken_ones_are_skipped(monkeypatch, caplog):
    from promptlooper.engine.scorers import registry as registry_module

    found = [_FakeEntryPoint("good", PluginScorer), _FakeEntryPoint("broken", ImportError("no module")),
             _FakeEntryPoint("junk", object()), _FakeEntryPoint("dup", KeywordScorer())]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: found if group == "promptlooper.scorers" else [])
    reg = ScorerRegistry()
    reg.register(KeywordScorer())
    assert reg.ids() == {"keyword", "plugin"}
    assert reg.get("plugin").admin_only is False
    assert "broken" in caplog.text and "junk" in caplog.text


class Exploding:
    id = "exploding"
    description = "raises"
    config_model = _Cfg
    admin_only = False

    async def score(self, input, output, context, config):
        raise RuntimeError("kaboom")


async def test_score_outputs_means_failures_and_names():
    reg = ScorerRegistry(load_plugins=False)
    for scorer in (KeywordScorer(), LengthScorer(), Exploding()):
        reg.register(scorer)
    samples = [SampleDef(id="a", input="x"), SampleDef(id="b", input="y"), SampleDef(id="c", input="z")]
    entries = [
        ScorerEntry(scorer="keyword", weight=2.0, config={"keywords": ["alpha"]}),
        ScorerEntry(scorer="keyword", name="kw_beta", config={"keywords": ["beta"]}),
        ScorerEntry(scorer="length", config={"max_words": 2}),
        ScorerEntry(scorer="exploding", weight=0.0),
        ScorerEntry(scorer="missing"),
    ]
    outputs = {"a": "alpha beta", "b": "alpha one two three", "c": None}
    scores = await score_outputs(entries, samples, outputs, config={"vars": {"v": 1}}, registry=reg)
    assert list(scores) == ["keyword", "kw_beta", "length", "exploding", "missing"]
    assert scores["keyword"].value == pytest.approx(2 / 3)
    assert scores["keyword"].metadata["per_sample"] == {"a": 1.0, "b": 1.0, "c": 0.0}
    assert "failed" in scores["keyword"].metadata["details"]["c"]["reason"]
    assert scores["kw_beta"].value == pytest.approx(1 / 3)
    assert scores["length"].metadata["per_sample"] == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert scores["exploding"].value == 0.0
    assert "kaboom" in scores["exploding"].metadata["details"]["a"]["reason"]
    assert scores["missing"].value == 0.0 and "unknown scorer" in scores["missing"].metadata["error"]
    expected = (2 * (2 / 3) + 1 / 3 + 1 / 3 + 0 + 0) / 5
    assert weighted_score(scores, entries) == pytest.approx(expected)


async def test_score_outputs_passes_a_context():
    seen = []

    class Spy:
        id = "spy"
        description = "records its context"
        config_model = _Cfg
        admin_only = False

        async def score(self, input, output, context, config):
            seen.append((input, output, context))
            return ScoreResult(0.25)

    reg = ScorerRegistry(load_plugins=False)
    reg.register(Spy())
    sample = SampleDef(id="a", input="in", reference="gold", vars={"x": 2})
    scores = await score_outputs([ScorerEntry(scorer="spy")], [sample], {"a": "out"},
                                 config={"vars": {"x": 1, "y": 1}}, extras={"k": "v"}, registry=reg)
    assert scores["spy"].value == 0.25
    (inp, out, ctx), = seen
    assert (inp, out, ctx.reference, ctx.vars, ctx.extras) == ("in", "out", "gold", {"x": 2, "y": 1}, {"k": "v"})


def test_weighted_score_edge_cases():
    entries = [ScorerEntry(scorer="a", weight=1), ScorerEntry(scorer="b", weight=3)]
    assert weighted_score({"a": 1.0, "b": 0.0}, entries) == 0.25
    assert weighted_score({"a": ScoreOutcome(0.5)}, entries) == 0.5  # only scorers with a value count
    assert weighted_score({}, entries) is None
    assert weighted_score({"a": 1.0}, []) is None
    assert weighted_score({"a": 1.0}, [ScorerEntry(scorer="a", weight=0)]) is None


async def test_keyword_negate():
    assert (await kw("nothing here", keywords=["x", "y"], mode="any", negate=True)).value == 1.0
    assert (await kw("x here", keywords=["x", "y"], mode="any", negate=True)).value == 0.0
    result = await kw("x here", keywords=["x", "y"], negate=True)  # mode all: the fraction missing
    assert result.value == 0.5 and result.metadata["negate"] is True


async def test_format_anywhere_and_negate():
    from promptlooper.engine.scorers.format import FormatConfig, FormatScorer

    async def fmt(output: str, **config) -> float:
        return (await FormatScorer().score("in", output, CTX, FormatConfig.model_validate(config))).value

    assert await fmt('The answer is {"a": [1, 2]} as asked.', type="json", anywhere=True) == 1.0
    assert await fmt('The answer is {"a": [1, 2]} as asked.', type="json") == 0.0
    assert await fmt("no json {here", type="json", anywhere=True) == 0.0
    schema = {"type": "object", "required": ["a"]}
    assert await fmt('x {"b": 1} y', type="json_schema", schema=schema, anywhere=True) == 0.0
    assert await fmt('x {"a": 1} y', type="json_schema", schema=schema, anywhere=True) == 1.0
    assert await fmt("abc123", type="regex", pattern=r"\d+", negate=True) == 0.0
    assert await fmt("abc", type="regex", pattern=r"\d+", negate=True) == 1.0


async def test_score_outputs_restricts_an_entry_to_its_samples():
    reg = ScorerRegistry(load_plugins=False)
    reg.register(KeywordScorer())
    samples = [SampleDef(id="a", input="x"), SampleDef(id="b", input="y"), SampleDef(id="c", input="z")]
    entries = [ScorerEntry(scorer="keyword", name="paris", samples=["a"], config={"keywords": ["paris"]}),
               ScorerEntry(scorer="keyword", name="both", samples=["a", "c"], config={"keywords": ["x"]}),
               ScorerEntry(scorer="missing", samples=["b"])]
    scores = await score_outputs(entries, samples, {"a": "paris x", "b": "paris", "c": "nothing"}, registry=reg)
    assert scores["paris"].value == 1.0 and scores["paris"].metadata["per_sample"] == {"a": 1.0}
    assert scores["both"].value == 0.5 and set(scores["both"].metadata["per_sample"]) == {"a", "c"}
    assert scores["missing"].metadata["per_sample"] == {"b": 0.0}


async def test_length_metadata_labels_bounds_and_partial_scores_apart():
    result = await LengthScorer().score("in", "w " * 45, CTX, LengthConfig(max_words=30, min_chars=10))
    assert result.metadata["bounds"] == {"max_words": 30, "min_chars": 10}, "bounds are the configured limits"
    assert result.metadata["partial"] == {"max_words": 0.5, "min_chars": 1.0}
    assert result.value == 0.5
