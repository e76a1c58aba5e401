"""Writing and publishing a model bundle atomically, and pruning old versions.

:func:`write_bundle` writes a complete bundle (layout: :mod:`engine.bundle.layout`) from its
parts, computing ``gram = YᵀY`` and ``item_norms`` in float64 from the item factors, fsyncing
every file and recording its sha256. The version name is ``<UTC created_at>-<first 8 hex of
the sha256 over the file hashes>``, so identical content gets the same name.

:func:`publish_bundle` writes ``models/.tmp-*``, verifies the sha256s, renames the directory
into place (reusing an identical version already published), then swaps ``CURRENT`` with
``os.replace`` (:func:`set_current`): a crash at any step leaves the previous version serving.
:func:`prune_versions` then keeps the newest ``keep`` versions (never the serving one) and
removes ``.tmp-*`` leftovers older than an hour. numpy/pandas/pyarrow only (no pyspark).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.bundle.layout import (
    CURRENT_FILE,
    MANIFEST,
    SCHEMA_VERSION,
    TMP_PREFIX,
    current_version,
    list_versions,
)
from engine.bundle.load import verify_bundle_dir
from engine.core.errors import BundleError
from engine.core.files import fsync_dir, sha256_file
from engine.core.schemas import BUNDLE_ITEM_COLUMNS

# -- writing ---------------------------------------------------------------------------------

#: Up to this rank ``item_factors.npy`` is stored column-major (Fortran order), above it
#: row-major; see :func:`factor_order`.
COLUMN_MAJOR_MAX_RANK = 64


def factor_order(rank: int) -> str:
    """How :func:`write_bundle` lays out a rank's ``item_factors.npy`` by default: ``"F"``
    (column-major) up to :data:`COLUMN_MAJOR_MAX_RANK`, else ``"C"`` (row-major).

    Serving's one full pass (``Y @ x``, :class:`engine.serving.scan.Scan`) runs OpenBLAS's
    ``sgemv`` over the matrix. Row-major, each score is a ``rank``-term dot product ending in
    a horizontal sum; column-major, the pass adds ``x_j`` times each column into the scores.
    At 600k items and rank 64 (153 MB) the column-major pass took 3.8–3.9 against 4.8–5.1 ms
    while the matrix stayed in this development host's 480 MB L3 cache between requests, and
    5.0 against 5.4–5.6 ms with the caches flushed before each one. At rank 128 (307 MB, read
    at the memory's speed either way) it took 9.0–9.4 against 8.7–8.8 ms. Reading rows
    (fold-in, exact re-scoring, explanations) costs more column-major, each row ``rank``
    cache lines a column apart (:func:`engine.serving.scan.factor_rows`). So at rank 64 the
    model ranking took 7.2 against 7.8–8.1 ms in ``bench/serve.py`` while the matrix stayed
    cached, and about the same when it did not (8.2–8.4 against 8.0–8.4 ms in a later hour,
    9.4–9.9 against 9.2–9.9 ms with flushed caches); at rank 128 column-major took 14.3 against 12.5 ms (a one-off
    script). Either layout loads as the same ``[n_items, rank]`` array; only the speed differs.
    """
    return "F" if rank <= COLUMN_MAJOR_MAX_RANK else "C"


def write_bundle(
    out_dir: Path,
    *,
    items: pd.DataFrame,
    item_factors: np.ndarray,
    popularity: np.ndarray,
    audio_features: np.ndarray,
    kmeans: Mapping[str, Any],
    params: Mapping[str, Any],
    data_stats: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    order: str | None = None,
) -> dict[str, Any]:
    """Write a complete bundle into ``out_dir`` (created; must not exist) and return its manifest.

    Computes ``gram`` and ``item_norms`` from ``item_factors``, fsyncs every file, and
    records sha256s. The manifest's ``version`` is filled in by :func:`publish_bundle`; a
    directly written bundle gets a version derived from its content. ``order`` lays out
    ``item_factors.npy``: ``"C"`` row-major, ``"F"`` column-major, None by the rank
    (:func:`factor_order`).
    """
    n = len(items)
    missing = [c for c in BUNDLE_ITEM_COLUMNS if c not in items.columns]
    if missing:
        raise BundleError(f"items table lacks column(s) {', '.join(missing)}")
    factors = np.ascontiguousarray(item_factors, dtype=np.float32)
    if factors.ndim != 2 or factors.shape[0] != n:
        raise BundleError(f"item_factors has shape {factors.shape}, expected ({n}, rank)")
    order = factor_order(factors.shape[1]) if order is None else order
    if order not in ("C", "F"):
        raise BundleError(f"order must be 'C' (row-major) or 'F' (column-major), got {order!r}")
    for name, arr in (("popularity", popularity), ("audio_features", audio_features)):
        if len(arr) != n:
            raise BundleError(f"{name} has {len(arr)} rows, expected {n}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=False)
    f64 = factors.astype(np.float64)
    arrays = {
        # gram and norms from the row-major copy whatever the file's layout: the same bits
        "item_factors": np.asfortranarray(factors) if order == "F" else factors,
        "gram": (f64.T @ f64).astype(np.float32),
        "item_norms": np.linalg.norm(f64, axis=1).astype(np.float32),
        "popularity": np.asarray(popularity, dtype=np.float32),
        "audio_features": np.ascontiguousarray(audio_features, dtype=np.float32),
    }
    files: dict[str, dict[str, Any]] = {}
    items[list(BUNDLE_ITEM_COLUMNS) + [c for c in items.columns if c not in BUNDLE_ITEM_COLUMNS]].to_parquet(
        out_dir / "items.parquet", index=False
    )
    files["items.parquet"] = _file_entry(out_dir / "items.parquet")
    for name, arr in arrays.items():
        files[f"{name}.npy"] = _save_npy(out_dir / f"{name}.npy", arr)
    for name, arr in (extra or {}).items():
        (out_dir / "extra").mkdir(exist_ok=True)
        files[f"extra/{name}.npy"] = _save_npy(out_dir / "extra" / f"{name}.npy", np.asarray(arr))
    for name, table in (tables or {}).items():
        (out_dir / "tables").mkdir(exist_ok=True)
        table.to_parquet(out_dir / "tables" / f"{name}.parquet", index=False)
        files[f"tables/{name}.parquet"] = _file_entry(out_dir / "tables" / f"{name}.parquet")
    _write_json(out_dir / "kmeans.json", dict(kmeans))
    files["kmeans.json"] = _file_entry(out_dir / "kmeans.json")
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "version": None,
        "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        "n_items": n,
        "rank": int(factors.shape[1]),
        "params": dict(params),
        "data": dict(data_stats or {}),
        "metrics": dict(metrics or {}),
        "files": files,
    }
    manifest["version"] = _version_name(manifest)
    _write_json(out_dir / MANIFEST, manifest)
    fsync_dir(out_dir)
    return manifest


def publish_bundle(models_dir: Path, *, keep: int = 5, **bundle_parts: Any) -> str:
    """Write, verify and atomically publish a bundle under ``models_dir``; return its version.

    Steps: write ``.tmp-*`` -> verify sha256s -> rename to ``<version>`` -> replace ``CURRENT``
    -> prune to the newest ``keep`` versions (the serving one always kept). A failure at any
    step leaves ``CURRENT`` pointing at the previous complete bundle.
    ``bundle_parts`` are the keyword arguments of :func:`write_bundle`.
    """
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = models_dir / f"{TMP_PREFIX}{int(time.time())}-{secrets.token_hex(4)}"
    try:
        manifest = write_bundle(tmp, **bundle_parts)
        _checkpoint("written")
        verify_bundle_dir(tmp)
        _checkpoint("verified")
        version = manifest["version"]
        final = models_dir / version
        if final.exists():  # identical content published before: reuse it
            shutil.rmtree(tmp)
        else:
            os.rename(tmp, final)
            fsync_dir(models_dir)
        _checkpoint("renamed")
        set_current(models_dir, version)
        _checkpoint("current")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune_versions(models_dir, keep=keep)
    return version


def set_current(models_dir: Path, version: str) -> None:
    """Point ``CURRENT`` at ``version`` atomically (write a temp file, fsync, ``os.replace``)."""
    models_dir = Path(models_dir)
    verify_bundle_dir(models_dir / version)
    tmp = models_dir / f"{TMP_PREFIX}CURRENT-{secrets.token_hex(4)}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(version + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, models_dir / CURRENT_FILE)
    fsync_dir(models_dir)


def prune_versions(models_dir: Path, *, keep: int = 5) -> list[str]:
    """Delete all but the newest ``keep`` published versions (never the current one) and
    leftover ``.tmp-*`` entries older than an hour; return the removed version names."""
    models_dir = Path(models_dir)
    current = current_version(models_dir)
    versions = list_versions(models_dir)
    removed = []
    for name in versions[: max(0, len(versions) - keep)]:
        if name != current:
            shutil.rmtree(models_dir / name, ignore_errors=True)
            removed.append(name)
    cutoff = time.time() - 3600
    for path in models_dir.glob(f"{TMP_PREFIX}*"):
        if path.stat().st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return removed


# -- helpers ---------------------------------------------------------------------------------


def _checkpoint(step: str) -> None:
    """Called between publish steps; tests patch it to simulate a crash at each step."""


def _save_npy(path: Path, arr: np.ndarray) -> dict[str, Any]:
    with open(path, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def _write_json(path: Path, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, default=_json_default)
        fh.flush()
        os.fsync(fh.fileno())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def _file_entry(path: Path) -> dict[str, Any]:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def _version_name(manifest: Mapping[str, Any]) -> str:
    stamp = datetime.fromisoformat(manifest["created_at"]).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(
        json.dumps({k: v["sha256"] for k, v in manifest["files"].items()}, sort_keys=True).encode()
    ).hexdigest()[:8]
    return f"{stamp}-{digest}"
