"""The model bundle: write, verify, load and publish atomically (DESIGN.md §4).

A bundle is a directory ``models/<version>/`` holding numpy arrays and a manifest::

    manifest.json        schema_version, version, created_at, params, data stats, metrics, files{sha256,bytes}
    items.parquet        row i = item i (engine.core.schemas.BUNDLE_ITEM_COLUMNS)
    item_factors.npy     float32 [n_items, rank]; zero rows where has_factors is false
    gram.npy             float32 [rank, rank] = Yᵀ Y over all items (for fold-in)
    item_norms.npy       float32 [n_items] = ‖y_i‖ (cosine similar-items)
    popularity.npy       float32 [n_items] fallback scores for cold start, in [0, 1]
    audio_features.npy   float32 [n_items, n_features] standardized (kmeans scaler); 0 rows where has_audio is false
    kmeans.json          k, feature names, scaler mean/std, centroids (standardized space), cluster sizes
    extra/*.npy          optional arrays of later model parts (e.g. item neighbours), listed in the manifest
    tables/*.parquet     optional small tables served with the model (e.g. the demo listeners and
                         their histories, so a host without the training data can still offer them)

``models/CURRENT`` names the serving version. Publishing writes ``models/.tmp-*``, fsyncs,
verifies the sha256s, renames the directory into place, then swaps ``CURRENT`` with
``os.replace``: a crash at any point leaves the previous version serving. Loading memory-maps
the arrays. This module imports numpy/pandas/pyarrow only (the app uses it; no pyspark).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)





def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
