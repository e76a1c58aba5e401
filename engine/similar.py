"""Similar songs: ALS factor cosine blended with audio-feature cosine (DESIGN.md §5).

For query ``q`` and item ``i``::

    sim(q, i) = w·cos(y_q, y_i) + (1 − w)·cos(a_q, a_i),    w = β·t_q·t_i

β (``factor_weight``, default 0.7) is the share given to co-listening when both tracks are
well known; ``t`` is the trust in an item's factors: 0 without factors, ``n/(n + 5)`` for an
item with ``n`` listeners when the bundle carries ``extra/item_listeners.npy``, else 1. So a
pair of well-played tracks is judged mostly by who listens to them, while a rarely played or
unplayed track (on either side) is judged by how it sounds. Where a side has no audio
features the factor cosine is used alone. Each neighbour reports the signal whose term is
larger in its blended score (``factors`` or ``audio``).
"""

from __future__ import annotations

import numpy as np

from engine.content import ContentIndex
from engine.rerank import select_top

#: Shrinkage of the trust in factors: an item with n listeners gets n / (n + this).
LISTENER_SHRINK = 5.0


def factor_trust(has_factors: np.ndarray, listeners: np.ndarray | None) -> np.ndarray:
    """Per-item trust ``t`` in the ALS factors (see the module docstring)."""
    trust = has_factors.astype(np.float32)
    if listeners is not None and len(listeners) == len(has_factors):
        n = np.asarray(listeners, dtype=np.float32)
        trust = trust * n / (n + LISTENER_SHRINK)
    return trust


def similar_items(
    q: int,
    k: int,
    *,
    factors: np.ndarray,
    scan: np.ndarray,
    pos2item: np.ndarray | None,
    item_norms: np.ndarray,
    has_factors: np.ndarray,
    trust: np.ndarray,
    content: ContentIndex,
    factor_weight: float,
) -> dict[str, np.ndarray]:
    """Top-``k`` neighbours of item ``q`` by the blended similarity.

    ``scan`` holds the factor rows that are scored (all items, or only those with factors
    when ``pos2item`` maps its rows to items). Returns arrays ``items, scores, factor_sims,
    audio_sims`` and ``by_factors`` (bool: the factor term is the larger one).
    """
    n = len(has_factors)
    factor = np.full(n, np.nan, dtype=np.float32)
    if has_factors[q]:
        yq = np.asarray(factors[q], dtype=np.float32)
        rows = pos2item if pos2item is not None else np.arange(n)
        with np.errstate(invalid="ignore", divide="ignore"):
            factor[rows] = (scan @ yq) / (np.asarray(item_norms, dtype=np.float32)[rows] * float(np.linalg.norm(yq)))
        factor[~has_factors] = np.nan
    audio = content.audio_cosine(content.audio[q]) if content.has_audio[q] else np.full(n, np.nan, np.float32)
    w = factor_weight * trust[q] * trust
    w = np.where(np.isnan(audio), 1.0, np.where(np.isnan(factor), 0.0, w))
    factor_part = np.nan_to_num(w * factor, nan=0.0)
    audio_part = np.nan_to_num((1.0 - w) * audio, nan=0.0)
    blended = (factor_part + audio_part).astype(np.float64)
    blended[np.isnan(factor) & np.isnan(audio)] = -np.inf
    blended[q] = -np.inf
    top = select_top(blended, k)
    top = top[np.isfinite(blended[top])]
    return {
        "items": top,
        "scores": blended[top],
        "factor_sims": factor[top].astype(np.float64),
        "audio_sims": audio[top].astype(np.float64),
        "by_factors": factor_part[top] >= audio_part[top],
    }
