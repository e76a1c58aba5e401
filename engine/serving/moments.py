"""The mean and spread of a listener's served scores, from per-bundle sums: no pass over them.

The lists standardize the served score (:class:`~engine.serving.scan.ModelScores`) over the
``n`` items with factors. That score is ``s_i = w·y_iᵀx + c·p_i + b_i``: ``w`` the blend's ALS
weight, ``p`` the popularity prior with its coefficient ``c`` (``engine.serving.blend``), ``b``
the neighbour bonuses, non-zero on a few thousand items. Without the bonuses its sums are
products of the fold-in ``x`` with per-bundle sums:

    Σ (w·y_iᵀx + c·p_i)  = w·(Σ y_i)ᵀx + c·Σ p_i
    Σ (w·y_iᵀx + c·p_i)² = w²·xᵀ(YᵀY)x + 2wc·(Σ p_i y_i)ᵀx + c²·Σ p_i²

and each bonus ``b_j`` adds ``b_j`` to the first sum and ``b_j·(2 s_j − b_j)`` to the second,
with ``s_j`` read from the pass. The two moments cost ``O(rank² + bonuses)`` instead of two
passes over 600k float32 scores (595 µs a request after the pass, in the bench's stage timer),
and they are those of the exact scores, where the passes summed the float32 (or, from an int8
scan, estimated) ones. This is the same identity ``blend.als_std`` uses for the ALS part alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: A spread below this share of the scores' root mean square counts as none: float32 scores
#: resolve about 6e-8 of their size, so the z-scores of a smaller spread would be rounding noise.
NO_SPREAD = 1e-6
#: Rows per block of the load-time sums (a float64 block of 64k rows at rank 64 is 32 MiB).
_BLOCK_ROWS = 65_536


@dataclass(frozen=True)
class ScoreMoments:
    """Per-bundle sums over the items with factors, and the moments of a served score from them.

    Attributes
    ----------
    n : int
        Items with factors.
    gram : numpy.ndarray
        float64 ``YᵀY`` ``[rank, rank]`` (the bundle's; rows without factors are zero).
    factor_sum : numpy.ndarray
        float64 ``Σ y_i``.
    prior_sum, prior_squares : float
        ``Σ p_i`` and ``Σ p_i²`` over the items with factors (0 without a prior).
    prior_factors : numpy.ndarray or None
        float64 ``Σ p_i y_i`` (None without a prior).
    """

    n: int
    gram: np.ndarray
    factor_sum: np.ndarray
    prior_sum: float = 0.0
    prior_squares: float = 0.0
    prior_factors: np.ndarray | None = None

    @classmethod
    def of_bundle(cls, factors: np.ndarray, gram: np.ndarray, scored: np.ndarray, *,
                  factor_sum: np.ndarray | None = None, prior: np.ndarray | None = None) -> "ScoreMoments":
        """The sums of a bundle's ``factors`` (zero rows where ``scored`` is false, as bundles
        hold them): one blocked float64 pass when ``factor_sum`` is not given (the blend has it)
        or a ``prior`` (per item) is served, none otherwise."""
        scored = np.asarray(scored, dtype=bool)
        rank = factors.shape[1]
        sums = np.zeros(rank) if factor_sum is None else None
        weighted = np.zeros(rank) if prior is not None else None
        p = None if prior is None else np.where(scored, np.asarray(prior, dtype=np.float64), 0.0)
        if sums is not None or weighted is not None:
            # contiguous row blocks (the zero rows add nothing): no gather, and a column-major
            # matrix's block is a strided view the cast copies once
            for lo in range(0, len(factors), _BLOCK_ROWS):
                block = np.asarray(factors[lo : lo + _BLOCK_ROWS], dtype=np.float64)
                if sums is not None:
                    sums += block.sum(axis=0)
                if weighted is not None:
                    weighted += p[lo : lo + _BLOCK_ROWS] @ block  # type: ignore[index]
        return cls(int(np.count_nonzero(scored)), np.asarray(gram, dtype=np.float64),
                   np.asarray(factor_sum if sums is None else sums, dtype=np.float64),
                   0.0 if p is None else float(p.sum()), 0.0 if p is None else float(p @ p), weighted)

    def of(self, x: np.ndarray, *, als_weight: float = 1.0, prior_coef: float = 0.0,
           bonuses: np.ndarray | None = None, served: np.ndarray | None = None) -> tuple[float, float]:
        """``(mean, std)`` over the items with factors of ``als_weight·Yx + prior_coef·p + b``.

        ``bonuses``: the non-zero ``b_j`` at items with factors (each item once), and
        ``served``: the served score ``s_j`` at those items, as the pass gave it. The std is 0
        when the spread is below :data:`NO_SPREAD` of the scores' size (and for one item)."""
        n = self.n
        if n == 0:
            return 0.0, 0.0
        x = np.asarray(x, dtype=np.float64)
        w, c = float(als_weight), float(prior_coef)
        # einsum's own loops, not BLAS, for these tiny products (see blend.sparse_std)
        total = w * float(np.einsum("i,i->", self.factor_sum, x))
        squares = w * w * float(np.einsum("i,ij,j->", x, self.gram, x))
        if c:
            if self.prior_factors is None:
                raise ValueError("a prior coefficient needs the prior's sums (ScoreMoments.of_bundle(prior=...))")
            total += c * self.prior_sum
            squares += 2.0 * w * c * float(np.einsum("i,i->", self.prior_factors, x)) + c * c * self.prior_squares
        if bonuses is not None and len(bonuses):
            b = np.asarray(bonuses, dtype=np.float64)
            s = np.asarray(served, dtype=np.float64)
            total += float(b.sum())
            squares += float((b * (2.0 * s - b)).sum())
        mean = total / n
        second = squares / n
        var = second - mean * mean
        if n < 2 or not var > NO_SPREAD * NO_SPREAD * second:
            return mean, 0.0
        return mean, math.sqrt(var)
