"""Hybrid similar songs for cold tracks: ALS cosine blended with content similarity (numpy only).

:func:`similar_items` is what ``Recommender.similar`` calls::

    sim(q, i)     = w·cos(y_q, y_i) + (1 − w)·content(q, i),     w = β·t_q·t_i
    t             = n / (n + shrink) for an item with n listeners (0 without ALS factors)
    content(q, i) = weighted mean of the available signals: audio cosine (standardized
                    features), genre overlap |G_q ∩ G_i| / sqrt(|G_q|·|G_i|), same artist (1/0)

so a well-played pair is judged by who listens to it and a track with few or no listeners
by how it sounds, which genres it has and who made it. A signal is "available" when both
sides have it (audio features; at least one genre); where one side of the blend is missing
the other is used alone, and a pair with neither factors nor any content signal is not ranked.
Without ``extra/item_listeners.npy`` in the bundle, ``t`` is 1 for every item with factors.

The pieces (:func:`trust`, :func:`factor_cosine`, :func:`content_signals`,
:func:`content_score`, :func:`mix_similarity`, :func:`hybrid_scores`) are shared with the cold-item
evaluation, :mod:`engine.evaluation.cold_items` (``python -m engine evaluate-cold``), which
chose :data:`DEFAULT_WEIGHTS` on the demo data's tuning half and records the protocol and the
measured recall. Serving uses their content mix and shrink (:data:`LISTENER_SHRINK`); β comes
from ``Recommender``'s ``similar_factor_weight`` (0.7 by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.serving.content import ContentIndex
from engine.serving.rerank import select_top


@dataclass(frozen=True)
class HybridWeights:
    """Weights of the hybrid (see the module docstring).

    ``factor_weight`` is β, the factor share for a pair of well-played tracks; ``shrink`` sets
    how fast trust in factors grows with listeners; ``audio``, ``genre``, ``artist`` weigh
    the content signals against each other.
    """

    factor_weight: float = 0.7
    shrink: float = 5.0
    audio: float = 1.0
    genre: float = 1.0
    artist: float = 0.5


#: Chosen on the demo data's tuning half (module docstring).
DEFAULT_WEIGHTS = HybridWeights(factor_weight=1.0, shrink=2.0, audio=0.25, genre=1.0, artist=1.0)
CONTENT_SIGNALS: tuple[str, ...] = ("audio", "genre", "artist")


@dataclass(frozen=True)
class Signals:
    """Per-item similarities to one query item (NaN where a side lacks the signal)."""

    factor: np.ndarray
    audio: np.ndarray
    genre: np.ndarray
    artist: np.ndarray


def trust(has_factors: np.ndarray, listeners: np.ndarray | None, shrink: float) -> np.ndarray:
    """Trust in each item's factors: 0 without factors, else ``n/(n + shrink)`` (1 when counts are unknown)."""
    t = np.asarray(has_factors, dtype=np.float32)
    if listeners is not None and len(listeners) == len(has_factors):
        n = np.asarray(listeners, dtype=np.float32)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(n > 0, t * n / (n + np.float32(shrink)), 0.0).astype(np.float32)
    return t


