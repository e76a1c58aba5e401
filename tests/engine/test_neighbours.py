"""Item neighbours on Spark (engine.serving.neighbours) against exact cosine in numpy; CSR helpers."""

from __future__ import annotations

import numpy as np
import pytest

from engine.bundle.load import FileSlices, load_bundle
from engine.bundle.publish import publish_bundle
from engine.core.errors import BundleError
from engine.serving.neighbours import ENTRY_DTYPE, ItemNeighbours, NeighbourParams
from engine.training.neighbours import item_neighbours
from tests.factories import random_bundle_parts


def planted_interactions(n_users: int = 60, n_items: int = 40, seed: int = 3) -> list[tuple[int, int, float]]:
    """Two taste groups plus noise; duplicates and a zero weight to exercise the input rules."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        group = u % 2
        pool = np.arange(group, n_items, 2)
        for i in rng.choice(pool, size=rng.integers(3, 10), replace=False):
            rows.append((u, int(i), float(rng.integers(1, 30))))
        rows.append((u, int(rng.integers(0, n_items)), 1.0))  # cross-group noise (may duplicate)
    rows.append((0, 1, 0.0))  # not a play
    return rows


def exact_top_n(rows: list[tuple[int, int, float]], n_items: int, top_n: int) -> list[list[tuple[int, float]]]:
    """Brute-force cosine on the binary matrix, each item's top-N (ties: lower index first)."""
    n_users = max(r[0] for r in rows) + 1
    X = np.zeros((n_users, n_items))
    for u, i, w in rows:
        if w > 0:
            X[u, i] = 1.0
    co = X.T @ X
    n = X.sum(axis=0)
    out = []
    for i in range(n_items):
        cand = [(j, co[i, j] / (np.sqrt(n[i]) * np.sqrt(n[j]))) for j in range(n_items) if j != i and co[i, j] > 0]
        cand.sort(key=lambda t: (-t[1], t[0]))
        out.append(cand[:top_n])
    return out


@pytest.fixture(scope="module")
def planted(spark):
    rows = planted_interactions()
    return rows, spark.createDataFrame(rows, "user_idx int, item_idx int, weight double")


def test_spark_neighbours_equal_exact_cosine(planted) -> None:
    rows, df = planted
    nb = item_neighbours(df, 42, params=NeighbourParams(top_n=5, max_user_items=0))  # 2 extra never-played rows
    expected = exact_top_n(rows, 42, 5)
    for i in range(42):
        idx, sims = nb.row(i)
        assert idx.tolist() == [j for j, _ in expected[i]], f"item {i}"
        np.testing.assert_allclose(sims, [s for _, s in expected[i]], rtol=1e-6)
    assert nb.row(41)[0].size == 0 and nb.listeners[41] == 0
    assert nb.listeners[:40].sum() == len({(u, i) for u, i, w in rows if w > 0})
    assert nb.indptr.dtype == np.int64 and nb.indices.dtype == np.int32 and nb.scores.dtype == np.float32


def test_per_listener_cap_keeps_their_heaviest_items(planted, spark) -> None:
    rows, _ = planted
    heavy = [(999, i, float(100 - i)) for i in range(30)]  # one listener of 30 items
    df = spark.createDataFrame(rows + heavy, "user_idx int, item_idx int, weight double")
    nb = item_neighbours(df, 40, params=NeighbourParams(top_n=5, max_user_items=10))
    kept = [r for r in rows if r[0] != 999] + [(999, i, float(100 - i)) for i in range(10)]  # weights 100..91
    expected = exact_top_n(kept, 40, 5)
    for i in range(40):
        assert nb.row(i)[0].tolist() == [j for j, _ in expected[i]]


def test_truncate_remap_and_extra_round_trip() -> None:
    nb = ItemNeighbours(
        indptr=np.array([0, 3, 3, 5]), indices=np.array([1, 2, 0, 0, 1], dtype=np.int32),
        scores=np.array([0.9, 0.5, 0.1, 0.8, 0.7], dtype=np.float32), listeners=np.array([3, 0, 2], dtype=np.float32),
    )
    short = nb.truncate(1)
    assert short.indptr.tolist() == [0, 1, 1, 2] and short.indices.tolist() == [1, 0]
    moved = nb.remap(np.array([4, 0, 2]), 5)  # item 0 -> row 4, 1 -> 0, 2 -> 2
    assert moved.row(4)[0].tolist() == [0, 2, 4] and moved.row(4)[1].tolist() == pytest.approx([0.9, 0.5, 0.1])
    assert moved.row(2)[0].tolist() == [4, 0] and moved.row(0)[0].size == 0 and moved.row(1)[0].size == 0
    assert moved.listeners.tolist() == [0, 0, 2, 0, 3]
    back = ItemNeighbours.from_extra(moved.to_extra(), 5)
    assert back is not None and np.array_equal(back.indices, moved.indices) and np.array_equal(back.indptr, moved.indptr)
    assert ItemNeighbours.from_extra({}, 5) is None
    with pytest.raises(ValueError, match="neighbours_indptr"):
        ItemNeighbours.from_extra(moved.to_extra(), 6)
    with pytest.raises(ValueError, match="top_n"):
        NeighbourParams(top_n=0)


