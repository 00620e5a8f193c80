"""`embedding_similarity`: cosine similarity of the output's and the reference's embeddings, clipped to [0, 1]."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, Field

from ..adapters.base import AdapterError
from .base import ScoreContext, ScorerConfig, ScoreResult
from .embedding_cache import Vector, embed_cached
from .services import NO_SERVICES, services_of


class EmbeddingSimilarityConfig(ScorerConfig):
    """Config of the embedding_similarity scorer."""

    endpoint_id: str | None = Field(default=None, description="The endpoint that serves embeddings "
                                                              "(None = the default endpoint).")
    model: str = Field(min_length=1, description="The embedding model, e.g. text-embedding-3-small.")
    reference: str | None = Field(default=None, description="Compare every output with this text instead of "
                                                            "each sample's own reference.")


def cosine(a: Vector, b: Vector) -> float | str:
    """Cosine similarity of two vectors, or a sentence saying why there is none."""
    left, right = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if left.shape != right.shape:
        return f"the embeddings have different sizes ({left.size} and {right.size})"
    norms = float(np.linalg.norm(left)) * float(np.linalg.norm(right))
    if norms == 0.0 or not np.isfinite(norms):
        return "an embedding is a zero (or non-finite) vector"
    return float(np.dot(left, right) / norms)


class EmbeddingSimilarityScorer:
    """Embeds output and reference on a configured endpoint (vectors cached) and compares them."""

    id = "embedding_similarity"
    description = ("Cosine similarity between the embeddings of the output and the reference "
                   "(the sample's, or one from the config), clipped to [0, 1].")
    config_model: type[BaseModel] = EmbeddingSimilarityConfig
    admin_only = False

    async def score(self, input: str, output: str, context: ScoreContext, config: BaseModel) -> ScoreResult:
        """Score one output."""
        assert isinstance(config, EmbeddingSimilarityConfig)
        reference = config.reference if config.reference is not None else context.reference
        if not reference or not reference.strip():
            return ScoreResult(0.0, {"reason": "no reference to compare with: set one on the sample or in the config"})
        if not output.strip():
            return ScoreResult(0.0, {"reason": "the output is empty"})
        services = services_of(context)
        if services is None:
            return ScoreResult(0.0, {"reason": NO_SERVICES})
        try:
            adapter, base_url = await services.endpoint(config.endpoint_id)
            vectors, fresh = await embed_cached(services.chat, adapter, base_url, config.model, [reference, output])
        except LookupError as exc:
            return ScoreResult(0.0, {"reason": str(exc)})
        except AdapterError as exc:
            return ScoreResult(0.0, {"reason": f"embedding call failed: {exc.message}"})
        similarity = cosine(vectors[0], vectors[1])
        if isinstance(similarity, str):
            return ScoreResult(0.0, {"reason": similarity})
        return ScoreResult(similarity, {"similarity": round(similarity, 6), "model": config.model,
                                        "embedded": fresh})
