"""Trained models as evaluation scorers: ALS factors, the served blend, a published bundle.

Each implements the ``fit(X)`` / ``scores(user_rows)`` protocol of
:mod:`engine.evaluation.baselines` (``fit`` does nothing: the parts come trained), so
:func:`engine.evaluation.scoring.evaluate_model` scores them like the baselines:

- :class:`FactorScorer` — ``U[u] · Y[i]`` from given factor matrices (ALS, or random factors in tests).
- :class:`BlendScorer` — the served model of :mod:`engine.serving.blend` (ALS plus item
  neighbours and the popularity prior, with the ALS weight transform applied to history
  weights), on the training users' ALS factors; these equal the fold-in of their training rows,
  which ``tests/engine/test_foldin_spark.py`` checks, so this is what serving computes.
- :class:`BundleScorer` — a published bundle exactly as served: each listener's training row
  folded in by :class:`~engine.serving.recommender.Recommender` (its factors, transform and
  blend); items the bundle lacks or has no factors for score ``-inf``. The refresh gate
  (:mod:`engine.refresh.gate`) compares the candidate and the serving bundle with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from engine.bundle.load import Bundle
from engine.core.weights import transform_weights
from engine.serving.blend import Blend, BlendWeights, als_std
from engine.serving.neighbours import ItemNeighbours
from engine.serving.recommender import Recommender


class FactorScorer:
    """Scores ``U[u] · Y[i]`` from fixed factor matrices (``fit`` does nothing)."""

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray) -> None:
        self.U = np.asarray(user_factors, dtype=np.float64)
        self.Y = np.asarray(item_factors, dtype=np.float64)

    def fit(self, X: sp.csr_matrix) -> "FactorScorer":
        return self

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        return self.U[user_rows] @ self.Y.T





class BlendScorer:
    """The served model for the evaluation: ``scores(user_rows)`` as in ``engine.evaluation.baselines``.

    Uses the training users' ALS factors ``U`` (equal to the fold-in of their training rows,
    which ``tests/engine/test_foldin_spark.py`` checks) and the same formulas as serving.

    Parameters
    ----------
    user_factors, item_factors : numpy.ndarray
        ALS ``U [n_users, k]`` and ``Y [n_items, k]`` (zero rows for items without training data).
    neighbours : ItemNeighbours
        Neighbour lists over the same item indices.
    train : scipy.sparse.csr_matrix
        Raw training weights ``[n_users, n_items]``.
    weights : BlendWeights
    transform, epsilon, clip
        The ALS weight transform (engine.core.weights) applied to history weights.
    """

    def __init__(
        self,
        user_factors: np.ndarray,
        item_factors: np.ndarray,
        neighbours: ItemNeighbours | Mapping[str, ItemNeighbours],
        train: Any,
        *,
        weights: BlendWeights,
        transform: str,
        epsilon: float = 1.0,
        clip: float = 100.0,
    ) -> None:
        self.U = np.asarray(user_factors, dtype=np.float64)
        self.Y = np.asarray(item_factors, dtype=np.float64)
        scored = np.abs(self.Y).sum(axis=1) > 0
        self.blend = Blend(weights, neighbours, gram=self.Y.T @ self.Y, factor_sum=self.Y.sum(axis=0), scored=scored)
        W = sp.csr_matrix(train, dtype=np.float64, copy=True)
        W.eliminate_zeros()
        W.data = transform_weights(W.data, transform, epsilon=epsilon, clip=clip)
        self.W = W
        n = len(scored)
        #: per term: (weight, S) with S[j, i] = s(j, i) · discount_i, so (W_u S)_i is the term's n_i
        self.terms: list[tuple[float, sp.csr_matrix]] = []
        for c in weights.terms:
            self.terms.append((c.weight, term_matrix(self.blend.lists[c.name], self.blend.discounts[c.name], n)))

    def fit(self, X: Any) -> "BlendScorer":
        """Nothing to fit (the parts come fitted)."""
        return self

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        """Blended scores ``[len(user_rows), n_items]``."""
        b, w = self.blend, self.blend.weights
        if not w.active:
            return self.U[user_rows] @ self.Y.T
        A = self.U[user_rows] @ self.Y.T if w.als else np.zeros((len(user_rows), self.Y.shape[0]))
        if w.als not in (0.0, 1.0):
            A *= w.als
        sigma_a = als_std(self.U[user_rows], b.gram, b.factor_sum, b.n_scored)
        for weight, S in self.terms:
            NB = (self.W[user_rows] @ S).tocsr()
            add_rows(A, NB, sigma_a * weight / row_stds(NB, b.n_scored))
        if w.popularity:
            A += (sigma_a * w.popularity / b.prior_std)[:, None] * b.prior[None, :]
        return A


def row_stds(T: sp.csr_matrix, n: int) -> np.ndarray:
    """:func:`~engine.serving.blend.sparse_std` of every row of ``T`` at once (rows without
    entries: 1), the same formula with row sums in place of a loop over rows."""
    n = max(1, n)
    T = sp.csr_matrix(T)
    mean = np.asarray(T.sum(axis=1)).ravel() / n
    var = np.asarray(T.multiply(T).sum(axis=1)).ravel() / n - mean * mean
    out = np.ones(T.shape[0])
    ok = var > 1e-24
    out[ok] = np.sqrt(var[ok])
    return out


def add_rows(out: np.ndarray, T: sp.csr_matrix, row_scale: np.ndarray) -> None:
    """``out += row_scale[:, None] * T`` touching only ``T``'s stored entries (a term is sparse:
    densifying it for every candidate was most of a candidate's scoring time). A canonical CSR
    row holds each column once, so the flat positions are distinct and ``+=`` is exact."""
    T = sp.csr_matrix(T)
    if not T.has_canonical_format:  # TermCache stores its terms canonical, so this is once per term
        T.sum_duplicates()
    rows = np.repeat(np.arange(T.shape[0]), np.diff(T.indptr))
    flat = out.reshape(-1)  # a view: out is C-contiguous
    flat[rows * out.shape[1] + T.indices] += row_scale[rows] * T.data


def term_matrix(lists: ItemNeighbours, discount: np.ndarray, n: int) -> sp.csr_matrix:
    """``S[j, i] = s(j, i) · discount_i`` over ``n`` items, so ``(W_u S)_i`` is a term's ``n_i``."""
    disc = discount[np.asarray(lists.indices, dtype=np.int64)]
    return sp.csr_matrix(
        (np.asarray(lists.scores, dtype=np.float64) * disc, np.asarray(lists.indices), np.asarray(lists.indptr)), shape=(n, n)
    )


