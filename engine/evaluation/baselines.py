"""Baseline recommenders that ALS is measured against, behind one small interface.

Every model has ``fit(X)`` with ``X`` a ``scipy.sparse.csr_matrix [n_users, n_items]`` of raw
training weights, and ``scores(user_rows) -> float64 [len(user_rows), n_items]`` (higher is
better; ``-inf`` marks items a model cannot rank): the :class:`Scorer` protocol. The evaluation
masks each listener's own training items itself, so models need not.

- :class:`MostPopular` — distinct listeners per item (or total plays: the book's "most listened").
- :class:`RandomScores` — uniform noise, reproducible per (seed, user).
- :class:`Ease` — Steck 2019, "Embarrassingly Shallow Autoencoders": the closed-form linear
  autoencoder ``B = I − P·diagMat(1/diag(P))``, ``P = (XᵀX + λI)⁻¹``, on binary X and restricted
  to the ``max_items`` items with the most listeners (the Gram matrix is dense: N² float64).
- :class:`ItemKnn` — cosine item–item similarity on binary X, each item keeping its
  ``neighbours`` most similar items; score(u, i) = Σ over the listener's items j that have i
  among their neighbours of sim(j, i) (the item-based top-N recommender of Deshpande & Karypis
  2004; the served item-kNN component at shrink 0 is the same model).

The scorers of trained models (ALS factors, the served blend, a published bundle) follow the
same protocol in :mod:`engine.evaluation.scorers`. These baselines are written here rather than
taken from a library because they are a few lines of scipy each, and ``implicit``'s versions
(bench/quality.py) do not expose EASE.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import scipy.sparse as sp

from engine.training.ease import ease_weights


class Scorer(Protocol):
    """What the evaluation needs from a model. ``scores`` returns a new array each call: the
    evaluation masks it in place (copying every batch of a 68k-item catalogue cost a fifth of
    an ALS point's scoring)."""

    def fit(self, X: sp.csr_matrix) -> "Scorer": ...

    def scores(self, user_rows: np.ndarray) -> np.ndarray: ...


def _binary(X: sp.csr_matrix) -> sp.csr_matrix:
    B = sp.csr_matrix(X, dtype=np.float64, copy=True)
    B.eliminate_zeros()
    B.data[:] = 1.0
    return B


class MostPopular:
    """Score = number of distinct training listeners of the item (``by="listeners"``) or the
    item's total training weight (``by="plays"``, the book's most-listened baseline)."""

    def __init__(self, *, by: str = "listeners") -> None:
        if by not in ("listeners", "plays"):
            raise ValueError(f"by must be listeners or plays, got {by!r}")
        self.by = by
        self.popularity = np.zeros(0)

    def fit(self, X: sp.csr_matrix) -> "MostPopular":
        M = _binary(X) if self.by == "listeners" else sp.csr_matrix(X, dtype=np.float64)
        self.popularity = np.asarray(M.sum(axis=0)).ravel()
        return self

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(user_rows), len(self.popularity))).copy()


class RandomScores:
    """Uniform random scores; the same (seed, user) always gets the same scores."""

    def __init__(self, *, seed: int = 42) -> None:
        self.seed = seed
        self.n_items = 0

    def fit(self, X: sp.csr_matrix) -> "RandomScores":
        self.n_items = X.shape[1]
        return self

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        return np.stack([np.random.default_rng([self.seed, int(u)]).random(self.n_items) for u in user_rows])


class Ease:
    """EASE (Steck 2019) on the ``max_items`` most-listened items; other items score ``-inf``.

    Parameters
    ----------
    lam : float
        L2 regularization λ added to the Gram matrix's diagonal (Steck uses 100–1000).
    max_items : int
        Size N of the item subset; memory is about 3·N²·8 bytes while fitting (8,000 -> 1.5 GB).
    """

    def __init__(self, *, lam: float = 100.0, max_items: int = 8000) -> None:
        self.lam, self.max_items = lam, max_items
        self.items = np.zeros(0, dtype=np.int64)
        self.B = np.zeros((0, 0))
        self.X = sp.csr_matrix((0, 0))

    def fit(self, X: sp.csr_matrix) -> "Ease":
        self.X = _binary(X)
        self.items, self.B = ease_weights(self.X, lam=self.lam, max_items=self.max_items)
        return self

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        out = np.full((len(user_rows), self.X.shape[1]), -np.inf)
        out[:, self.items] = self.X[user_rows][:, self.items] @ self.B
        return out


class ItemKnn:
    """Item-based kNN with cosine similarity on binary X, ``neighbours`` per item."""

    def __init__(self, *, neighbours: int = 100) -> None:
        self.neighbours = neighbours
        self.S = sp.csr_matrix((0, 0))
        self.X = sp.csr_matrix((0, 0))

    def fit(self, X: sp.csr_matrix) -> "ItemKnn":
        Xb = _binary(X)
        norms = np.sqrt(np.asarray(Xb.sum(axis=0)).ravel())
        inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        Xn = sp.csr_matrix(Xb @ sp.diags(inv))
        sim = sp.csr_matrix(Xn.T @ Xn)
        sim.setdiag(0.0)
        sim.eliminate_zeros()
        self.S = _keep_top_per_row(sim, self.neighbours)
        self.X = Xb
        return self

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        # Row j of S holds j's neighbours, so score(u, i) = Σ_j x_uj · S[j, i] = (X_u S)_i: each
        # history item votes for its own top neighbours (Deshpande & Karypis 2004), which is
        # also how the served item-kNN component scores (engine.serving.blend).
        return np.asarray((self.X[user_rows] @ self.S).toarray())


def _keep_top_per_row(M: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row of ``M`` (ties by column order)."""
    M = M.tocsr()
    M.sort_indices()
    rows, cols, vals = [], [], []
    for i in range(M.shape[0]):
        start, end = M.indptr[i], M.indptr[i + 1]
        data, idx = M.data[start:end], M.indices[start:end]
        if len(data) > k:
            keep = np.argsort(-data, kind="stable")[:k]
            data, idx = data[keep], idx[keep]
        rows.append(np.full(len(data), i))
        cols.append(idx)
        vals.append(data)
    if not rows:
        return sp.csr_matrix(M.shape)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=M.shape
    )