def random_lists(n_items: int = 40, seed: int = 0) -> ItemNeighbours:
    """Rows of 0-6 neighbours each (best first), some empty."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 7, n_items)
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    indices = np.concatenate([rng.choice(n_items, k, replace=False) for k in lengths]).astype(np.int32)
    scores = np.concatenate([np.sort(rng.random(k))[::-1] for k in lengths]).astype(np.float32)
    return ItemNeighbours(indptr, indices, scores, rng.integers(0, 9, n_items).astype(np.float32))


def test_bundles_store_entries_side_by_side_and_older_split_arrays_still_load(tmp_path) -> None:
    """New bundles keep each neighbour's index and score together (one read per history row);
    a bundle with the two older arrays loads the same lists. Both are read from their files."""
    n = 40
    nb = random_lists(n)
    extra = nb.to_extra()
    assert set(extra) == {"neighbours_indptr", "neighbours_entries", "item_listeners"}
    assert extra["neighbours_entries"].dtype == ENTRY_DTYPE
    older = {"neighbours_indptr": nb.indptr, "neighbours_indices": nb.indices, "neighbours_scores": nb.scores,
             "item_listeners": nb.listeners}
    items = np.random.default_rng(1).integers(0, n, 60)
    for kind, arrays in (("entries", extra), ("split", older)):
        parts = random_bundle_parts(n_items=n, rank=4, seed=1)
        parts["extra"] = arrays
        bundle = load_bundle(tmp_path / kind / publish_bundle(tmp_path / kind, **parts))
        got = ItemNeighbours.from_extra(bundle.extra, n)
        assert got is not None
        for field in ("indptr", "indices", "scores", "listeners"):
            assert np.array_equal(getattr(got, field), getattr(nb, field)), field
        assert isinstance(got.files, FileSlices) if kind == "entries" else isinstance(got.files, tuple)
        for a, b in zip(got.gather(items), nb.gather(items)):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        assert got.gather(items)[1].size > 0


def test_entries_of_another_type_or_missing_arrays_name_the_file() -> None:
    nb = random_lists(10)
    extra = nb.to_extra()
    wide = np.zeros(len(nb.indices), dtype=[("index", "<i8"), ("score", "<f4")])
    with pytest.raises(ValueError, match=r"extra/neighbours_entries\.npy holds .*index.*<i8"):
        ItemNeighbours.from_extra({**extra, "neighbours_entries": wide}, 10)
    with pytest.raises(ValueError, match="comes without neighbours_entries"):
        ItemNeighbours.from_extra({k: v for k, v in extra.items() if k != "neighbours_entries"}, 10)
    with pytest.raises(ValueError, match=r"extra/neighbours_entries\.npy names items outside 0\.\.4"):
        ItemNeighbours.from_extra({**extra, "neighbours_indptr": nb.indptr[:6], "item_listeners": nb.listeners[:5],
                                   "neighbours_entries": extra["neighbours_entries"][: nb.indptr[5]]}, 5)


def test_a_bundle_array_of_records_must_hold_plain_numbers(tmp_path) -> None:
    parts = random_bundle_parts(n_items=12, rank=4, seed=2)
    parts["extra"] = {"labels": np.zeros(3, dtype=[("score", "<f4"), ("name", "<U3")])}
    with pytest.raises(BundleError, match=r"extra/labels\.npy: holds .* expected an array of numbers or text"):
        load_bundle(tmp_path / publish_bundle(tmp_path, **parts))


@pytest.mark.parametrize(
    "params",
    [
        NeighbourParams(top_n=6, shrink=4.0),  # item-kNN with shrinkage
        NeighbourParams(top_n=6, user_exponent=0.7, source_exponent=0.7, target_exponent=0.3),  # RP3beta
        NeighbourParams(top_n=6, max_user_items=5, min_common=2, user_exponent=1.0, source_exponent=1.0, target_exponent=0.0),
        NeighbourParams(top_n=5, kind="ease", ease_lambda=20.0, ease_items=30),
    ],
    ids=["knn-shrink", "rp3beta", "rp3-capped-min2", "ease"],
)
def test_spark_components_equal_the_numpy_lists(spark, planted, params: NeighbourParams) -> None:
    """What train ships (Spark, or EASE on the driver) is what the evaluation's numpy search scores."""
    import scipy.sparse as sp

    from engine.training.cooccurrence import cooccurrence_neighbours
    from engine.training.ease import ease_neighbours
    from engine.training.neighbours import component_neighbours

    rows, df = planted
    n_users = max(r[0] for r in rows) + 1
    X = sp.csr_matrix(([w for *_, w in rows], ([u for u, *_ in rows], [i for _, i, _ in rows])), shape=(n_users, 42))
    if params.kind == "ease":
        X.sum_duplicates()
        want = ease_neighbours(X > 0, lam=params.ease_lambda, max_items=params.ease_items, top_n=params.top_n)
    else:
        want = cooccurrence_neighbours(X, params)
    got = component_neighbours(df, 42, params=params)
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5)
    # the same targets, allowing ties (equal scores) to be listed in either order
    for i in range(42):
        (gi, gs), (wi, ws) = got.row(i), want.row(i)
        assert sorted(zip(np.round(gs, 5), gi)) == sorted(zip(np.round(ws, 5), wi)), f"item {i}"
    assert got.indices.max() < 42 and len(got.indices) > 0


def test_sql_conf_sets_options_for_the_block_and_puts_them_back(spark) -> None:
    from engine.spark.session import sql_conf

    key, unset = "spark.sql.adaptive.enabled", "spark.sql.test.neverSetBefore"
    before = spark.conf.get(key)
    with sql_conf(spark, {key: "false", unset: "7"}):
        assert spark.conf.get(key) == "false" and spark.conf.get(unset) == "7"
    assert spark.conf.get(key) == before and spark.conf.get(unset, None) is None
    with pytest.raises(RuntimeError), sql_conf(spark, {key: "false"}):
        raise RuntimeError("a failing query")
    assert spark.conf.get(key) == before  # restored on the way out of a failure too
