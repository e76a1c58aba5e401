"""The served scores and artist spread the lists read (engine.serving.scan, engine.serving.artists), in their
faster forms, equal the plain ones bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from engine.serving.artists import _rows_t_dot
from engine.serving.scan import ModelScores, Rescorer, Scan, factor_rows


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


@pytest.mark.parametrize("kind", ["all", "some", "few", "strided"])
def test_a_pass_from_start_scores_adds_them_in_place_bit_for_bit(kind: str) -> None:
    """``scores(x, start=s)`` on a row-major matrix is ``s + Y @ x`` as float32 adds them,
    written into ``s``: through BLAS's y = βy + Ax for a C-ordered matrix, through numpy for
    one that is neither C- nor Fortran-ordered."""
    rng = np.random.default_rng(8)
    scan = _scan("all" if kind == "strided" else kind, rng, n=5_000)
    if kind == "strided":
        wide = np.zeros((len(scan.matrix), 16), dtype=np.float32)
        wide[:, ::2] = scan.matrix
        scan = Scan.of(wide[:, ::2], scan.has_factors)
        assert not scan.matrix.flags.c_contiguous and not scan.matrix.flags.f_contiguous
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


@pytest.mark.parametrize("kind", ["all", "few"])
def test_a_column_major_pass_from_start_is_the_float32_sum_to_its_rounding(kind: str) -> None:
    """Fortran-ordered factors (the bundle's layout up to rank 64) keep their layout in a
    compact scan, and ``scores(x, start=s)`` adds the columns into ``s`` in place: within
    float32's rounding of the exact ``s + Y @ x`` on a matrix long enough for OpenBLAS to add
    it in several blocks, and not the row-major result everywhere (another order of sums)."""
    rng = np.random.default_rng(9)
    n, rank = 300_000, 64
    factors = np.asfortranarray(rng.normal(size=(n, rank)).astype(np.float32))
    has = np.ones(n, dtype=bool)
    if kind == "few":
        has[rng.random(n) < 0.7] = False
        factors[~has] = 0.0
    scan = Scan.of(factors, has)
    assert scan.matrix.flags.f_contiguous and not scan.matrix.flags.c_contiguous
    assert (scan.pos2item is not None) == (kind == "few")
    x = rng.normal(size=rank)
    start = np.zeros(len(scan.matrix), dtype=np.float32)
    start[rng.choice(len(start), len(start) // 10, replace=False)] = rng.normal(size=len(start) // 10)
    start[:3] = -np.inf
    m64 = scan.matrix.astype(np.float64)
    x64 = x.astype(np.float32).astype(np.float64)
    exact = start.astype(np.float64) + m64 @ x64
    magnitude = np.abs(start[3:]).astype(np.float64) + np.abs(m64[3:]) @ np.abs(x64)
    row_major = start + np.ascontiguousarray(scan.matrix) @ x.astype(np.float32)
    given = start
    got = scan.scores(x, start=start)
    assert got is given and got.dtype == np.float32 and np.isneginf(got[:3]).all()
    eps = float(np.finfo(np.float32).eps)
    err = np.abs(got[3:].astype(np.float64) - exact[3:])
    assert (err <= (rank + 2) * eps * magnitude).all()
    assert err.max() > 0  # float32 sums, not float64 ones
    assert not np.array_equal(got[3:], row_major[3:])


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


@pytest.mark.parametrize("layout", ["C", "F", "strided", "memmap F"])
def test_factor_rows_are_the_fancy_index_in_float64_row_major(layout: str, tmp_path) -> None:
    """``factor_rows`` gives ``matrix[rows]`` as float64, C-ordered, from any layout (repeated,
    unsorted and no rows included)."""
    rng = np.random.default_rng(10)
    base = rng.normal(size=(1_000, 12)).astype(np.float32)
    matrix = {"C": base, "F": np.asfortranarray(base), "strided": np.repeat(base, 2, axis=1)[:, ::2]}.get(layout)
    if layout == "memmap F":
        np.save(tmp_path / "f.npy", np.asfortranarray(base))
        matrix = np.load(tmp_path / "f.npy", mmap_mode="r")
        assert isinstance(matrix, np.memmap) and matrix.flags.f_contiguous
    for rows in (rng.integers(0, 1_000, 300), np.array([5, 5, 999, 0]), np.zeros(0, dtype=np.int64)):
        got = factor_rows(matrix, rows)
        assert got.dtype == np.float64 and got.flags.c_contiguous and got.shape == (len(rows), 12)
        assert got.tobytes() == np.asarray(base[rows], dtype=np.float64).tobytes()


@pytest.mark.parametrize("kind", ["all", "few"])
def test_the_rescorer_keeps_its_last_rows_for_the_picks(kind: str) -> None:
    """The exact scores are the float64 rows' products (the served function applied), and the
    rows of any positions of the last call come back as factor_rows gives them; others: None."""
    rng = np.random.default_rng(8)
    scan = _scan(kind, rng)
    x = rng.normal(size=8)
    rescore = Rescorer(scan, x, lambda als, pos: 2.0 * als + pos)
    n = scan.matrix.shape[0]
    assert rescore.rows_at(np.arange(3)) is None  # nothing re-scored yet
    pos = rng.choice(n, 40, replace=False)
    np.testing.assert_array_equal(rescore(pos), 2.0 * (factor_rows(scan.matrix, pos) @ x) + pos)
    picks = pos[[7, 3, 30, 0]]
    rows = rescore.rows_at(picks)
    assert rows is not None and np.array_equal(rows, factor_rows(scan.matrix, picks)) and rows.flags.c_contiguous
    outside = np.setdiff1d(np.arange(n), pos)[:1]
    assert rescore.rows_at(np.concatenate([picks, outside])) is None
    assert rescore(pos[:5]) is not None and rescore.rows_at(picks[:1]) is None  # the last call only
