"""The one full pass of serving: ``Y @ x`` over the items with factors, and the served scores it gives.

Serving costs one pass over the item factors per request (memory bound); everything else reads
the scores of that pass at a few positions, or combines them with per-item arrays in place.

- :class:`Scan` is the matrix that pass reads: the bundle's (memory-mapped) factors, or a
  compact in-memory copy of the rows with factors when fewer than half the items have them,
  and the maps between its positions and item indices.
- :class:`ModelScores` is one listener's served score at every position (ALS, plus the blend
  added in place) with its mean and spread over the items with factors, as the lists read it:
  ``z`` at a few items, or gathered in another order.

A scan may also be quantized (:mod:`engine.serving.quantized`): its pass then reads the int8
rows only, and yields an estimate and an upper bound of every score. Candidates are chosen by
the bound and re-scored exactly, so the lists are the ones the float32 pass gives (see
:class:`ModelScores` for the one difference: the spread reads the estimates at the bonused items).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas

from engine.serving.quantized import QuantizedScan
from engine.serving.rerank import largest_magnitude

#: Below this share of items with factors, serving keeps a compact in-memory copy of those
#: rows rather than scanning the (memory-mapped) full matrix of mostly zero rows.
COMPACT_BELOW = 0.5


def column_major(matrix: np.ndarray) -> bool:
    """Whether ``matrix`` is a Fortran-ordered 2-D array (and not also C-ordered, as a single
    row or column is): the bundle's factors up to rank 64 (engine.bundle.publish.factor_order)."""
    return matrix.ndim == 2 and matrix.flags.f_contiguous and not matrix.flags.c_contiguous


