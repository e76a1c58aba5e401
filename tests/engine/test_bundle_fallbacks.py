"""Bad bundles of every kind fall back to the previous good one (or the demo), with one line why.

Real bundles written by ``engine.bundle.publish``, then broken on disk the way a half-copied
folder, a hand-edited manifest or a hostile upload would break them.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.bundle.layout import CURRENT_FILE, list_versions
from engine.bundle.load import load_bundle, load_current
from engine.bundle.publish import publish_bundle, write_bundle
from engine.core.errors import BundleError
from tests.factories import random_bundle_parts, rehash


@pytest.fixture()
def two_versions(tmp_path: Path) -> tuple[Path, str, str]:
    """``models/`` with a good older v1 and a newer v2 that CURRENT names."""
    models = tmp_path / "models"
    v1 = publish_bundle(models, **random_bundle_parts(n_items=30, seed=1))
    v2 = publish_bundle(models, **random_bundle_parts(n_items=30, seed=2))
    return models, v1, v2


def _edit_manifest(folder: Path, change: Callable[[dict], object]) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(change(manifest)))


def _drop_bytes(m: dict) -> dict:
    del m["files"]["gram.npy"]["bytes"]
    return m


def _numeric_created_at(m: dict) -> dict:
    m["created_at"] = 1767225600
    return m


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda m: None, "holds null, not a JSON object"),
        (lambda m: [], "holds a list, not a JSON object"),
        (_drop_bytes, "files['gram.npy'].bytes is None, not a byte count"),
        (_numeric_created_at, "created_at 1767225600 is not an ISO 8601 timestamp"),
    ],
    ids=["null", "list", "no-bytes", "numeric-created_at"],
)
def test_a_broken_manifest_falls_back_to_the_previous_good_version(
    two_versions: tuple[Path, str, str], caplog: pytest.LogCaptureFixture, change: Callable, reason: str
) -> None:
    models, v1, v2 = two_versions
    _edit_manifest(models / v2, change)
    with caplog.at_level(logging.WARNING, logger="engine.bundle.load"):
        served = load_current(models)
    assert served.version == v1
    assert len(served.notes) == 1 and served.notes[0].startswith(f"refused {v2}: ") and reason in served.notes[0]
    assert [r.getMessage() for r in caplog.records] == [f"model bundle {v2} refused: {served.notes[0].split(': ', 1)[1]}"]
    assert "\n" not in served.notes[0]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("item_factors.npy", b"\x93NUMPY\x01\x00garbage that is no header", "item_factors.npy: not a readable .npy array"),
        ("gram.npy", b"", "gram.npy: not a readable .npy array"),
        ("popularity.npy", _npy_bytes(np.array(["a", "b"], dtype=object)), "popularity.npy: not a readable .npy array"),
        ("item_norms.npy", _npy_bytes(np.ones(7, dtype=np.float32)), "item_norms.npy: shape (7,), expected (30,)"),
        ("audio_features.npy", _npy_bytes(np.ones((30, 3), dtype=np.float32)), "expected (30, 11)"),
        ("gram.npy", _npy_bytes(np.float32(1.0)), "gram.npy: holds float32 of shape ()"),
        ("items.parquet", b"PAR1 not really parquet PAR1", "items.parquet: not a readable parquet table"),
        ("kmeans.json", b"[1, 2]", "kmeans.json: holds a list, not a JSON object"),
        ("kmeans.json", b"\xff\xfe not utf-8", "kmeans.json: not readable JSON"),
    ],
)
def test_a_hashed_but_malformed_file_falls_back(two_versions: tuple[Path, str, str], name: str, content: bytes,
                                                 reason: str) -> None:
    models, v1, v2 = two_versions
    (models / v2 / name).write_bytes(content)
    rehash(models / v2, name)  # the hash matches: only the reader can tell
    with pytest.raises(BundleError, match="^" + str(models / v2)):
        load_bundle(models / v2)
    served = load_current(models)
    assert served.version == v1 and reason in served.notes[0], served.notes


def test_with_no_good_version_the_demo_bundle_serves(two_versions: tuple[Path, str, str], tmp_path: Path) -> None:
    models, v1, v2 = two_versions
    demo = tmp_path / "demo"
    write_bundle(demo, **random_bundle_parts(n_items=12, seed=3))
    for version in (v1, v2):
        _edit_manifest(models / version, lambda m: None)
    served = load_current(models, fallback_dir=demo)
    assert served.path == demo and served.n_items == 12
    # v1's broken manifest keeps it off the version list; CURRENT (v2) is tried and named
    assert [n.split(":")[0] for n in served.notes] == [f"refused {v2}"]


def test_a_stray_manifest_is_never_listed_and_never_breaks_the_listing(two_versions: tuple[Path, str, str]) -> None:
    models, v1, v2 = two_versions
    for name, text in (("stray-null", "null"), ("stray-list", "[]"), ("stray-number", '{"created_at": 5}')):
        (models / name).mkdir()
        (models / name / "manifest.json").write_text(text)
    assert list_versions(models) == [v1, v2]
    assert load_current(models).version == v2


def test_manifest_paths_may_not_leave_the_bundle(two_versions: tuple[Path, str, str], tmp_path: Path) -> None:
    models, v1, v2 = two_versions
    secret = tmp_path / "secret.npy"
    secret.write_bytes(_npy_bytes(np.ones(3, dtype=np.float32)))
    for entry, reason in (("../../secret.npy", "is not a path inside the bundle"),
                          (str(secret), "is not a path inside the bundle"),
                          ("extra/../../../secret.npy", "is not a path inside the bundle")):
        _edit_manifest(models / v2, lambda m, e=entry: {**m, "files": {**m["files"], e: {
            "sha256": "0" * 64, "bytes": secret.stat().st_size}}})
        served = load_current(models)
        assert served.version == v1 and reason in served.notes[0], served.notes
        _edit_manifest(models / v2, lambda m, e=entry: {**m, "files": {k: v for k, v in m["files"].items() if k != e}})
    assert load_current(models).version == v2  # the entries removed, v2 serves again


def test_a_symlink_out_of_the_bundle_is_refused_even_with_the_right_hash(
    two_versions: tuple[Path, str, str], tmp_path: Path
) -> None:
    models, v1, v2 = two_versions
    outside = tmp_path / "outside-popularity.npy"
    shutil.copy(models / v2 / "popularity.npy", outside)
    (models / v2 / "popularity.npy").unlink()
    (models / v2 / "popularity.npy").symlink_to(outside)  # same bytes: the sha256 still matches
    served = load_current(models)
    assert served.version == v1
    assert "popularity.npy: a link to a file outside the bundle" in served.notes[0]


@pytest.mark.parametrize("kind", ["parent", "absolute", "symlinked-folder", "garbage"])
def test_current_may_not_point_outside_models(two_versions: tuple[Path, str, str], tmp_path: Path, kind: str) -> None:
    models, v1, v2 = two_versions
    elsewhere = tmp_path / "elsewhere"
    publish_bundle(elsewhere, **random_bundle_parts(n_items=5, seed=9))
    other = (elsewhere / CURRENT_FILE).read_text().strip()
    text = {"parent": f"../elsewhere/{other}", "absolute": str(elsewhere / other),
            "symlinked-folder": "20990101T000000Z-linkedout", "garbage": "\x00\x1b[31m`*bold*`"}[kind]
    if kind == "symlinked-folder":
        (models / text).symlink_to(elsewhere / other, target_is_directory=True)
    (models / CURRENT_FILE).write_text(text + "\n")
    served = load_current(models)
    assert served.version == v2 and served.n_items == 30  # the newest good version inside models/
    assert len(served.notes) == 1 and "\n" not in served.notes[0]
    reason = "a link to a folder outside" if kind == "symlinked-folder" else "which is not a version folder name"
    assert reason in served.notes[0], served.notes
