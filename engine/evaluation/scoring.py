"""Score models on a held-out split in numpy: top-k lists, the ranking metrics, AUC.

The split arrives as two sparse matrices over the same integer ids (``train``, ``test``:
``[n_users, n_items]``). :func:`build_eval_data` fixes everything that must be identical for
every model — the candidate items, the sampled AUC negatives, popularity ranks — and
:func:`evaluate_model` runs one model (anything with ``scores(user_rows)``, see
``engine.evaluation.baselines`` and ``engine.evaluation.scorers``) over the test listeners in batches.

Candidates: items with at least one training interaction, minus the listener's own training
items. A held-out item nobody trained on cannot be recommended by any collaborative model; it
stays in the held-out set and counts as a miss for every model.

AUC follows "Advanced Analytics with Spark" ch. 3: per listener, the held-out items are the
positives and as many negatives are sampled uniformly; the listener's AUC is the share of
(positive, negative) pairs ordered correctly, and the report gives the mean over listeners.
Under the evaluation protocol negatives come from the candidates (never the listener's
training items); under ``negatives="book"`` they come from all items except the positives,
and items without training data are dropped from both sides, as the book's join does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine.evaluation import metrics as M


def metric_keys(k: int = 10, k_recall: int = 50) -> tuple[str, ...]:
    """Metric keys of one model row, in report order."""
    return (
        f"ndcg@{k}",
        f"recall@{k_recall}",
        f"precision@{k}",
        f"map@{k}",
        "auc",
        "auc_ties_half",
        f"coverage@{k}",
        f"novelty@{k}",
        f"diversity@{k}",
    )


@dataclass
class EvalData:
    """A split in index space plus everything shared by all models' evaluations."""

    train: sp.csr_matrix
    test: sp.csr_matrix
    test_users: np.ndarray
    candidates: np.ndarray  # bool [n_items]: item has a training interaction
    negatives: dict[int, np.ndarray]
    positives: dict[int, np.ndarray]
    popularity_rank: np.ndarray  # int [n_items], 1 = most training listeners
    features: np.ndarray | None = None  # float [n_items, d] (NaN rows: no features)
    negatives_kind: str = "candidates"
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        """Number of items in the index."""
        return int(self.train.shape[1])


def to_csr(pdf: pd.DataFrame, *, n_users: int, n_items: int) -> sp.csr_matrix:
    """``user_idx, item_idx, weight`` rows -> csr ``[n_users, n_items]`` (duplicates summed)."""
    return sp.csr_matrix(
        (
            pdf["weight"].to_numpy(dtype=np.float64),
            (pdf["user_idx"].to_numpy(dtype=np.int64), pdf["item_idx"].to_numpy(dtype=np.int64)),
        ),
        shape=(n_users, n_items),
    )


