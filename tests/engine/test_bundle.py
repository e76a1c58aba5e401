import gc
from pathlib import Path

import numpy as np
import pytest

from engine.bundle import publish
from engine.bundle.layout import current_version, list_versions
from engine.bundle.load import FileSlices, load_bundle, load_current
from engine.bundle.publish import publish_bundle, write_bundle
from engine.core.errors import BundleError
from tests.factories import random_bundle_parts


def test_round_trip_memory_maps_and_derives_gram(tmp_path: Path) -> None:
    parts = random_bundle_parts(n_items=50, rank=4)
    version = publish_bundle(tmp_path, **parts)
    assert current_version(tmp_path) == version
    b = load_current(tmp_path)
    assert b.version == version and b.n_items == 50 and b.rank == 4
    assert isinstance(b.item_factors, np.memmap)
    y = parts["item_factors"].astype(np.float64)
    np.testing.assert_allclose(b.gram, y.T @ y, rtol=1e-5)
    np.testing.assert_allclose(b.item_norms, np.linalg.norm(y, axis=1), rtol=1e-5)
    assert list(b.items["track_id"]) == list(parts["items"]["track_id"])
    assert b.params["weight_transform"] == "log1p"
    assert set(b.manifest["files"]) >= {"items.parquet", "gram.npy", "kmeans.json"}


@pytest.mark.parametrize("rank, order", [(4, None), (64, None), (65, None), (4, "C"), (128, "F")])
def test_item_factors_are_stored_in_the_order_the_pass_reads_fastest(tmp_path: Path, rank: int, order: str | None) -> None:
    """Column-major up to rank 64 unless asked otherwise; either way the same array loads,
    with gram and norms bit for bit those of the row-major write."""
    parts = random_bundle_parts(n_items=40, rank=rank)
    manifest = write_bundle(tmp_path / "b", **parts, order=order)
    write_bundle(tmp_path / "c", **parts, order="C")
    b, c = load_bundle(tmp_path / "b"), load_bundle(tmp_path / "c")
    want = order or publish.factor_order(rank)
    assert want == order or want == ("F" if rank <= publish.COLUMN_MAJOR_MAX_RANK else "C")
    assert b.item_factors.flags.f_contiguous == (want == "F") and b.item_factors.flags.c_contiguous == (want == "C")
    assert np.array_equal(b.item_factors, parts["item_factors"]) and manifest["rank"] == rank
    assert b.gram.tobytes() == c.gram.tobytes() and b.item_norms.tobytes() == c.item_norms.tobytes()


def test_an_unknown_factor_order_is_named(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="order must be 'C' .* got 'K'"):
        write_bundle(tmp_path / "b", **random_bundle_parts(n_items=10, rank=4), order="K")
    assert not (tmp_path / "b").exists()


def test_extra_arrays_and_tables_round_trip(tmp_path: Path) -> None:
    import pandas as pd

    parts = random_bundle_parts(n_items=20)
    listeners = pd.DataFrame({"user_id": ["demo:001"], "name": ["Soul & jazz"]})
    write_bundle(tmp_path / "b", extra={"neighbours": np.arange(6).reshape(3, 2)}, tables={"demo_listeners": listeners}, **parts)
    b = load_bundle(tmp_path / "b")
    assert b.extra["neighbours"].tolist() == [[0, 1], [2, 3], [4, 5]]
    pd.testing.assert_frame_equal(b.tables["demo_listeners"], listeners)


def test_corrupted_npy_is_refused_and_previous_version_serves(tmp_path: Path) -> None:
    v1 = publish_bundle(tmp_path, **random_bundle_parts(seed=1))
    v2 = publish_bundle(tmp_path, **random_bundle_parts(seed=2))
    assert v1 != v2 and current_version(tmp_path) == v2
    path = tmp_path / v2 / "item_factors.npy"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="item_factors.npy: contents do not match"):
        load_bundle(tmp_path / v2)
    served = load_current(tmp_path)
    assert served.version == v1
    assert any(v2 in note for note in served.notes)


