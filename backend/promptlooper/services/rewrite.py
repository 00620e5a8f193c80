"""Prompt rewriting: a guided sweep's optimizer model proposes prompt variants (OPRO/MIPRO-style).

When: `sweep_policy.advance` calls `maybe_start_round` for a rewriting sweep (both modes: after each run on
workers, after each wave in-process, and from the workers' watchdog). A round is due once the
sweep has `round * every` finished runs, after the previous round's answer, and at most
`max_runs // every` times (at least once); it is claimed by inserting its `proposal_rounds` row
(unique per sweep and round number), so exactly one process makes the call, in the background
(`Runtime.spawn`: the app's loop in-process, the worker's engine loop on Celery), never under the
sweep row's lock and never in the way of the sweep's runs.

The call: the meta-prompt (editable; Jinja2 in the sandbox) shows the current best prompt and the
best and worst runs with their outputs, scores and the scorers' reasons; it goes through the same
cached chat as runs and judges (`Runtime.chat`), so it is cached by the full request, and its
tokens and cost are stored on the round, which `sweep_policy.progress_from_db` adds to the sweep's
spent/saved (and so to its budget). A spent budget skips the round.

The answer: each `<prompt>...</prompt>` block is a candidate (the whole answer when there is none).
A weak optimizer's garbage (empty, the current prompt again, JSON, a template with an undefined
name, a duplicate of a variant the sweep already has) is stored as a *dropped* proposal with the
reason (status `rejected`), never pending and never run. The rest wait for approval
(`services/proposals.py`), or are approved at once with `"approval": "auto"`.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from promptlooper.context import AppContext
from promptlooper.db import session_scope
from promptlooper.engine.adapters.base import AdapterError, ChatRequest, estimate_cost
from promptlooper.engine.definition import (
    DefinitionError,
    ExperimentDefinition,
    SampleDef,
    parse_space_key,
    resolve_stage,
    validate_definition,
)
from promptlooper.engine.templates import TemplateError, render
from promptlooper.errors import AppError
from promptlooper.models import PromptProposal, ProposalRound, Run, RunStatus, Score, StageResult, Sweep
from promptlooper.services.guided import DEFAULT_MAX_RUNS
from promptlooper.services.runtime import Runtime

log = logging.getLogger("promptlooper.rewrite")

OPTIMIZER_SYSTEM = (
    "You are a prompt optimizer. You rewrite the prompt an LLM pipeline stage is given so that its outputs "
    "score higher. Answer with only the new prompts, each inside <prompt></prompt> tags, and nothing else."
)
DEFAULT_META_PROMPT = """\
Improve the {{ field }} of the pipeline stage `{{ stage }}`. Every output was scored from 0 to 1 by the \
experiment's scorers; higher is better. Templates are Jinja2: keep the template names the prompt uses \
(such as {{ '{{ input }}' }}) and add no new ones.

The current best {{ field }}:
<current>
{{ current }}
</current>
{% for run in best %}
Best run {{ loop.index }} (score {{ run.score }}), {{ field }}:
<prompt_used>{{ run.prompt }}</prompt_used>
{% for sample in run.samples %}- input: {{ sample.input }}
  output: {{ sample.output }}
  scores: {{ sample.reasons }}
{% endfor %}{% endfor %}{% for run in worst %}
Worst run {{ loop.index }} (score {{ run.score }}), {{ field }}:
<prompt_used>{{ run.prompt }}</prompt_used>
{% for sample in run.samples %}- input: {{ sample.input }}
  output: {{ sample.output }}
  scores: {{ sample.reasons }}
{% endfor %}{% endfor %}
Write {{ candidates }} new, different versions of the {{ field }} that should score higher than the current \
best. Put each one inside <prompt></prompt> tags.
"""
STALE_ROUND_S = 300.0  # a round still `generating` after this long was lost with its process
EXCERPT_CHARS = 400  # of each input and output shown to the optimizer
SHOWN_RUNS = 3  # best and worst runs in the meta-prompt
SHOWN_SAMPLES = 2  # samples per run
MAX_PROMPT_CHARS = 20_000
MAX_ANSWER_CHARS = 200_000  # of the optimizer's answer read for candidates
_BLOCK = re.compile(r"<prompt>(.*?)</prompt>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"^```[a-zA-Z]*\n(.*)\n```$", re.DOTALL)


def options_of(sweep: Sweep) -> dict[str, Any] | None:
    """The sweep's `guided.rewrite` options (None: no rewriting)."""
    if sweep.type != "guided":
        return None
    rewrite = (sweep.options.get("guided") or {}).get("rewrite")
    return dict(rewrite) if isinstance(rewrite, dict) else None


