"""Exact implicit-ALS fold-in and its explanation, in numpy.

Given fixed item factors ``Y`` (``[n_items, rank]``) and a listener's history ``{i: r_i}``
(``r`` already passed through the training weight transform), the user vector Spark's
``ALS(implicitPrefs=True)`` would compute is the solution of

    (YᵀY + Σ_i (c_i − 1) y_i y_iᵀ + λ·n·I) x = Σ_i c_i y_i,    c_i = 1 + α·r_i,

where ``n`` counts the positive entries: Spark scales ``regParam`` by each user's number of
ratings, and its ``computeFactors`` adds ``c1 = α·|r|`` to the quadratic term and ``1 + c1``
to the right-hand side for ``r > 0``. With ``YᵀY`` precomputed once (the bundle's
``gram.npy``) only the history rows are touched: O(n·k² + k³) per listener instead of
O(items·k²). ``tests/engine/test_foldin_spark.py`` checks the result against Spark.

Explanations follow Hu, Koren & Volinsky (2008) §5: with ``W = A⁻¹`` (``A`` the matrix
above) the predicted preference is ``ŷ_i = y_iᵀ x = Σ_j c_j · (y_iᵀ W y_j)``, so each history
item ``j`` contributes ``c_j · s_ij`` and the contributions sum to the score exactly.

Everything here is float64: the systems are tiny (rank × rank) and float32 solves lose the
agreement with Spark (which solves in double) that the tests pin down.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

try:  # threadpoolctl is a small, well-kept library (scikit-learn uses it for the same purpose)
    from threadpoolctl import ThreadpoolController

    _BLAS: Any = ThreadpoolController()
except ImportError:  # pragma: no cover - serving still works, only without the thread limit
    _BLAS = None

#: Upper bound on the work of one batched build (users × longest history × rank): bounds the
#: padded temporary arrays of :func:`solve_batch` to a few tens of MB.
_BATCH_BUDGET = 4_000_000


def one_blas_thread() -> AbstractContextManager[Any]:
    """Run the tiny per-listener products and solves on one BLAS thread.

    A rank×rank system gains nothing from threads, but a threaded OpenBLAS call must wait for
    its helper thread to be scheduled: on a busy host (other Streamlit sessions, a Spark job)
    that wait was measured at 10–30 ms per call, against ~0.1 ms single-threaded. The big
    ``Y @ x`` pass keeps the default thread count. The limit is process-wide (OpenBLAS has no
    per-thread setting); concurrent sessions can at worst leave it at one thread. Inside
    another ``one_blas_thread`` of the same thread it changes nothing and costs nothing (a
    nested limit and its restore took 13 µs right after a pass).
    """
    if _BLAS is None or getattr(_LIMITED, "inside", False):
        return nullcontext()
    return _limited()


_LIMITED = threading.local()


@contextmanager
def _limited() -> Iterator[None]:
    _LIMITED.inside = True
    try:
        with _BLAS.limit(limits=1, user_api="blas"):
            yield
    finally:
        _LIMITED.inside = False


@dataclass(frozen=True)
class FoldIn:
    """A solved fold-in: the user vector and what an explanation needs.

    Attributes
    ----------
    x : numpy.ndarray
        float64 ``[rank]`` user vector.
    system : numpy.ndarray
        float64 ``[rank, rank]`` matrix ``A = YᵀC_uY + λnI`` (``W = A⁻¹``).
    rows : numpy.ndarray
        float64 ``[n, rank]`` factor rows of the history items that entered the solve.
    confidence : numpy.ndarray
        float64 ``[n]`` confidences ``c_j = 1 + α·r'_j`` of those items.
    """

    x: np.ndarray
    system: np.ndarray
    rows: np.ndarray
    confidence: np.ndarray


def solve_batch(
    gram: np.ndarray,
    rows: Sequence[np.ndarray],
    confidence: Sequence[np.ndarray],
    *,
    reg_param: float,
) -> list[FoldIn]:
    """Fold in many listeners at once: one batched build and one batched ``np.linalg.solve``.

    Parameters
    ----------
    gram : numpy.ndarray
        ``YᵀY`` over all items, ``[rank, rank]``.
    rows : sequence of numpy.ndarray
        Per listener, the factor rows ``[n_u, rank]`` of their history items (n_u may be 0).
    confidence : sequence of numpy.ndarray
        Per listener, ``c = 1 + α·r'`` for those rows (all > 1 for positive weights).
    reg_param : float
        Spark's ``regParam`` λ; the solve uses ``λ·n_u``.

    Returns
    -------
    list of FoldIn
        One per listener, in order. A listener without rows gets ``x = 0`` (the exact solution
        of a zero right-hand side) without a solve.
    """
    gram = np.asarray(gram, dtype=np.float64)
    rank = gram.shape[0]
    results: list[FoldIn | None] = [None] * len(rows)
    todo = [u for u in range(len(rows)) if len(rows[u])]
    for u in range(len(rows)):
        if not len(rows[u]):
            results[u] = FoldIn(np.zeros(rank), gram.copy(), np.zeros((0, rank)), np.zeros(0))
    if len(todo) == 1:  # one listener (every page request): no padding, no batch axis
        u = todo[0]
        with one_blas_thread():
            results[u] = _solve_one(gram, np.asarray(rows[u], dtype=np.float64),
                                    np.asarray(confidence[u], dtype=np.float64), reg_param)
        return results  # type: ignore[return-value]
    # Users are padded to the longest history of their chunk; sort by length so chunks pad little.
    todo.sort(key=lambda u: len(rows[u]))
    start = 0
    while start < len(todo):
        longest = len(rows[todo[start]])
        stop = start + 1
        while stop < len(todo) and (stop - start + 1) * max(longest, len(rows[todo[stop]])) * rank <= _BATCH_BUDGET:
            longest = max(longest, len(rows[todo[stop]]))
            stop += 1
        chunk = todo[start:stop]
        with one_blas_thread():
            solved = _solve_padded(gram, [rows[u] for u in chunk], [confidence[u] for u in chunk], reg_param)
        for u, fold in zip(chunk, solved):
            results[u] = fold
        start = stop
    return results  # type: ignore[return-value]


def _solve_one(gram: np.ndarray, rows: np.ndarray, conf: np.ndarray, reg_param: float) -> FoldIn:
    """One listener's system: ``YᵀY`` plus one ``Y_hᵀ (C − I) Y_h`` product, then one solve.

    Measured at rank 64 with a 200-track history: ~60 µs for the product, ~65 µs for the solve
    (LAPACK ``gesv`` through numpy; a Cholesky solve was no faster at this size).
    """
    system = gram + (rows.T * np.where(conf > 0, conf - 1.0, 0.0)) @ rows
    system[np.diag_indices_from(system)] += reg_param * len(rows)
    rhs = conf @ rows
    try:
        x = np.linalg.solve(system, rhs)
    except np.linalg.LinAlgError:
        x = np.linalg.lstsq(system, rhs, rcond=None)[0]
    return FoldIn(x, system, rows, conf)


def _solve_padded(
    gram: np.ndarray, rows: list[np.ndarray], confidence: list[np.ndarray], reg_param: float
) -> list[FoldIn]:
    users, rank = len(rows), gram.shape[0]
    longest = max(len(r) for r in rows)
    # Zero padding leaves both sums unchanged: a padded row has weight 0 in A and in b.
    padded = np.zeros((users, longest, rank))
    conf = np.zeros((users, longest))
    for u, (r, c) in enumerate(zip(rows, confidence)):
        padded[u, : len(r)] = r
        conf[u, : len(c)] = c
    n_pos = np.array([len(r) for r in rows], dtype=np.float64)
    weighted = padded * np.where(conf > 0, conf - 1.0, 0.0)[:, :, None]
    systems = gram[None, :, :] + np.matmul(weighted.transpose(0, 2, 1), padded)
    systems[:, np.arange(rank), np.arange(rank)] += reg_param * n_pos[:, None]
    rhs = np.matmul(conf[:, None, :], padded)[:, 0, :]
    try:
        xs = np.linalg.solve(systems, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        # Only reachable with regParam = 0 and a rank-deficient Y: fall back to least squares.
        xs = np.stack([np.linalg.lstsq(a, b, rcond=None)[0] for a, b in zip(systems, rhs)])
    return [
        FoldIn(xs[u], systems[u], np.asarray(rows[u], dtype=np.float64), np.asarray(confidence[u], dtype=np.float64))
        for u in range(users)
    ]


def contributions(fold: FoldIn, item_rows: np.ndarray) -> np.ndarray:
    """Per-history-item contributions to the scores of ``item_rows`` (Hu–Koren–Volinsky §5).

    Parameters
    ----------
    fold : FoldIn
        The listener's solved fold-in.
    item_rows : numpy.ndarray
        ``[m, rank]`` factor rows of the items to explain.

    Returns
    -------
    numpy.ndarray
        float64 ``[m, n]``: entry ``(i, j)`` is ``c_j · y_iᵀ W y_j``; row ``i`` sums to
        ``y_iᵀ x`` up to float error.
    """
    if not len(fold.rows):
        return np.zeros((len(item_rows), 0))
    item_rows = np.asarray(item_rows, dtype=np.float64)
    with one_blas_thread():
        # W is symmetric (A is symmetric positive definite), so y_iᵀ W y_j = (W y_i)ᵀ y_j: one
        # solve for whichever side has fewer rows. A list of 50 against a 200-track history
        # took 115 against 242 µs that way (bench/serve.py's catalogue, one-off script); the
        # two orders agree to ~1e-15 relative.
        if len(item_rows) < len(fold.rows):
            w_items = np.linalg.solve(fold.system, item_rows.T)  # [rank, m]
            return (w_items.T @ fold.rows.T) * fold.confidence[None, :]
        w_rows = np.linalg.solve(fold.system, fold.rows.T)  # [rank, n]
        return (item_rows @ w_rows) * fold.confidence[None, :]
