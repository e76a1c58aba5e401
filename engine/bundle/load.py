"""Reading a model bundle: verify it against its manifest, memory-map it, pick the one to serve.

:func:`verify_bundle_dir` checks the manifest's ``schema_version``, that every listed file
exists with its recorded size and sha256, and that the required files are listed; it raises
:class:`~engine.core.errors.BundleError` naming the file at fault. :func:`load_bundle` returns
a frozen :class:`Bundle` whose arrays (and ``extra/*.npy``) are read-only memory maps, so a
large catalogue costs only the pages a request touches; ``tables/*.parquet`` are read whole.
:func:`load_current` serves ``models/CURRENT``, else the newest older version that verifies,
else the committed demo bundle, and records every refused bundle in ``Bundle.notes`` so the
app can say why. The layout is :mod:`engine.bundle.layout`. numpy/pandas only (the app uses
it; no pyspark).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.bundle.layout import (
    ARRAY_FILES,
    MANIFEST,
    SCHEMA_VERSION,
    current_version,
    list_versions,
)
from engine.core.errors import BundleError
from engine.core.files import sha256_file


@dataclass(frozen=True)
class Bundle:
    """A loaded, verified model bundle. Arrays are read-only memory maps.

    Attributes
    ----------
    items : pandas.DataFrame
        Row ``i`` describes item ``i`` (``BUNDLE_ITEM_COLUMNS``).
    item_factors : numpy.ndarray
        float32 ``[n_items, rank]`` ALS item factors ``Y`` (zero rows without factors).
    gram : numpy.ndarray
        float32 ``[rank, rank]``, ``YᵀY``.
    params : dict
        Training parameters: ``rank, reg_param, alpha, weight_transform, weight_epsilon,
        weight_clip, max_iter, ...`` — fold-in must use the same ones.
    """

    path: Path
    version: str
    manifest: dict[str, Any]
    items: pd.DataFrame
    item_factors: np.ndarray
    gram: np.ndarray
    item_norms: np.ndarray
    popularity: np.ndarray
    audio_features: np.ndarray
    kmeans: dict[str, Any]
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, Any]:
        """Training parameters recorded in the manifest."""
        return self.manifest.get("params", {})

    @property
    def rank(self) -> int:
        """Number of latent factors."""
        return int(self.item_factors.shape[1])

    @property
    def n_items(self) -> int:
        """Number of items (rows of items.parquet)."""
        return int(self.item_factors.shape[0])


# -- reading ---------------------------------------------------------------------------------


def verify_bundle_dir(path: Path) -> dict[str, Any]:
    """Check a bundle directory against its manifest; return the manifest or raise BundleError."""
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path}: no {MANIFEST}") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path / MANIFEST}: not valid JSON ({exc.msg})") from None
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise BundleError(
            f"{path}: schema_version {manifest.get('schema_version')!r}, this code reads {SCHEMA_VERSION}"
        )
    for name, entry in manifest.get("files", {}).items():
        file = path / name
        if not file.is_file():
            raise BundleError(f"{file}: listed in the manifest but missing")
        if file.stat().st_size != entry["bytes"] or sha256_file(file) != entry["sha256"]:
            raise BundleError(f"{file}: contents do not match the manifest sha256")
    for required in ("items.parquet", "kmeans.json", *(f"{a}.npy" for a in ARRAY_FILES)):
        if required not in manifest.get("files", {}):
            raise BundleError(f"{path}: manifest does not list {required}")
    return manifest


def load_bundle(path: Path, *, verify: bool = True) -> Bundle:
    """Load (and by default verify) the bundle in ``path``; arrays are memory-mapped."""
    path = Path(path)
    manifest = verify_bundle_dir(path) if verify else json.loads((path / MANIFEST).read_text("utf-8"))
    arrays = {name: np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAY_FILES}
    extra = {
        Path(name).stem: np.load(path / name, mmap_mode="r", allow_pickle=False)
        for name in manifest["files"]
        if name.startswith("extra/")
    }
    tables = {
        Path(name).stem: pd.read_parquet(path / name) for name in manifest["files"] if name.startswith("tables/")
    }
    items = pd.read_parquet(path / "items.parquet")
    if len(items) != arrays["item_factors"].shape[0]:
        raise BundleError(f"{path}: items.parquet has {len(items)} rows, item_factors {arrays['item_factors'].shape[0]}")
    kmeans = json.loads((path / "kmeans.json").read_text(encoding="utf-8"))
    return Bundle(
        path=path,
        version=manifest["version"],
        manifest=manifest,
        items=items,
        kmeans=kmeans,
        extra=extra,
        tables=tables,
        **arrays,
    )


def load_current(models_dir: Path, *, fallback_dir: Path | None = None) -> Bundle:
    """Load the serving bundle: ``CURRENT``, else the newest older version that verifies,
    else ``fallback_dir`` (the committed demo bundle). Refused bundles are listed in
    ``Bundle.notes`` so the app can say why; raises BundleError when nothing loads."""
    models_dir = Path(models_dir)
    notes: list[str] = []
    candidates: list[Path] = []
    current = current_version(models_dir)
    if current:
        candidates.append(models_dir / current)
    candidates += [models_dir / v for v in reversed(list_versions(models_dir)) if v != current]
    if fallback_dir is not None:
        candidates.append(Path(fallback_dir))
    for path in candidates:
        try:
            bundle = load_bundle(path)
        except BundleError as exc:
            notes.append(f"refused {path.name}: {exc}")
            continue
        return Bundle(**{**bundle.__dict__, "notes": tuple(notes)})
    raise BundleError("; ".join(notes) or f"no model bundle in {models_dir} (run `make run` or `python -m engine train`)")