def stage_index_of(defn: ExperimentDefinition, options: dict[str, Any]) -> int | None:
    """The index of the stage whose prompt is rewritten (the first when none is named)."""
    stage = options.get("stage")
    return 0 if stage is None else resolve_stage(defn.pipeline_stages, str(stage))


def normalized(text: str | None) -> str:
    """A prompt compared with others: whitespace collapsed."""
    return " ".join((text or "").split())


# --- the answer ---------------------------------------------------------------------------------


def parse_candidates(answer: str, wanted: int) -> list[str]:
    """The candidate prompts of an optimizer's answer (at most `wanted`; the raw answer when untagged)."""
    blocks = [b.strip() for b in _BLOCK.findall(answer)]
    if not blocks:
        stripped = answer.strip()
        fenced = _FENCE.match(stripped)
        blocks = [fenced.group(1).strip() if fenced else stripped]
    return blocks[:wanted]


def _looks_like_json(text: str) -> bool:
    if not text or text[0] not in "{[":
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def template_problem(defn: ExperimentDefinition, stage_index: int, field_name: str, text: str) -> str | None:
    """Why a prompt cannot be this stage's `field` (undefined names, bad syntax), or None.

    Checked on a light copy: the stages and the space, and one sample holding the variables every
    sample has (what the template rules read), never the document's whole sample data.
    """
    common: set[str] | None = None
    for sample in defn.sample_data:
        common = set(sample.vars) if common is None else common & set(sample.vars)
    stages = [stage.model_copy() for stage in defn.pipeline_stages]
    stages[stage_index] = stages[stage_index].model_copy(update={field_name: text})
    light = defn.model_copy(update={
        "pipeline_stages": stages, "scoring_config": [],
        "sample_data": [SampleDef(id="s", input="", vars=dict.fromkeys(sorted(common or ()), ""))]})
    try:
        validate_definition(light, set())
    except DefinitionError as exc:
        where = ["pipeline_stages", stage_index, field_name]
        mine = [e["msg"] for e in exc.errors if list(e.get("loc", []))[:3] == where]
        if mine:
            return str(mine[0])
    return None


def check_candidate(defn: ExperimentDefinition, stage_index: int, field_name: str, text: str, current: str | None,
                    known: set[str]) -> str | None:
    """Why a candidate is dropped (a weak optimizer's garbage), or None when it may be proposed."""
    stripped = text.strip()
    if not stripped:
        return "empty: the optimizer proposed no text"
    if len(stripped) > MAX_PROMPT_CHARS:
        return f"longer than {MAX_PROMPT_CHARS:,} characters"
    if _looks_like_json(stripped) and not _looks_like_json((current or "").strip()):  # unless the prompt is JSON
        return "JSON, not a prompt"
    if normalized(stripped) == normalized(current):
        return "the current best prompt again"
    if normalized(stripped) in known:
        return "a duplicate of a variant the sweep already has"
    problem = template_problem(defn, stage_index, field_name, stripped)
    return None if problem is None else f"not a valid template: {problem}"


def check_all(defn: ExperimentDefinition, stage_index: int, field_name: str, candidates: list[str],
              current: str | None, known: set[str]) -> list[str | None]:
    """`check_candidate` for each candidate in turn (a repeat within one answer is a duplicate).

    CPU-bound (a template check per candidate): call it through `offload.run_cpu`.
    """
    seen = set(known)
    reasons: list[str | None] = []
    for text in candidates:
        reason = check_candidate(defn, stage_index, field_name, text, current, seen)
        if reason is None:
            seen.add(normalized(text))
        reasons.append(reason)
    return reasons


