"""The served scores and artist spread the lists read (engine.serving.scan, engine.serving.artists), in their
faster forms, equal the plain ones bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from engine.serving.artists import _rows_t_dot
from engine.serving.scan import ModelScores, Scan


def _scan(kind: str, rng: np.random.Generator, n: int = 500) -> Scan:
    factors = rng.normal(size=(n, 8)).astype(np.float32)
    has = np.ones(n, dtype=bool)
    if kind == "some":  # more than half with factors: the full matrix, zero rows not served
        has[rng.choice(n, n // 4, replace=False)] = False
    elif kind == "few":  # fewer than half: a compact copy of the rows with factors
        has[rng.choice(n, 3 * n // 4, replace=False)] = False
    factors[~has] = 0.0
    return Scan.of(factors, has)


@pytest.mark.parametrize("kind", ["all", "some", "few"])
def test_plus_z32_adds_the_z_of_each_item_and_nothing_without_factors(kind: str) -> None:
    """Every way of scanning adds ``weight · z_at(item)`` (to float32 rounding), 0 for items
    without factors, into a new array: the base is not modified."""
    rng = np.random.default_rng(4)
    scan = _scan(kind, rng)
    model = ModelScores.of(scan.scores(rng.normal(size=8)), scan)
    n = len(scan.has_factors)
    base = rng.random(n).astype(np.float32)
    kept = base.copy()
    out, _ = model.plus_z32(base, 0.7)
    assert out is not base and np.array_equal(base, kept)
    np.testing.assert_allclose(out, base + 0.7 * model.z_at(np.arange(n)), rtol=1e-6, atol=1e-6)
    assert np.array_equal(out[~scan.has_factors], base[~scan.has_factors])
    assert (out[scan.has_factors] != base[scan.has_factors]).mean() > 0.99


def test_plus_z32_of_scores_that_do_not_vary_is_the_base() -> None:
    scan = _scan("all", np.random.default_rng(0))
    model = ModelScores.of(np.ones(scan.matrix.shape[0], dtype=np.float32), scan)
    base = np.arange(scan.matrix.shape[0], dtype=np.float32)
    out, z_part = model.plus_z32(base, 2.0)
    assert np.array_equal(out, base) and z_part == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_t_dot_is_scipys_transposed_row_product_bit_for_bit(dtype: type) -> None:
    rng = np.random.default_rng(5)
    matrix = sp.random(300, 120, density=0.08, format="csr", random_state=6, dtype=dtype)
    matrix = (matrix @ sp.random(120, 120, density=0.05, format="csr", random_state=7, dtype=dtype)).tocsr()  # unsorted rows
    rows = np.sort(rng.choice(300, 40, replace=False))
    weights = rng.random(40)
    expected = matrix[rows].T @ weights
    got = _rows_t_dot(matrix, rows, weights)
    assert got.dtype == np.float64 and np.array_equal(got, expected)
    assert np.any(got != 0)
    empty = _rows_t_dot(matrix, rows[:0], weights[:0])
    assert empty.dtype == np.float64 and np.array_equal(empty, np.zeros(120))


@pytest.mark.parametrize("kind", ["all", "some", "few", "fortran"])
def test_a_pass_from_start_scores_adds_them_in_place_bit_for_bit(kind: str) -> None:
    """``scores(x, start=s)`` is ``s + Y @ x`` as float32 adds them, written into ``s``: through
    BLAS's y = βy + Ax for a C-ordered matrix, through numpy for any other."""
    rng = np.random.default_rng(8)
    scan = _scan("all" if kind == "fortran" else kind, rng, n=5_000)
    if kind == "fortran":
        scan = Scan.of(np.asfortranarray(scan.matrix), scan.has_factors)
        assert not scan.matrix.flags.c_contiguous
    x = rng.normal(size=8)
    start = np.zeros(len(scan.matrix), dtype=np.float32)
    start[rng.choice(len(start), len(start) // 10, replace=False)] = rng.normal(size=len(start) // 10)
    start[:3] = -np.inf  # a masked position stays masked
    expected = start + scan.scores(x)
    given = start
    got = scan.scores(x, start=start)
    assert got is given and got.dtype == np.float32
    assert np.array_equal(got, expected)
    assert (got[3:] != scan.scores(x)[3:]).any() and np.isneginf(got[:3]).all()


@pytest.mark.parametrize("kind", ["all", "some", "few"])
@pytest.mark.parametrize("weight", [0.8, 0.0, -2.5])
def test_the_float32_terms_stay_within_their_slack_of_the_float64_ones(kind: str, weight: float) -> None:
    """``plus_z32`` is the float64 ``base + weight · z`` in float32: every entry within 8ε of
    the magnitude it reports plus the base's (what the new list allows its floor check), and
    that slack is small next to the spread of the terms, so the check still rules out nearly
    everything."""
    rng = np.random.default_rng(9)
    scan = _scan(kind, rng, n=20_000)
    model = ModelScores.of(scan.scores(rng.normal(size=8) * 3.0) + np.float32(40.0), scan)  # a mean far from 0
    base = rng.random(len(scan.has_factors)) * 0.7
    got, z_part = model.plus_z32(base.astype(np.float32), weight)
    want = base + weight * model.z_at(np.arange(len(base)))  # float64, 0 z without factors
    slack = 8 * float(np.finfo(np.float32).eps) * (z_part + float(np.abs(base).max()))
    assert got.dtype == np.float32 and got.shape == want.shape
    assert float(np.abs(got.astype(np.float64) - want).max()) <= slack
    if weight:
        assert z_part > 40 * abs(weight) / model.std  # the mean's part is counted: it is most of it
        assert slack < 1e-3 * float(want.std())
    else:
        assert z_part == 0.0 and np.array_equal(got, base.astype(np.float32))