def build_eval_data(
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    *,
    seed: int = 42,
    negatives: str = "candidates",
    features: np.ndarray | None = None,
) -> EvalData:
    """Fix the test listeners, candidates, sampled AUC negatives and popularity ranks.

    Parameters
    ----------
    train, test : scipy.sparse.csr_matrix
        ``[n_users, n_items]`` raw weights of the training and held-out parts.
    seed : int
        Seeds the negative sampling (one generator per listener: independent of batch order).
    negatives : {"candidates", "book"}
        Where AUC negatives come from (see the module docstring).
    features : numpy.ndarray, optional
        Item features for intra-list diversity; NaN rows for items without features.
    """
    train, test = sp.csr_matrix(train), sp.csr_matrix(test)
    listeners = np.diff(sp.csc_matrix(train).indptr)
    candidates = listeners > 0
    order = np.argsort(-listeners, kind="stable")
    popularity_rank = np.empty(len(order), dtype=np.int64)
    popularity_rank[order] = np.arange(1, len(order) + 1)
    test_users = np.flatnonzero(np.diff(test.indptr) > 0)
    all_items = np.arange(train.shape[1])
    pos_of: dict[int, np.ndarray] = {}
    neg_of: dict[int, np.ndarray] = {}
    for u in test_users:
        pos = test.indices[test.indptr[u] : test.indptr[u + 1]]
        rng = np.random.default_rng([seed, int(u)])
        if negatives == "book":
            allowed = np.setdiff1d(all_items, pos, assume_unique=True)
            neg = rng.choice(allowed, size=min(len(pos), len(allowed)), replace=False)
            pos, neg = pos[candidates[pos]], neg[candidates[neg]]  # the book's join drops them
        elif negatives == "candidates":
            seen = train.indices[train.indptr[u] : train.indptr[u + 1]]
            allowed = np.flatnonzero(candidates)
            allowed = np.setdiff1d(allowed, np.concatenate([pos, seen]), assume_unique=False)
            neg = rng.choice(allowed, size=min(len(pos), len(allowed)), replace=False)
        else:
            raise ValueError(f"negatives must be candidates or book, got {negatives!r}")
        pos_of[int(u)], neg_of[int(u)] = np.sort(pos), np.sort(neg)
    stats = {
        "n_users": int(train.shape[0]),
        "n_items": int(train.shape[1]),
        "n_candidate_items": int(candidates.sum()),
        "n_train": int(train.nnz),
        "n_test": int(test.nnz),
        "n_test_users": int(len(test_users)),
        "n_test_items_without_training": int((~candidates[test.indices]).sum()),
    }
    return EvalData(
        train=train,
        test=test,
        test_users=test_users,
        candidates=candidates,
        negatives=neg_of,
        positives=pos_of,
        popularity_rank=popularity_rank,
        features=features,
        negatives_kind=negatives,
        stats=stats,
    )


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores per row, best first (ties: lower index first).

    Rows may hold ``-inf`` for items that must not be recommended; callers drop those.
    """
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, kth=k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1)


def evaluate_model(
    model: Any,
    data: EvalData,
    *,
    k: int = 10,
    k_recall: int = 50,
    batch_size: int = 256,
) -> dict[str, float]:
    """Mean per-listener metrics of one fitted model on ``data`` (keys: :func:`metric_keys`,
    plus ``n_eval_users`` and ``score_seconds``)."""
    start = time.perf_counter()
    per: dict[str, list[float]] = {key: [] for key in ("ndcg", "recall", "precision", "map", "auc", "auc_half", "nov", "div")}
    tops: list[np.ndarray] = []
    n_list = max(k, k_recall)
    users = data.test_users
    non_candidates = np.flatnonzero(~data.candidates)
    for lo in range(0, len(users), batch_size):
        rows = users[lo : lo + batch_size]
        raw = model.scores(rows)
        S = np.asarray(raw, dtype=np.float64)
        if S is raw and not (S.flags.owndata and S.flags.writeable):
            S = S.copy()  # a view or read-only: masked below, so copied (a fresh array is not)
        S[:, non_candidates] = -np.inf
        # AUC reads the scores before the listener's own training items are masked (gathered
        # here instead of copying the whole batch)
        for j, u in enumerate(rows):
            pos_s, neg_s = S[j, data.positives[int(u)]], S[j, data.negatives[int(u)]]
            per["auc"].append(M.auc(pos_s, neg_s, ties="wrong"))
            per["auc_half"].append(M.auc(pos_s, neg_s, ties="half"))
        # Mask each listener's own training items for the ranking metrics.
        sub = data.train[rows]
        S[np.repeat(np.arange(len(rows)), np.diff(sub.indptr)), sub.indices] = -np.inf
        ranked_all = top_k(S, n_list)
        for j, u in enumerate(rows):
            u = int(u)
            ranked = ranked_all[j][np.isfinite(S[j, ranked_all[j]])]
            relevant = data.test.indices[data.test.indptr[u] : data.test.indptr[u + 1]]
            per["ndcg"].append(M.ndcg_at_k(ranked, relevant, k))
            per["precision"].append(M.precision_at_k(ranked, relevant, k))
            per["map"].append(M.average_precision_at_k(ranked, relevant, k))
            per["recall"].append(M.recall_at_k(ranked, relevant, k_recall))
            top = ranked[:k]
            tops.append(top)
            per["nov"].append(M.novelty(top, data.popularity_rank))
            if data.features is not None:
                per["div"].append(M.intra_list_diversity(data.features[top]))
    mean = {key: M.mean_over_users(vals) for key, vals in per.items()}
    values = (
        mean["ndcg"],
        mean["recall"],
        mean["precision"],
        mean["map"],
        mean["auc"],
        mean["auc_half"],
        M.catalog_coverage(tops, int(data.candidates.sum())),
        mean["nov"],
        mean["div"],
    )
    out: dict[str, float] = dict(zip(metric_keys(k, k_recall), values))
    out.update(n_eval_users=int(len(users)), score_seconds=round(time.perf_counter() - start, 3))
    return out