# --- what the optimizer sees --------------------------------------------------------------------


@dataclass
class RoundInput:
    """Everything a round needs, read in one short transaction before the call."""

    sweep_id: uuid.UUID
    experiment_id: uuid.UUID
    options: dict[str, Any]
    defn: ExperimentDefinition
    stage_index: int
    base_run: Run
    current: str | None
    messages: list[dict[str, str]]
    endpoint: Any
    known: set[str] = field(default_factory=set)
    repeats: int = 1


def _prompt_of(config: dict[str, Any], stage_index: int, field_name: str) -> str | None:
    stages = config.get("stages") or []
    value = stages[stage_index].get(field_name) if stage_index < len(stages) else None
    return value if isinstance(value, str) else None


async def _shown_runs(session: AsyncSession, runs: list[Run], stage_index: int, field_name: str,
                      last_stage: int, inputs: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for run in runs:
        stages = (await session.scalars(
            select(StageResult).where(StageResult.run_id == run.id, StageResult.stage_index == last_stage)
            .order_by(StageResult.seq).limit(SHOWN_SAMPLES))).all()
        scores = (await session.scalars(select(Score).where(Score.run_id == run.id))).all()
        samples = []
        for stage in stages:
            reasons = []
            for score in scores:
                meta = score.meta or {}
                value = (meta.get("per_sample") or {}).get(stage.sample_id, score.value)
                why = ((meta.get("details") or {}).get(stage.sample_id) or {}).get("reason")
                reasons.append(f"{score.scorer_name} {float(value):.2f}" + (f" ({why})" if why else ""))
            samples.append({"input": inputs.get(stage.sample_id, "")[:EXCERPT_CHARS],
                            "output": (stage.response_raw or "")[:EXCERPT_CHARS], "reasons": "; ".join(reasons)})
        out.append({"prompt": _prompt_of(run.config, stage_index, field_name) or "",
                    "score": round(float(run.weighted_score or 0.0), 4), "samples": samples})
    return out


def space_values(defn: ExperimentDefinition, stage_index: int, field_name: str) -> list[Any]:
    """The values the parameter space sweeps for this stage's field (any key that targets it)."""
    values: list[Any] = []
    for key, value in defn.parameter_space.items():
        target = parse_space_key(key, defn.pipeline_stages)
        if isinstance(target, str) or not isinstance(value, list):
            continue
        if target.kind == "field" and target.name == field_name and target.stage in (None, stage_index):
            values.extend(value)
        elif target.kind == "linked" and target.stage == stage_index:
            values.extend(v.get(field_name) for v in value if isinstance(v, dict))
    return values


async def known_texts(session: AsyncSession, sweep_id: uuid.UUID, defn: ExperimentDefinition, stage_index: int,
                      field_name: str) -> set[str]:
    """Every variant of this prompt the sweep has: swept values, its runs' prompts, earlier proposals."""
    known = {normalized(v) for v in space_values(defn, stage_index, field_name) if isinstance(v, str)}
    known.add(normalized(getattr(defn.pipeline_stages[stage_index], field_name)))
    configs = (await session.scalars(select(Run.config).where(Run.sweep_id == sweep_id))).all()
    known.update(normalized(_prompt_of(c, stage_index, field_name)) for c in configs)
    proposed = (await session.execute(
        select(PromptProposal.text, PromptProposal.proposed_text).where(
            PromptProposal.sweep_id == sweep_id, PromptProposal.stage_index == stage_index,
            PromptProposal.field == field_name, PromptProposal.dropped.is_(False)))).all()
    for text, original in proposed:
        known.update((normalized(text), normalized(original)))
    known.discard("")
    return known


async def _read_round(ctx: AppContext, rt: Runtime, session: AsyncSession, sweep: Sweep,
                      options: dict[str, Any]) -> RoundInput | str:
    from promptlooper.services import sweep_policy as policy

    plan = await policy.load_plan(ctx, session, sweep)
    if plan is None:
        return "the experiment is gone"
    if policy.over_budget(plan, await policy.progress_from_db(session, sweep)):
        return "the sweep's budget is spent: no optimizer call"
    defn = plan.defn
    stage_index = stage_index_of(defn, options)
    if stage_index is None:
        return f"stage {options.get('stage')!r} does not exist"
    field_name = str(options.get("field") or "prompt_template")
    scored = select(Run).where(Run.sweep_id == sweep.id, Run.status.in_(RunStatus.succeeded()),
                               Run.rejected.is_(False), Run.weighted_score.is_not(None))
    best = list((await session.scalars(scored.order_by(Run.weighted_score.desc(), Run.created_at)
                                       .limit(SHOWN_RUNS))).all())
    if not best:
        return "no scored run yet: nothing to learn from"
    lowest = (await session.scalars(scored.order_by(Run.weighted_score, Run.created_at).limit(SHOWN_RUNS))).all()
    worst = [r for r in lowest if r not in best]
    last_stage = len(defn.pipeline_stages) - 1
    inputs = {sample.id: sample.input for sample in defn.sample_data}
    current = _prompt_of(best[0].config, stage_index, field_name)
    context = {"current": current or "", "field": field_name, "stage": defn.pipeline_stages[stage_index].name,
               "candidates": int(options.get("candidates") or 2),
               "best": await _shown_runs(session, best, stage_index, field_name, last_stage, inputs),
               "worst": await _shown_runs(session, worst, stage_index, field_name, last_stage, inputs)}
    try:
        user = render(str(options.get("meta_prompt") or DEFAULT_META_PROMPT), context)
    except TemplateError as exc:
        return f"meta_prompt: {exc.message}"
    endpoint_id = options.get("endpoint_id") or plan.default_endpoint_id
    try:
        handle = await rt.endpoint_handle(session, endpoint_id)
    except AppError as exc:
        return f"optimizer endpoint: {exc.detail}"
    return RoundInput(
        sweep_id=sweep.id, experiment_id=sweep.experiment_id, options=options, defn=defn, stage_index=stage_index,
        base_run=best[0], current=current, endpoint=handle,
        messages=[{"role": "system", "content": OPTIMIZER_SYSTEM}, {"role": "user", "content": user}],
        known=await known_texts(session, sweep.id, defn, stage_index, field_name),
        repeats=int(sweep.options.get("repeats") or 1))


# --- rounds -------------------------------------------------------------------------------------


async def _finished_runs(session: AsyncSession, sweep_id: uuid.UUID) -> int:
    return int(await session.scalar(select(func.count()).select_from(Run).where(
        Run.sweep_id == sweep_id, Run.status.in_(RunStatus.done()))) or 0)


async def maybe_start_round(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID) -> bool:
    """Claim the sweep's next optimizer round when it is due and start it in the background."""
    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.get(Sweep, sweep_id)
        if sweep is None or sweep.status != "running":
            return False
        options = options_of(sweep)
        if options is None:
            return False
        await forget_lost_rounds(session, sweep_id, STALE_ROUND_S)
        every = max(1, int(options.get("every") or 8))
        max_runs = int(sweep.options.get("max_runs") or DEFAULT_MAX_RUNS)
        due = min(await _finished_runs(session, sweep_id) // every, max(1, max_runs // every))
        rounds = int(await session.scalar(
            select(func.count()).select_from(ProposalRound).where(ProposalRound.sweep_id == sweep_id)) or 0)
        if rounds >= due or await _generating(session, sweep_id):
            return False  # not due, or the last round's answer is not in yet (rounds follow one another)
    round_id = uuid.uuid4()
    try:
        async with session_scope(ctx.sessionmaker) as session:
            session.add(ProposalRound(id=round_id, sweep_id=sweep_id, round=rounds + 1, status="generating"))
    except IntegrityError:
        return False  # another worker (or pass) claimed this round
    rt.spawn(run_round(ctx, rt, sweep_id, round_id), name=f"rewrite-{sweep_id}-{rounds + 1}")
    return True


async def forget_lost_rounds(session: AsyncSession, sweep_id: uuid.UUID | None, older_than_s: float) -> None:
    """Delete rounds still `generating` after `older_than_s` (their process died): the round is claimed
    and asked again (a cached answer costs nothing). In-process, every such round is lost at a restart."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    stmt = delete(ProposalRound).where(ProposalRound.status == "generating", ProposalRound.started_at <= cutoff)
    if sweep_id is not None:
        stmt = stmt.where(ProposalRound.sweep_id == sweep_id)
    await session.execute(stmt)


async def holds_completion(session: AsyncSession, sweep: Sweep) -> bool:
    """Whether a rewriting sweep must wait before completing: proposals pending, or a round in flight."""
    if options_of(sweep) is None:
        return False
    pending = await session.scalar(select(func.count()).select_from(PromptProposal).where(
        PromptProposal.sweep_id == sweep.id, PromptProposal.status == "pending"))
    if pending:
        return True
    return await _generating(session, sweep.id)


async def _generating(session: AsyncSession, sweep_id: uuid.UUID) -> bool:
    """Whether a round of the sweep is waiting for its optimizer (not counting one lost with its process)."""
    fresh = datetime.now(UTC) - timedelta(seconds=STALE_ROUND_S)
    generating = await session.scalar(select(func.count()).select_from(ProposalRound).where(
        ProposalRound.sweep_id == sweep_id, ProposalRound.status == "generating", ProposalRound.started_at >= fresh))
    return bool(generating)


async def run_round(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID, round_id: uuid.UUID) -> None:
    """One optimizer round: read, call (cached), check the candidates, store them; then nudge the sweep."""
    from promptlooper.services import proposals

    try:
        await _round(ctx, rt, sweep_id, round_id)
    except Exception as exc:  # a broken round must never break the sweep
        log.exception("sweep %s: optimizer round failed", sweep_id)
        await _finish_round(ctx, round_id, "failed", f"internal error: {type(exc).__name__}: {exc}")
    await proposals.nudge(ctx, rt, sweep_id)


async def _finish_round(ctx: AppContext, round_id: uuid.UUID, status: str, reason: str | None,
                        **spent: Any) -> None:
    async with session_scope(ctx.sessionmaker) as session:
        await session.execute(update(ProposalRound).where(ProposalRound.id == round_id).values(
            status=status, reason=reason, finished_at=datetime.now(UTC), **spent))


async def _round(ctx: AppContext, rt: Runtime, sweep_id: uuid.UUID, round_id: uuid.UUID) -> None:
    from promptlooper.services import proposals

    async with session_scope(ctx.sessionmaker) as session:
        sweep = await session.get(Sweep, sweep_id)
        options = options_of(sweep) if sweep is not None else None
        if sweep is None or options is None:
            await session.execute(update(ProposalRound).where(ProposalRound.id == round_id).values(
                status="failed", reason="the sweep is gone", finished_at=datetime.now(UTC)))
            return
        read = await _read_round(ctx, rt, session, sweep, options)
    if isinstance(read, str):
        log.info("sweep %s: optimizer round skipped: %s", sweep_id, read)
        await _finish_round(ctx, round_id, "failed", read)
        return
    handle, model = read.endpoint, str(options["model"])
    request = ChatRequest(model=model, messages=read.messages, params=dict(options.get("params") or {}))
    try:
        response, cached, _ = await rt.chat.call(handle.adapter, handle.base_url, request)
    except AdapterError as exc:
        await _finish_round(ctx, round_id, "failed", f"optimizer call failed: {exc.message}")
        return
    cost = estimate_cost(handle.pricing, model, response.tokens_in, response.tokens_out)
    spent = {"cached": cached, "tokens_in": response.tokens_in, "tokens_out": response.tokens_out, "cost": cost,
             "tokens_in_spent": 0 if cached else response.tokens_in,
             "tokens_out_spent": 0 if cached else response.tokens_out, "cost_spent": 0.0 if cached else cost}
    candidates = parse_candidates(response.content[:MAX_ANSWER_CHARS], int(options.get("candidates") or 2))
    await proposals.store_round(ctx, rt, read, round_id, candidates, spent)
