"""The model bundle's on-disk layout: file names, the schema version, and which version serves.

A bundle is a directory ``models/<version>/`` holding numpy arrays and a manifest::

    manifest.json        schema_version, version, created_at, params, data stats, metrics, files{sha256,bytes}
    items.parquet        row i = item i (engine.core.schemas.BUNDLE_ITEM_COLUMNS)
    item_factors.npy     float32 [n_items, rank]; zero rows where has_factors is false; stored
                         column-major up to rank 64 (engine.bundle.publish.factor_order)
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

Paths are confined: :func:`version_dir` accepts only a plain version name (no ``/``, no ``..``)
whose folder resolves inside ``models/`` (a symlink out is refused), and
:func:`bundle_file` only a relative manifest entry that resolves inside its bundle folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath

from engine.core.errors import BundleError

#: Bumped whenever the bundle layout or the meaning of a file changes.
SCHEMA_VERSION = 1
CURRENT_FILE = "CURRENT"
MANIFEST = "manifest.json"
ARRAY_FILES = ("item_factors", "gram", "item_norms", "popularity", "audio_features")
TMP_PREFIX = ".tmp-"
#: What a version name may look like (publish writes ``<UTC stamp>-<8 hex>``): one path
#: component, no leading dot, nothing a shell, a URL or Markdown would read specially.
VERSION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")


def list_versions(models_dir: Path) -> list[str]:
    """Published version names, oldest first (by the manifest's microsecond ``created_at``)."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    found = []
    for p in models_dir.iterdir():
        if p.is_dir() and not p.name.startswith(".") and p.name != "demo" and VERSION_NAME.match(p.name):
            try:
                manifest = json.loads((p / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError, RecursionError):
                continue  # not a bundle (or a broken one): never listed, never pruned
            created = manifest.get("created_at") if isinstance(manifest, dict) else None
            if isinstance(created, str):  # a numeric or missing created_at cannot be ordered
                found.append((created, p.name))
    return [name for _, name in sorted(found)]


def current_version(models_dir: Path) -> str | None:
    """The version named in ``models_dir/CURRENT``, or None (cheap: used as a cache key).

    An unreadable ``CURRENT`` (a folder, not UTF-8) counts as none; :func:`load_current` says so.
    The text is returned as written: :func:`version_dir` decides whether it names a version."""
    try:
        text = (Path(models_dir) / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):  # FileNotFoundError, IsADirectoryError, UnicodeDecodeError, ...
        return None
    return text or None




def version_dir(models_dir: Path, version: str) -> Path:
    """``models_dir/version`` after checking that ``version`` is a plain version name and that the
    folder resolves inside ``models_dir`` (raises BundleError naming the value otherwise)."""
    if not VERSION_NAME.match(version):
        raise BundleError(f"{CURRENT_FILE} names {version[:80]!r}, which is not a version folder name")
    path = Path(models_dir) / version
    if not _inside(path, Path(models_dir)):
        raise BundleError(f"{path}: a link to a folder outside {models_dir}; refusing it")
    return path


def bundle_file(bundle_dir: Path, name: object) -> Path:
    """The file a manifest entry ``name`` names, after checking it is a relative path (``/``
    separators, no ``..``, nothing absolute) that resolves inside ``bundle_dir``."""
    bundle_dir = Path(bundle_dir)
    text = str(name)
    parts = PurePosixPath(text).parts
    if (not isinstance(name, str) or not parts or text.startswith(("/", "\\")) or "\\" in text or ":" in text
            or any(p in ("..", ".") for p in parts) or "\x00" in text):
        raise BundleError(f"{bundle_dir / MANIFEST}: file entry {text[:80]!r} is not a path inside the bundle")
    path = bundle_dir.joinpath(*parts)
    if not _inside(path, bundle_dir):
        raise BundleError(f"{path}: a link to a file outside the bundle; refusing it")
    return path


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (links followed) is ``root`` or below it."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a link loop
        return False