def _take_rows(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A new array of ``matrix[rows]`` in the matrix's own order: column-major stays
    column-major, anything else comes back C-ordered.

    numpy's fancy index walks a column-major matrix row by row, each row ``rank`` values a
    column's length apart: 237 µs for 200 of 600k rows at rank 64 after a pass. Taking along
    the rows of its (row-major) transpose walks each column once: 157 µs, and its transpose
    is already the column-major copy.
    """
    if column_major(matrix):
        return np.asarray(matrix.T.take(rows, axis=1).T)
    return np.ascontiguousarray(matrix[rows])


def factor_rows(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """float64 C-ordered copy of ``matrix[rows]``, for a row-major or column-major matrix
    (:func:`_take_rows`). Same values, same layout as ``np.asarray(matrix[rows],
    dtype=np.float64)``, so what is computed from them does not change in a bit."""
    return np.ascontiguousarray(_take_rows(matrix, rows), dtype=np.float64)


@dataclass(frozen=True)
class Scan:
    """The matrix of the full pass and its positions.

    Attributes
    ----------
    matrix : numpy.ndarray
        float32 ``[positions, rank]``.
    pos2item : numpy.ndarray or None
        Item index of each position (None: positions are item indices).
    item2pos : numpy.ndarray or None
        Position of each item, -1 for items not scanned (None: positions are item indices).
    require_factors : bool
        True when the matrix holds zero rows (items without factors) that must not be served.
    has_factors : numpy.ndarray
        bool ``[n_items]``.
    quantized : QuantizedScan or None
        The int8 copy the serving pass reads instead of ``matrix`` (None: ``matrix`` itself).
    """

    matrix: np.ndarray
    pos2item: np.ndarray | None
    item2pos: np.ndarray | None
    require_factors: bool
    has_factors: np.ndarray
    quantized: QuantizedScan | None = None

    @classmethod
    def of(cls, factors: np.ndarray, has_factors: np.ndarray, *, quantize: bool = False) -> "Scan":
        """The scan of a bundle's factors (see :data:`COMPACT_BELOW`), with its int8 copy when
        ``quantize``."""
        has = np.asarray(has_factors, dtype=bool)
        n, n_f = len(has), int(has.sum())
        if n_f == n:
            found = cls(factors, None, None, False, has)
        elif n_f < COMPACT_BELOW * n:
            rows = np.flatnonzero(has)
            item2pos = np.full(n, -1, dtype=np.int64)
            item2pos[rows] = np.arange(n_f)
            # the copy keeps the bundle's layout (the pass's speed), in one copy either way
            found = cls(_take_rows(factors, rows), rows, item2pos, False, has)
        else:
            found = cls(factors, None, None, True, has)
        return found.with_quantized() if quantize else found

    @functools.cached_property
    def without_factors(self) -> np.ndarray:
        """Positions that hold a zero row for an item without factors (none unless
        ``require_factors``), computed once."""
        if not self.require_factors:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(~self.has_factors)

    def with_quantized(self) -> "Scan":
        """This scan with its int8 copy (:mod:`engine.serving.quantized`)."""
        return dataclasses.replace(self, quantized=QuantizedScan.of(self.matrix))

    def positions(self, items: np.ndarray) -> np.ndarray:
        """Positions of ``items`` whose scores mean something (-1 for items without factors)."""
        items = np.asarray(items, dtype=np.int64)
        if self.item2pos is not None:
            return self.item2pos[items]
        if not self.require_factors:  # every item has factors: positions are the items
            return items
        return np.where(self.has_factors[items], items, -1)

    def scores(self, x: np.ndarray, *, start: np.ndarray | None = None) -> np.ndarray:
        """float32 ``Y @ x`` at every position (a full pass over the float32 matrix).

        With ``start`` (float32, one value per position) the pass returns ``start + Y @ x``,
        written into ``start``, without touching the scores again: the blend puts its
        neighbour bonuses there (:meth:`engine.serving.blend.Blend.start`). Added after the
        pass, their ~20k scattered writes met caches the pass had just flushed (233 of the
        blend step's 262 µs at 600k items).

        A row-major matrix gives the float32 sum of ``start`` and the pass, bit for bit with
        OpenBLAS (the tests check it). A column-major one (the bundle's layout up to rank 64,
        :func:`engine.bundle.publish.factor_order`) adds the columns into ``start`` a block at
        a time: a float32 sum of the same terms in another order, within float32's rounding of
        the exact sum (the tests bound it).
        """
        x32 = np.asarray(x, dtype=np.float32)
        if start is None:
            return self.matrix @ x32
        matrix = self.matrix
        if (len(matrix) and matrix.dtype == np.float32
                and start.dtype == np.float32 and start.flags.c_contiguous and start.shape == (len(matrix),)):
            # BLAS sgemv's beta = 1 adds into y, which numpy's matmul cannot ask for.
            if matrix.flags.c_contiguous:
                # The transpose of a C-ordered matrix is Fortran-ordered: no copy. OpenBLAS adds
                # each row's whole dot product to y_i once (alpha = 1): y_i = fl(start_i + fl(y_iᵀx)).
                return blas.sgemv(1.0, matrix.T, x32, beta=1.0, y=start, trans=1, overwrite_y=1)
            if column_major(matrix):
                return blas.sgemv(1.0, matrix, x32, beta=1.0, y=start, overwrite_y=1)
        start += matrix @ x32
        return start


class Rescorer:
    """The exact (float64) served score at scan positions, from the float32 rows: ``y_pᵀx``,
    turned into the served score by ``served(als, positions)`` when given (the blend).

    It keeps the rows of its last call: a re-ranking re-scores its candidates, and the
    explanations of the picks among them then need no row read again (:meth:`rows_at`; 50
    rows of a column-major 600k matrix cost ~150 µs after a pass, each row a value from every
    column's stretch of memory)."""

    def __init__(self, scan: Scan, x: np.ndarray,
                 served: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> None:
        self._scan, self._x, self._served = scan, np.asarray(x, dtype=np.float64), served
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def __call__(self, pos: np.ndarray) -> np.ndarray:
        pos = np.asarray(pos, dtype=np.int64)
        rows = factor_rows(self._scan.matrix, pos)
        self._last = (pos, rows)
        exact = rows @ self._x
        return exact if self._served is None else self._served(exact, pos)

    def rows_at(self, pos: np.ndarray) -> np.ndarray | None:
        """float64 rows at positions ``pos`` (what :func:`factor_rows` gives) when the last call
        re-scored all of them, else None."""
        if self._last is None:
            return None
        pos = np.asarray(pos, dtype=np.int64)
        last, rows = self._last
        order = np.argsort(last, kind="stable")
        at = np.minimum(np.searchsorted(last[order], pos), len(last) - 1) if len(last) else np.zeros(len(pos), dtype=np.int64)
        if not len(last) or not np.array_equal(last[order[at]], pos):
            return None
        return rows[order[at]]


@dataclass(frozen=True)
class ModelScores:
    """One listener's served score at every position of a :class:`Scan`, and its moments.

    ``mean`` / ``std`` run over the items with factors (the others have no model score:
    NaN in :meth:`at`, 0 in :meth:`z_at`). A request's come from the bundle's sums
    (:mod:`engine.serving.moments`): those of the exact float64 scores, within ~1e-9.

    From a quantized scan, ``scores`` are the int8 pass's estimates (the served std reads them
    at the items with a neighbour bonus: ~1e-5 from the exact one on the demo bundle, where
    two float32 passes over the estimates erred by ~1e-4), ``upper`` its upper bounds, and
    ``exact`` gives the exact served score at positions: :meth:`at` and :meth:`z_at` are
    exact, :meth:`z_bound_at` and :meth:`plus_z32_bound` bound them from above for candidate
    checks.
    """

    scores: np.ndarray
    scan: Scan
    mean: float
    std: float
    upper: np.ndarray | None = None
    exact: Callable[[np.ndarray], np.ndarray] | None = None
    #: an upper bound of ``max |scores|`` when the caller knows one (:meth:`plus_z32` then
    #: makes no pass to find the largest); None: found from the scores when asked
    magnitude: float | None = None

    @classmethod
    def of(cls, scores: np.ndarray, scan: Scan, *, upper: np.ndarray | None = None,
           exact: Callable[[np.ndarray], np.ndarray] | None = None,
           moments: tuple[float, float] | None = None, magnitude: float | None = None) -> "ModelScores":
        """``scores`` with their moments over the positions with factors: ``moments`` when the
        caller has them (:mod:`engine.serving.moments`: no pass), else from two passes over
        ``scores`` (float64 accumulation). ``magnitude``: see the attribute."""
        if moments is not None:
            return cls(scores, scan, float(moments[0]), float(moments[1]), upper, exact, magnitude)
        values = scores[scan.has_factors] if scan.require_factors else scores
        n = len(values)
        if n == 0:
            return cls(scores, scan, 0.0, 0.0, upper, exact, magnitude)
        mean = float(values.sum(dtype=np.float64)) / n
        centred = values - np.float32(mean)
        std = float(np.sqrt(float(centred @ centred) / n)) if n > 1 else 0.0
        return cls(scores, scan, mean, std, upper, exact, magnitude)

    def _values(self, pos: np.ndarray) -> np.ndarray:
        """float64 served score at valid positions: exact when quantized, else the pass's."""
        if self.exact is not None:
            return self.exact(pos)
        return self.scores[pos].astype(np.float64)

    def at(self, items: np.ndarray) -> np.ndarray:
        """float64 served model score of ``items`` (NaN for items without factors)."""
        pos = self.scan.positions(items)
        out = np.full(len(pos), np.nan)
        ok = pos >= 0
        out[ok] = self._values(pos[ok])
        return out

    def z_at(self, items: np.ndarray) -> np.ndarray:
        """float64 standardized score of ``items`` (0 for items without factors, and everywhere
        when the scores do not vary)."""
        every = self.scan.item2pos is None and not self.scan.require_factors
        return self.z_of_positions(self.scan.positions(items), all_valid=every)

    def z_of_positions(self, pos: np.ndarray, *, all_valid: bool = False) -> np.ndarray:
        """float64 standardized score at scan positions ``pos`` (-1: 0).

        ``all_valid`` promises no -1 in ``pos`` (one gather instead of a masked one)."""
        if not self.std > 0:
            return np.zeros(len(pos))
        inv = 1.0 / self.std
        if all_valid:
            out = self._values(pos)
            out -= self.mean
            out *= inv
            return out
        out = np.zeros(len(pos))
        ok = pos >= 0
        out[ok] = (self._values(pos[ok]) - self.mean) * inv
        return out

    def _bounds(self) -> "ModelScores":
        """These scores with the pass's upper bounds in place of the estimates (same moments)."""
        assert self.upper is not None, "bounds come from a quantized scan"
        return dataclasses.replace(self, scores=self.upper, upper=None, exact=None, magnitude=None)

    def z_bound_at(self, items: np.ndarray) -> np.ndarray:
        """An upper bound of :meth:`z_at` (equal to it without a quantized scan), read from
        the pass's bounds: no exact re-scoring."""
        return self.z_at(items) if self.upper is None else self._bounds().z_at(items)

    def z_range(self) -> tuple[float, float]:
        """The smallest and largest standardized score over the items with factors ((0, 0)
        when the scores do not vary)."""
        if not self.std > 0:
            return 0.0, 0.0
        values = self.scores[self.scan.has_factors] if self.scan.require_factors else self.scores
        lo, hi = float(values.min()), float(values.max())
        return (lo - self.mean) / self.std, (hi - self.mean) / self.std

    def plus_z32_bound(self, base: np.ndarray, weight: float) -> tuple[np.ndarray, float]:
        """:meth:`plus_z32` over the pass's upper bounds (itself without a quantized scan), for
        ``weight >= 0``: the float32 sum bounds ``base + weight · z`` from above up to its
        rounding."""
        if self.upper is None:
            return self.plus_z32(base, weight)
        if weight < 0:
            raise ValueError(f"a bound of base + weight·z needs weight >= 0, got {weight}")
        return self._bounds().plus_z32(base, weight)

    def plus_z32(self, base: np.ndarray, weight: float) -> tuple[np.ndarray, float]:
        """A new float32 array ``base + weight · z`` over the items (item order), for choosing
        candidates, and the largest magnitude its z part takes on the way (``|weight·s/std|``
        plus ``|weight·mean/std|``, 0 without one; from :attr:`magnitude` when set, an upper
        bound of it). Each entry is within ``~8 ε`` times that
        plus ``max |base|`` of the float64 ``base + weight · z_at(item)`` (ε float32's epsilon:
        a few float32 roundings, each relative to a value no larger), and ``base`` itself for
        items without factors. Half the bytes of the float64 sum this replaced: over 600k items
        after a request's pass that took 1.07 ms (one-off script)."""
        out_base = np.asarray(base, dtype=np.float32)
        if not self.std > 0 or not weight:
            return np.array(out_base), 0.0
        scale = weight / self.std
        part = np.multiply(self.scores, np.float32(scale))
        # an upper bound serves as well as the largest itself: it only sizes the caller's slack
        largest = largest_magnitude(part) if self.magnitude is None else abs(scale) * self.magnitude
        shift = self.mean * scale
        part -= np.float32(shift)
        if self.scan.require_factors:
            part[self.scan.without_factors] = 0.0
        if self.scan.pos2item is not None:
            out = np.array(out_base)
            out[self.scan.pos2item] += part
        else:
            part += out_base
            out = part
        return out, largest + abs(shift)
