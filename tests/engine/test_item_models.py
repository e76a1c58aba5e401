"""The servable item–item components against brute force: co-occurrence lists (item-kNN with
shrinkage, RP3beta) and EASE, in numpy; the same lists on Spark are in test_neighbours.py."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from engine.serving.neighbours import NeighbourParams
from engine.training.cooccurrence import CooccurrenceBasis, binary_capped, cooccurrence_neighbours, row_top_n
from engine.training.ease import ease_neighbours, ease_weights


def random_listening(n_users: int = 40, n_items: int = 30, density: float = 0.18, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < density) * rng.integers(1, 9, (n_users, n_items))
    dense[:, -1] = 0  # an item nobody played: an empty row, never a target
    return sp.csr_matrix(dense.astype(np.float64))


def brute_similarity(X: np.ndarray, p: NeighbourParams) -> np.ndarray:
    """s[i, j] written out with loops, straight from the formula (nan: no pair)."""
    n_users, n_items = X.shape
    B = np.zeros_like(X)
    for u in range(n_users):
        items = [i for i in range(n_items) if X[u, i] > 0]
        if p.max_user_items:
            items = sorted(items, key=lambda i: (-X[u, i], i))[: p.max_user_items]
        B[u, items] = 1.0
    listeners = B.sum(axis=0)
    degree = B.sum(axis=1)
    s = np.full((n_items, n_items), np.nan)
    for i in range(n_items):
        for j in range(n_items):
            shared = [u for u in range(n_users) if B[u, i] and B[u, j]]
            if i == j or len(shared) < p.min_common or not shared:
                continue
            co = sum(degree[u] ** -p.user_exponent for u in shared)
            s[i, j] = co / (listeners[i] ** p.source_exponent * listeners[j] ** p.target_exponent + p.shrink)
    return s


def assert_top_lists(lists, s: np.ndarray, top_n: int) -> None:
    """Every row holds its top_n best targets (ties may go either way), with the right scores."""
    for i in range(s.shape[0]):
        idx, val = lists.row(i)
        row = s[i]
        have = np.flatnonzero(~np.isnan(row))
        assert len(idx) == min(top_n, len(have)), f"row {i}"
        np.testing.assert_allclose(val, row[idx], rtol=1e-5, err_msg=f"row {i}")
        assert np.all(np.diff(val) <= 1e-6 * np.abs(val[:-1]) + 1e-12), f"row {i} not best first"
        if len(idx) < len(have):
            left_out = np.setdiff1d(have, idx)
            assert row[left_out].max() <= val[-1] * (1 + 1e-6), f"row {i} left a better target out"


@pytest.mark.parametrize(
    "params",
    [
        NeighbourParams(top_n=100),  # plain cosine: the lists the blend served first
        NeighbourParams(top_n=5, shrink=3.0),  # item-kNN with shrinkage
        NeighbourParams(top_n=7, user_exponent=0.8, source_exponent=0.8, target_exponent=0.4),  # RP3beta
        NeighbourParams(top_n=4, user_exponent=1.0, source_exponent=1.0, target_exponent=0.0, min_common=2),
        NeighbourParams(top_n=6, max_user_items=4, shrink=1.0, source_exponent=0.3, target_exponent=0.9),
    ],
    ids=["cosine", "knn-shrink", "rp3beta", "rp3-alpha1-min2", "capped-asymmetric"],
)
def test_cooccurrence_lists_match_brute_force(params: NeighbourParams) -> None:
    X = random_listening()
    lists = cooccurrence_neighbours(X, params)
    assert lists.n_items == X.shape[1]
    assert_top_lists(lists, brute_similarity(X.toarray(), params), params.top_n)
    assert lists.row(X.shape[1] - 1)[0].size == 0 and (lists.indices != X.shape[1] - 1).all()
    np.testing.assert_array_equal(lists.listeners, binary_capped(X, params.max_user_items).sum(axis=0).A1)


def test_one_basis_serves_every_grid_point_like_a_fresh_computation() -> None:
    X = random_listening(seed=3)
    basis = CooccurrenceBasis(X)
    for gamma, b, shrink, top_n in itertools.product((0.0, 0.5), (0.2, 0.5), (0.0, 2.0), (3, 50)):
        p = NeighbourParams(top_n=top_n, user_exponent=gamma, source_exponent=gamma or 0.5, target_exponent=b, shrink=shrink)
        fresh, reused = cooccurrence_neighbours(X, p), basis.neighbours(p)
        for a, c in ((fresh.indptr, reused.indptr), (fresh.indices, reused.indices), (fresh.scores, reused.scores)):
            np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("top_n", [1, 3, 7, 50])
def test_row_top_n_equals_one_global_sort_ties_by_position(top_n: int) -> None:
    rng = np.random.default_rng(4)
    lengths = rng.integers(0, 12, size=40)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    scores = rng.integers(0, 4, size=int(indptr[-1])).astype(np.float64)  # many ties, at every boundary
    rows = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.arange(len(scores))
    order = np.lexsort((pos, -scores, rows))  # the reference: by row, best first, ties by position
    rank = np.arange(len(order)) - np.repeat(indptr[:-1], lengths)
    np.testing.assert_array_equal(row_top_n(indptr, scores, top_n), order[rank < top_n])
    assert len(row_top_n(np.zeros(3, dtype=np.int64), np.zeros(0), top_n)) == 0


def test_capping_keeps_each_listeners_heaviest_items() -> None:
    X = sp.csr_matrix(np.array([[5.0, 1.0, 3.0, 3.0, 0.0], [0.0, 2.0, 0.0, 0.0, 1.0]]))
    B = binary_capped(X, 2).toarray()
    np.testing.assert_array_equal(B, [[1, 0, 1, 0, 0], [0, 1, 0, 0, 1]])  # tie 3 vs 3: lower index
    np.testing.assert_array_equal(binary_capped(X, 0).toarray(), (X.toarray() > 0).astype(float))


def test_ease_weights_solve_the_constrained_least_squares_column_by_column() -> None:
    """An independent derivation: column j of W minimises ||B_j − B w||² + λ||w||² with w_j = 0,
    i.e. (G + λI) w = g_j − μ e_j with μ chosen so that w_j = 0 (a Lagrange multiplier)."""
    X = random_listening(n_users=60, n_items=20, density=0.3, seed=5)
    lam = 7.0
    items, W = ease_weights(X, lam=lam, max_items=12)
    B = (X.toarray() > 0).astype(float)
    assert len(items) == 12
    listeners = B.sum(axis=0)
    assert set(items) == set(np.argsort(-listeners, kind="stable")[:12])
    Bs = B[:, items]
    G = Bs.T @ Bs
    A = G + lam * np.eye(len(items))
    for j in range(len(items)):
        e = np.zeros(len(items))
        e[j] = 1.0
        base, unit = np.linalg.solve(A, G[:, j]), np.linalg.solve(A, e)
        w = base - (base[j] / unit[j]) * unit
        np.testing.assert_allclose(W[:, j], w, atol=1e-10)
    assert np.all(np.diag(W) == 0)


def test_ease_lists_keep_the_largest_positive_weights() -> None:
    X = random_listening(n_users=60, n_items=20, density=0.3, seed=6)
    items, W = ease_weights(X, lam=5.0, max_items=15)
    lists = ease_neighbours(X, lam=5.0, max_items=15, top_n=4)
    dense = np.full((20, 20), np.nan)
    dense[np.ix_(items, items)] = np.where(W > 0, W, np.nan)
    np.fill_diagonal(dense, np.nan)
    assert_top_lists(lists, dense, 4)
    outside = np.setdiff1d(np.arange(20), items)
    assert all(lists.row(i)[0].size == 0 for i in outside)