@pytest.mark.parametrize("step", ["written", "verified", "renamed", "current"])
def test_publish_interrupted_at_each_step_leaves_a_complete_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    v1 = publish_bundle(tmp_path, **random_bundle_parts(seed=1))

    def crash(at: str) -> None:
        if at == step:
            raise RuntimeError(f"simulated crash after {at}")

    monkeypatch.setattr(publish, "_checkpoint", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        publish_bundle(tmp_path, **random_bundle_parts(seed=2))
    current = current_version(tmp_path)
    assert current in (v1, *list_versions(tmp_path))
    b = load_bundle(tmp_path / current)  # complete and verified
    assert b.n_items == 300
    # only "current" crashes after CURRENT was swapped; before that v1 must still serve
    if step != "current":
        assert current == v1
    assert not list(tmp_path.glob(".tmp-*/manifest.json"))


def test_prune_keeps_newest_and_current(tmp_path: Path) -> None:
    versions = []
    for seed in range(4):
        versions.append(publish_bundle(tmp_path, keep=2, **random_bundle_parts(n_items=20, seed=seed)))
    assert list_versions(tmp_path) == versions[-2:]
    assert current_version(tmp_path) == versions[-1]


def test_wrong_schema_version_is_refused(tmp_path: Path) -> None:
    import json

    v = publish_bundle(tmp_path, **random_bundle_parts(n_items=20))
    mpath = tmp_path / v / "manifest.json"
    m = json.loads(mpath.read_text())
    m["schema_version"] = 999
    mpath.write_text(json.dumps(m))
    with pytest.raises(BundleError, match="schema_version 999"):
        load_bundle(tmp_path / v)


def test_missing_items_column_is_named(tmp_path: Path) -> None:
    parts = random_bundle_parts(n_items=20)
    parts["items"] = parts["items"].drop(columns=["cluster"])
    with pytest.raises(BundleError, match="cluster"):
        write_bundle(tmp_path / "b", **parts)


def test_items_load_as_arrow_and_pandas_frames_are_made_on_first_use(tmp_path: Path) -> None:
    """items.parquet is read once as Arrow; ``items`` (numpy/object) and ``item_columns``
    (Arrow-backed) are made on first use, with the same rows; a table written from Arrow-backed
    columns (whose pandas metadata names ``[pyarrow]`` dtypes) loads like any other."""
    import pandas as pd

    parts = random_bundle_parts(n_items=30, rank=4)
    arrow_items = pd.DataFrame({c: pd.Series(parts["items"][c]).convert_dtypes(dtype_backend="pyarrow")
                                for c in parts["items"].columns})
    for name, items in (("plain", parts["items"]), ("arrow", arrow_items)):
        write_bundle(tmp_path / name, **{**parts, "items": items})
        bundle = load_bundle(tmp_path / name)
        assert "items" not in bundle.__dict__ and "item_columns" not in bundle.__dict__
        assert bundle.item_table.num_rows == 30
        frame, columns = bundle.items, bundle.item_columns
        assert isinstance(columns["artist_ids"].dtype, pd.ArrowDtype)
        assert frame["artist_ids"].map(list).tolist() == columns["artist_ids"].tolist() == parts["items"]["artist_ids"].tolist()
        assert frame["track_id"].tolist() == parts["items"]["track_id"].tolist()
        assert frame["year"].dtype.kind == "i" and frame["has_factors"].dtype == bool


def test_file_slices_read_whole_mapped_arrays_only(tmp_path) -> None:
    """``FileSlices`` reads slices of a whole memory-mapped ``.npy`` exactly; it refuses an
    in-memory array and a view of part of a map (whose file offset is not its own), and says
    which file ended early when it shrank after loading."""
    values = np.arange(1000, dtype=np.float32) * 0.5
    file = tmp_path / "values.npy"
    np.save(file, values)
    mapped = np.load(file, mmap_mode="r")
    reader = FileSlices.of(mapped)
    assert reader is not None
    starts, lengths = np.array([990, 0, 7, 500]), np.array([10, 3, 0, 1])
    want = np.concatenate([values[s : s + n] for s, n in zip(starts, lengths)])
    assert np.array_equal(reader.read(starts, lengths), want)
    assert reader.read(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)).size == 0
    assert FileSlices.of(values) is None
    assert FileSlices.of(mapped[10:]) is None and FileSlices.of(mapped[:-10]) is None
    with pytest.raises(BundleError, match="outside"):
        reader.read(np.array([995]), np.array([10]))
    with open(file, "r+b") as f:
        f.truncate(file.stat().st_size - 400)
    with pytest.raises(BundleError, match=r"values\.npy: ended early"):
        reader.read(np.array([900]), np.array([100]))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc/self/fd (Linux)")
def test_file_slices_close_their_descriptor_with_the_reader(tmp_path) -> None:
    """Reloading a bundle many times (the app after each refresh) leaks no file descriptor."""
    file = tmp_path / "values.npy"
    np.save(file, np.arange(100, dtype=np.int32))
    mapped = np.load(file, mmap_mode="r")
    gc.collect()
    before = len(list(Path("/proc/self/fd").iterdir()))
    readers = [FileSlices.of(mapped) for _ in range(50)]
    assert len(list(Path("/proc/self/fd").iterdir())) >= before + 50
    del readers
    gc.collect()
    assert len(list(Path("/proc/self/fd").iterdir())) <= before
