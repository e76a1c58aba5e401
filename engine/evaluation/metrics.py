"""Ranking and beyond-accuracy metrics for one listener's list — one small function each.

Inputs are numpy arrays of item indices (``ranked``: best first; ``relevant``: the listener's
held-out items) or of scores. Relevance is binary. A listener with no held-out items has no
defined precision/recall/NDCG/MAP: those functions return ``nan`` and :func:`mean_over_users`
skips them (Spark's ``RankingMetrics`` counts such a listener as 0 instead, with a warning).

Definitions follow Spark's ``RankingMetrics`` (``RankingEvaluator``) except recall@k, which
divides by ``min(k, |relevant|)`` (Spark divides by ``|relevant|``), so a perfect list scores 1
even when a listener hid more than k items. :func:`r_precision` and :func:`songs_clicks` are the
RecSys Challenge 2018's playlist-continuation metrics; its NDCG is :func:`ndcg_at_k` at k = 500.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np


def _hits(ranked: np.ndarray, relevant: np.ndarray, k: int) -> np.ndarray:
    """Boolean array over ``ranked[:k]``: is each recommended item relevant?"""
    return np.isin(np.asarray(ranked)[:k], np.asarray(relevant))


def precision_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Share of the first k recommendations that are relevant: hits / k.

    Range [0, 1]; ``nan`` when ``relevant`` is empty. A list shorter than k still divides
    by k (as Spark does), so a model cannot gain by recommending less.
    """
    if len(relevant) == 0:
        return float("nan")
    return float(_hits(ranked, relevant, k).sum()) / k


def recall_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """hits@k / min(k, |relevant|). Range [0, 1]; ``nan`` when ``relevant`` is empty."""
    if len(relevant) == 0:
        return float("nan")
    return float(_hits(ranked, relevant, k).sum()) / min(k, len(relevant))


def ndcg_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """Binary-relevance NDCG@k: DCG = Σ_{i<k, hit} 1/log2(i+2), divided by the DCG of an ideal
    list with min(k, |relevant|) hits on top. Range [0, 1]; ``nan`` when ``relevant`` is empty."""
    if len(relevant) == 0:
        return float("nan")
    hits = _hits(ranked, relevant, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(discounts[: len(hits)][hits].sum())
    idcg = float(discounts[: min(k, len(relevant))].sum())
    return dcg / idcg


def r_precision(ranked: np.ndarray, relevant: np.ndarray) -> float:
    """RecSys Challenge 2018 R-precision: hits among the first ``|relevant|`` recommendations / ``|relevant|``.

    Range [0, 1]; ``nan`` when ``relevant`` is empty. Order inside the first ``|relevant|`` does
    not matter (the challenge's definition, track level).
    """
    if len(relevant) == 0:
        return float("nan")
    return float(_hits(ranked, relevant, len(relevant)).sum()) / len(relevant)


def songs_clicks(ranked: np.ndarray, relevant: np.ndarray, *, page: int = 10, max_n: int = 500) -> float:
    """RecSys Challenge 2018 "recommended songs clicks": refreshes of ``page`` tracks before the
    first relevant one, ``⌊(position − 1) / page⌋`` over the first ``max_n`` recommendations, and
    ``max_n / page + 1`` (51) when none of them is relevant. Lower is better; ``nan`` when
    ``relevant`` is empty."""
    if len(relevant) == 0:
        return float("nan")
    hits = np.flatnonzero(_hits(ranked, relevant, max_n))
    return float(hits[0] // page) if len(hits) else float(max_n // page + 1)


def average_precision_at_k(ranked: np.ndarray, relevant: np.ndarray, k: int) -> float:
    """AP@k = Σ_{i<k, hit at i} precision@(i+1) / min(k, |relevant|); MAP@k is its mean over
    listeners (Spark's ``meanAveragePrecisionAtK``). Range [0, 1]; ``nan`` when ``relevant`` is empty."""
    if len(relevant) == 0:
        return float("nan")
    hits = _hits(ranked, relevant, k)
    if not hits.any():
        return 0.0
    precision_at_hit = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
    return float(precision_at_hit.sum()) / min(k, len(relevant))


def auc(pos_scores: np.ndarray, neg_scores: np.ndarray, *, ties: Literal["wrong", "half"] = "wrong") -> float:
    """Share of (positive, negative) pairs the scores order correctly.

    ``ties="wrong"`` is the rule of "Advanced Analytics with Spark" ch. 3 (a pair counts only when
    the positive scores strictly higher), which punishes models that give many items equal
    scores; ``ties="half"`` is the usual Mann–Whitney AUC. Range [0, 1]; 0.5 is chance
    (with ``"half"``). ``nan`` when either side is empty. ``-inf`` scores (items a model cannot
    rank) tie with each other.
    """
    pos = np.asarray(pos_scores, dtype=np.float64)
    neg = np.sort(np.asarray(neg_scores, dtype=np.float64))
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    below = np.searchsorted(neg, pos, side="left")  # negatives strictly below each positive
    equal = np.searchsorted(neg, pos, side="right") - below
    credit = below.sum() + (0.5 * equal.sum() if ties == "half" else 0.0)
    return float(credit) / (len(pos) * len(neg))


def catalog_coverage(top_lists: Iterable[np.ndarray], n_items: int) -> float:
    """Distinct items appearing in any listener's top-k list / ``n_items`` (the candidate
    catalogue). Range [0, 1]; 0 when there are no lists."""
    lists = [np.asarray(t) for t in top_lists]
    if n_items <= 0 or not lists:
        return 0.0
    return len(np.unique(np.concatenate(lists))) / n_items


def novelty(top_list: np.ndarray, popularity_rank: np.ndarray) -> float:
    """Mean popularity rank of the recommended items (1 = the most-listened item).

    Range [1, n_items]; higher means less obvious recommendations. ``nan`` for an empty list.
    """
    top_list = np.asarray(top_list)
    if len(top_list) == 0:
        return float("nan")
    return float(np.mean(popularity_rank[top_list]))


def intra_list_diversity(features: np.ndarray) -> float:
    """Mean pairwise Euclidean distance between the rows of ``features`` (one row per
    recommended item, e.g. standardized audio features; rows with a NaN are ignored).

    Range [0, ∞); ``nan`` when fewer than two items have features.
    """
    feats = np.asarray(features, dtype=np.float64)
    feats = feats[~np.isnan(feats).any(axis=1)] if feats.ndim == 2 else feats[:0]
    n = len(feats)
    if n < 2:
        return float("nan")
    diff = feats[:, None, :] - feats[None, :, :]
    dist = np.sqrt((diff**2).sum(axis=-1))
    return float(dist[np.triu_indices(n, k=1)].mean())


def mean_over_users(values: Iterable[float]) -> float:
    """Mean of per-listener values, skipping ``nan`` (listeners for whom a metric is undefined).

    ``nan`` when no listener has a value.
    """
    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if len(arr) else float("nan")
