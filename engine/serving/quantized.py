"""The int8 scan: ``Y @ x`` from int8 factors with a per-row scale, as bounds and estimates.

Each row ``y_i`` is stored as ``q_i = round(y_i / s_i)`` (int8) with ``s_i = max|y_i| / 127``
(float32), a quarter of the float32 matrix's bytes. The pass over it yields, per row,

- the **estimate** ``ã_i = s_i · q_iᵀx``, and
- an **upper bound** ``u_i = s_i · (q_iᵀx + c)`` of the exact ``a_i = y_iᵀx``, with
  ``c = (½ + d·2⁻¹⁴)·‖x‖₁``: every ``y_ij`` lies within ``s_i/2`` of ``s_i·q_ij`` (plus the
  float32 rounding of ``y/s``), so ``|a_i − ã_i| ≤ s_i·‖x‖₁/2``; the ``d·2⁻¹⁴`` term covers the
  float32 accumulation of a ``d``-term dot product with ``|q| ≤ 127`` and the final products.

Serving nominates candidates by the upper bound and re-scores them exactly in float32/float64
(:func:`engine.serving.rerank.rerank`'s ``rescore``): an item left out has an exact score at
most its bound, which is at most the last candidate's, so the chosen list is the exact one —
not a recall target but the same list, and no second float32 pass.

numpy has no int8 matrix–vector product on BLAS (its integer ``matmul`` is a scalar loop), and
casting blocks to float32 for ``sgemv`` costs more than the float32 pass it replaces (measured
in ``bench/serve.py``: 10.8 vs 6.2 ms on 600k × 64). The kernel is therefore a numba loop
(compiled once, cached beside this file, GIL-free). A pass of many rows is split into one slice
per core: the caller computes the first and the serving helper threads the others
(:mod:`engine.serving.workers`). Rows are independent, so the result is the same bit for bit.
The threads are ours rather than numba's ``prange``: numba's default threading layer is not
safe for concurrent callers, and Streamlit serves sessions in threads.

Split over two cores, the pass takes about half a float32 ``Y @ x`` at 600k × 64 and 128, and
the model ranking 1.2x / 1.0x one ``Y @ x`` (against 1.8x / 1.5x from the float32 pass), when
OpenBLAS's idle helper threads sleep rather than spin (engine.core.blas; the README has the
numbers). Off by default (``Recommender(quantize=True)`` turns it on): the process holds the
int8 copy, numba's compiler (~55–72 MiB) and, in time, every float32 page again (the re-scored
rows are spread over the whole file, and the kernel maps pages around each one read), so RSS
grows by ~150 MiB (bench/serve.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.serving import workers

#: Rows quantized per block at load (bounds the float32 temporaries).
_BLOCK = 65_536
#: Fewer rows than this per slice run in the caller alone (a thread hand-off costs ~50 µs).
MIN_SLICE = 32_768


def _split_pass(kernel: Callable[..., None], q: np.ndarray, scale: np.ndarray, x: np.ndarray, slack: float,
                *outs: np.ndarray) -> None:
    """``kernel(q, scale, x, slack, *outs)`` over slices of rows in parallel, the caller's and
    one per helper thread (see the module docstring); a kernel writes row ``i`` of every output
    from row ``i`` of ``q`` alone."""
    parts = min(workers.HELPERS + 1, len(q) // MIN_SLICE)
    if parts <= 1:
        kernel(q, scale, x, slack, *outs)
        return
    bounds = np.linspace(0, len(q), parts + 1).astype(int)
    slices = [slice(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]
    helpers = [workers.beside(kernel, q[s], scale[s], x, slack, *(o[s] for o in outs)) for s in slices[1:]]
    first = slices[0]
    kernel(q[first], scale[first], x, slack, *(o[first] for o in outs))
    for done in helpers:
        done.result()


@functools.cache
def _kernels() -> tuple[Callable[..., None], Callable[..., None]]:
    """The compiled ``(upper, estimate and upper)`` kernels; numba is imported here, on first
    use, so a process that serves the float32 pass never loads its compiler (~55 MiB RSS)."""
    import numba

    # cached beside this file; GIL-free; reassociation lets the dot product vectorize
    jit = numba.njit(cache=True, nogil=True, boundscheck=False, fastmath={"reassoc", "contract"})

    @jit
    def row_dot(q: np.ndarray, x: np.ndarray, i: int) -> np.float32:  # pragma: no cover - compiled
        acc = np.float32(0.0)
        for j in range(q.shape[1]):
            acc += np.float32(q[i, j]) * x[j]
        return acc

    @jit
    def upper_kernel(q: np.ndarray, scale: np.ndarray, x: np.ndarray, slack: float,
                     upper: np.ndarray) -> None:  # pragma: no cover - compiled
        c = np.float32(slack)
        for i in range(q.shape[0]):
            upper[i] = (row_dot(q, x, i) + c) * scale[i]

    @jit
    def scan_kernel(q: np.ndarray, scale: np.ndarray, x: np.ndarray, slack: float,
                    estimate: np.ndarray, upper: np.ndarray) -> None:  # pragma: no cover - compiled
        c = np.float32(slack)
        for i in range(q.shape[0]):
            acc = row_dot(q, x, i)
            estimate[i] = acc * scale[i]
            upper[i] = (acc + c) * scale[i]

    return upper_kernel, scan_kernel


@dataclass(frozen=True)
class QuantizedScan:
    """int8 rows and their float32 scales (see the module docstring).

    Attributes
    ----------
    q : numpy.ndarray
        int8 ``[positions, rank]``.
    scale : numpy.ndarray
        float32 ``[positions]``; 0 for a zero row (its bound and estimate are exactly 0).
    """

    q: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, matrix: np.ndarray) -> "QuantizedScan":
        """Quantize a float32 ``[positions, rank]`` matrix (a memory map is read in blocks)."""
        n, d = matrix.shape
        q = np.empty((n, d), dtype=np.int8)
        scale = np.empty(n, dtype=np.float32)
        for lo in range(0, n, _BLOCK):
            part = np.asarray(matrix[lo : lo + _BLOCK], dtype=np.float32)
            s = np.abs(part).max(axis=1) / np.float32(127.0) if d else np.zeros(len(part), dtype=np.float32)
            safe = np.where(s > 0, s, np.float32(1.0))
            q[lo : lo + len(part)] = np.rint(part / safe[:, None]).astype(np.int8)
            scale[lo : lo + len(part)] = s
        return cls(q, scale)

    @property
    def nbytes(self) -> int:
        """Bytes held (int8 rows plus scales)."""
        return int(self.q.nbytes + self.scale.nbytes)

    def slack(self, x: np.ndarray) -> float:
        """``c`` of the module docstring for the float32 vector ``x``."""
        d = self.q.shape[1]
        return float((0.5 + d * 2.0**-14) * np.abs(x, dtype=np.float64).sum())

    def _vector(self, x: np.ndarray) -> np.ndarray:
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        if x32.shape != (self.q.shape[1],):
            raise ValueError(f"x has shape {x32.shape}, the scan rank is {self.q.shape[1]}")
        return x32

    def upper(self, x: np.ndarray) -> np.ndarray:
        """An upper bound of ``Y @ x`` at every position (float32, a new array)."""
        x32 = self._vector(x)
        out = np.empty(len(self.q), dtype=np.float32)
        _split_pass(_kernels()[0], self.q, self.scale, x32, self.slack(x32), out)
        return out

    def scan(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(estimate, upper bound)`` of ``Y @ x`` at every position (float32, new arrays)."""
        x32 = self._vector(x)
        estimate = np.empty(len(self.q), dtype=np.float32)
        upper = np.empty(len(self.q), dtype=np.float32)
        _split_pass(_kernels()[1], self.q, self.scale, x32, self.slack(x32), estimate, upper)
        return estimate, upper
