"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders") on an item subset, in numpy.

The closed form on binary listening ``B``: ``P = (BᵀB + λI)⁻¹``, ``W = I − P·diagMat(1/diag(P))``
(so ``diag(W) = 0``), and a listener's score for item ``j`` is ``Σ_i∈history W_ij``. The Gram
matrix is dense, so it is restricted to the ``max_items`` items with the most listeners
(N² float64 each for the Gram matrix and its inverse: 8,000 items -> about 1 GB).

:func:`ease_weights` is the exact model (the evaluation's EASE baseline scores with it);
:func:`ease_neighbours` keeps each item's ``top_n`` largest positive weights as neighbour lists,
the form the served blend reads from a bundle (:mod:`engine.serving.neighbours`): dropping the
small and negative weights is what makes EASE servable from a bundle, and the evaluation measures
that sparse version, not the dense one, when it scores the served model.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from engine.serving.neighbours import ItemNeighbours


def ease_items(B: sp.csr_matrix, max_items: int) -> np.ndarray:
    """The subset: the ``max_items`` items with the most listeners (ties: lower index), sorted."""
    listeners = np.asarray((B > 0).sum(axis=0)).ravel()
    order = np.argsort(-listeners, kind="stable")
    return np.sort(order[: min(max_items, int((listeners > 0).sum()))])


def ease_weights(B: sp.csr_matrix, *, lam: float, max_items: int) -> tuple[np.ndarray, np.ndarray]:
    """``(items, W)``: the subset's item indices and EASE's ``W`` over them (float64, zero diagonal)."""
    if not lam > 0:
        raise ValueError(f"EASE λ must be > 0, got {lam}")
    Bb = sp.csr_matrix(B, dtype=np.float64, copy=True)
    Bb.eliminate_zeros()
    Bb.data[:] = 1.0
    items = ease_items(Bb, max_items)
    Bs = Bb[:, items]
    G = (Bs.T @ Bs).toarray()
    G[np.diag_indices_from(G)] += lam
    P = np.linalg.inv(G)
    del G
    W = P / (-np.diag(P))  # column j divided by -P_jj
    W[np.diag_indices_from(W)] = 0.0
    return items, W


def ease_neighbours(B: sp.csr_matrix, *, lam: float, max_items: int, top_n: int) -> ItemNeighbours:
    """EASE's ``top_n`` largest positive weights per subset item as neighbour lists over all
    ``B.shape[1]`` items (items outside the subset have empty rows and are never targets)."""
    items, W = ease_weights(B, lam=lam, max_items=max_items)
    return ease_lists(B, items, W, top_n=top_n)


def ease_lists(B: sp.csr_matrix, items: np.ndarray, W: np.ndarray, *, top_n: int) -> ItemNeighbours:
    """:func:`ease_neighbours` from weights already fitted on ``B`` (:func:`ease_weights`)."""
    return weights_to_neighbours(items, W, n_items=B.shape[1], top_n=top_n,
                                 listeners=np.asarray((B > 0).sum(axis=0), dtype=np.float32).ravel())


def weights_to_neighbours(
    items: np.ndarray, W: np.ndarray, *, n_items: int, top_n: int, listeners: np.ndarray
) -> ItemNeighbours:
    """Row ``items[r]`` lists ``items[c]`` for the ``top_n`` largest positive ``W[r, c]`` (ties:
    lower index first), best first; rows of items outside ``items`` are empty."""
    m = len(items)
    lengths = np.zeros(n_items, dtype=np.int64)
    cols_out, vals_out = [], []
    k = min(top_n, max(m - 1, 0))
    for lo in range(0, m, 1024):  # in row blocks: argpartition copies its input
        block = W[lo : lo + 1024]
        if k == 0:
            break
        part = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (len(block), 1))
        vals = np.take_along_axis(block, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)
        part = np.take_along_axis(part, order, axis=1)
        vals = np.take_along_axis(vals, order, axis=1)
        for r in range(len(block)):
            ok = vals[r] > 0
            cols_out.append(items[part[r][ok]])
            vals_out.append(vals[r][ok])
            lengths[items[lo + r]] = int(ok.sum())
    indptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    # rows were appended in subset order, which is ascending item order (items is sorted)
    indices = np.concatenate(cols_out).astype(np.int32) if cols_out else np.zeros(0, np.int32)
    scores = np.concatenate(vals_out).astype(np.float32) if vals_out else np.zeros(0, np.float32)
    return ItemNeighbours(indptr, indices, scores, np.asarray(listeners, dtype=np.float32))