def factor_cosine(
    q: int,
    *,
    factors: np.ndarray,
    item_norms: np.ndarray,
    has_factors: np.ndarray,
    scan: np.ndarray | None = None,
    pos2item: np.ndarray | None = None,
) -> np.ndarray:
    """Cosine of item ``q``'s factors with every item's (NaN where either has none).

    ``scan`` are the factor rows to score (default ``factors``), ``pos2item`` maps its rows
    to items when it holds only the items with factors.
    """
    n = len(has_factors)
    out = np.full(n, np.nan, dtype=np.float32)
    if not has_factors[q]:
        return out
    yq = np.asarray(factors[q], dtype=np.float32)
    scan = factors if scan is None else scan
    rows = pos2item if pos2item is not None else np.arange(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[rows] = (np.asarray(scan) @ yq) / (np.asarray(item_norms, dtype=np.float32)[rows] * float(np.linalg.norm(yq)))
    out[~np.asarray(has_factors, dtype=bool)] = np.nan
    return out


def content_signals(q: int, content: ContentIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(audio, genre, artist)`` similarities of every item to item ``q`` (NaN = unavailable)."""
    n = len(content.has_audio)
    audio = content.audio_cosine(content.audio[q]) if content.has_audio[q] else np.full(n, np.nan, np.float32)
    genres = content.genres_of(q)
    if genres:
        genre = content.genre_overlap(genres).astype(np.float32)
        genre[content.genre_counts == 0] = np.nan
    else:
        genre = np.full(n, np.nan, np.float32)
    codes = content.arrays.artists_of(q)
    if len(codes):
        artist = np.zeros(n, dtype=np.float32)
        artist[content.items_of_artists(codes)] = 1.0
    else:
        artist = np.full(n, np.nan, np.float32)
    return audio, genre, artist


def query_signals(q: int, content: ContentIndex, **factor_kwargs: Any) -> Signals:
    """All signals of query ``q`` (``factor_kwargs`` go to :func:`factor_cosine`)."""
    return Signals(factor_cosine(q, **factor_kwargs), *content_signals(q, content))


def content_score(signals: Signals, weights: HybridWeights = DEFAULT_WEIGHTS) -> np.ndarray:
    """Weighted mean of the available content signals per item (NaN where none is)."""
    total = np.zeros(len(signals.factor), dtype=np.float64)
    mass = np.zeros(len(signals.factor), dtype=np.float64)
    for name in CONTENT_SIGNALS:
        w = float(getattr(weights, name))
        values = getattr(signals, name)
        if w <= 0:
            continue
        ok = ~np.isnan(values)
        total[ok] += w * values[ok]
        mass[ok] += w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mass > 0, total / mass, np.nan)


def mix_similarity(
    factor: np.ndarray, content: np.ndarray, trust_q: float, trust_all: np.ndarray, factor_weight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(score, factor_part, content_part)``; score is -inf where neither signal exists.

    Where one side is missing the other is used alone (its weight becomes 1).
    """
    w = factor_weight * trust_q * np.asarray(trust_all, dtype=np.float64)
    w = np.where(np.isnan(content), 1.0, np.where(np.isnan(factor), 0.0, w))
    factor_part = np.nan_to_num(w * factor, nan=0.0)
    content_part = np.nan_to_num((1.0 - w) * content, nan=0.0)
    score = (factor_part + content_part).astype(np.float64)
    score[np.isnan(factor) & np.isnan(content)] = -np.inf
    return score, factor_part, content_part


def hybrid_scores(
    q: int, signals: Signals, trust_all: np.ndarray, weights: HybridWeights = DEFAULT_WEIGHTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hybrid score of every item for query ``q`` (the query itself gets -inf)."""
    score, fp, cp = mix_similarity(signals.factor, content_score(signals, weights), float(trust_all[q]), trust_all, weights.factor_weight)
    score[q] = -np.inf
    return score, fp, cp





#: Shrinkage of the trust in factors: an item with n listeners gets n / (n + this).
LISTENER_SHRINK = DEFAULT_WEIGHTS.shrink


def factor_trust(has_factors: np.ndarray, listeners: np.ndarray | None) -> np.ndarray:
    """Per-item trust ``t`` in the ALS factors (see the module docstring)."""
    return trust(has_factors, listeners, LISTENER_SHRINK)


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
    """Top-``k`` neighbours of item ``q`` by the hybrid similarity.

    ``scan`` holds the factor rows that are scored (all items, or only those with factors
    when ``pos2item`` maps its rows to items). Returns arrays ``items, scores, factor_sims,
    audio_sims, content_sims`` and ``by_factors`` (bool: the factor term is the larger one).
    """
    factor = factor_cosine(q, factors=factors, item_norms=item_norms, has_factors=has_factors, scan=scan, pos2item=pos2item)
    signals = Signals(factor, *content_signals(q, content))
    content_sim = content_score(signals, DEFAULT_WEIGHTS)
    blended, factor_part, content_part = mix_similarity(factor, content_sim, float(trust[q]), trust, factor_weight)
    blended[q] = -np.inf
    top = select_top(blended, k)
    top = top[np.isfinite(blended[top])]
    return {
        "items": top,
        "scores": blended[top],
        "factor_sims": factor[top].astype(np.float64),
        "audio_sims": signals.audio[top].astype(np.float64),
        "content_sims": content_sim[top].astype(np.float64),
        "by_factors": factor_part[top] >= content_part[top],
    }