class BundleScorer:
    """Scores of a bundle for evaluation listeners, as served (fold-in, plus its item-neighbour blend).

    Implements the ``scores(user_rows)`` protocol of :func:`engine.evaluation.scoring.evaluate_model`:
    each listener's training row of ``train`` (raw weights over ``item_ids``) is folded in with
    the bundle's own factors and weight transform; items the bundle lacks, or has no factors
    for, score ``-inf``.
    """

    def __init__(self, bundle: Bundle, *, item_ids: Sequence[str], train: "sp.csr_matrix") -> None:

        self.rec = Recommender(bundle)
        self.item_ids = np.asarray(item_ids, dtype=object)
        rows = self.rec.index_of(list(item_ids))
        usable = rows >= 0
        usable[usable] = self.rec.arrays.has_factors[rows[usable]]
        self.columns = np.flatnonzero(usable)
        self.bundle_rows = rows[usable]
        self.train = train

    def fit(self, X: Any) -> "BundleScorer":
        """Nothing to fit: the bundle is trained already."""
        return self

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        """``[len(user_rows), n_items]`` scores (-inf where the bundle cannot score)."""
        t = self.train
        histories = [
            dict(zip(self.item_ids[t.indices[t.indptr[u] : t.indptr[u + 1]]], t.data[t.indptr[u] : t.indptr[u + 1]]))
            for u in user_rows
        ]
        out = np.full((len(user_rows), t.shape[1]), -np.inf)
        out[:, self.columns] = self.rec.score_items(histories, self.bundle_rows)  # as served: ALS + blend
        return out
