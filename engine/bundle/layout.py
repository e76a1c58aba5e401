"""The model bundle's on-disk layout: file names, the schema version, and which version serves.

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

``models/CURRENT`` names the serving version (:func:`current_version`, cheap enough to be a
cache key); :func:`list_versions` lists the published ones, oldest first by the manifest's
``created_at``. Hidden entries (``.tmp-*`` work folders, ``.download``) and ``models/demo`` are
never versions. :data:`SCHEMA_VERSION` is bumped whenever the layout or the meaning of a file
changes. Writing is :mod:`engine.bundle.publish`, reading :mod:`engine.bundle.load`. Standard
library only: the app imports it, never pyspark.
"""

from __future__ import annotations

import json
from pathlib import Path

#: Bumped whenever the bundle layout or the meaning of a file changes.
SCHEMA_VERSION = 1
CURRENT_FILE = "CURRENT"
MANIFEST = "manifest.json"
ARRAY_FILES = ("item_factors", "gram", "item_norms", "popularity", "audio_features")
TMP_PREFIX = ".tmp-"


def list_versions(models_dir: Path) -> list[str]:
    """Published version names, oldest first (by the manifest's microsecond ``created_at``)."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    found = []
    for p in models_dir.iterdir():
        if p.is_dir() and not p.name.startswith(".") and p.name != "demo":
            try:
                created = json.loads((p / MANIFEST).read_text(encoding="utf-8"))["created_at"]
            except (OSError, ValueError, KeyError):
                continue  # not a bundle (or a broken one): never listed, never pruned
            found.append((created, p.name))
    return [name for _, name in sorted(found)]


def current_version(models_dir: Path) -> str | None:
    """The version named in ``models_dir/CURRENT``, or None (cheap: used as a cache key)."""
    try:
        text = (Path(models_dir) / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


