"""Small synthetic bundles for tests of the numpy side (no Spark needed).

``random_bundle_parts`` returns the keyword arguments of ``engine.bundle.publish.write_bundle`` for a
catalogue with planted structure: items belong to ``n_groups`` groups whose factor vectors
point in distinct directions, so recommendations for a listener of one group stay in it.
``published_recommender`` serves such parts from a published bundle. ``rehash`` re-records one file's sha256 in a written bundle's manifest (tests that plant a
readable-hash-but-broken file).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.bundle.load import load_bundle
from engine.bundle.publish import publish_bundle
from engine.core.schemas import CLUSTER_FEATURES
from engine.serving.recommender import Recommender


def random_bundle_parts(
    n_items: int = 300,
    rank: int = 8,
    *,
    n_groups: int = 3,
    n_without_factors: int = 10,
    seed: int = 0,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``write_bundle``/``publish_bundle`` with planted groups."""
    rng = np.random.default_rng(seed)
    group = np.arange(n_items) % n_groups
    centres = rng.normal(size=(n_groups, rank)) * 2.0
    factors = (centres[group] + 0.3 * rng.normal(size=(n_items, rank))).astype(np.float32)
    has_factors = np.ones(n_items, dtype=bool)
    has_factors[n_items - n_without_factors :] = False
    factors[~has_factors] = 0.0
    n_artists = max(n_groups * 4, n_items // 10)
    artist = (np.arange(n_items) // n_groups) % n_artists
    items = pd.DataFrame(
        {
            "track_id": [f"{i:022d}" for i in range(n_items)],
            "name": [f"Song {i}" for i in range(n_items)],
            "artists": [[f"Artist {a}"] for a in artist],
            "artist_ids": [[f"a{a}"] for a in artist],
            "year": (1960 + (np.arange(n_items) % 60)).astype("int32"),
            "popularity": rng.integers(0, 100, n_items).astype("int32"),
            "explicit": (np.arange(n_items) % 7 == 0),
            "energy": rng.uniform(0, 1, n_items),
            "cluster": group.astype("int32"),
            "x": rng.normal(size=n_items),
            "y": rng.normal(size=n_items),
            "genres": [[f"genre{g}"] for g in group],
            "has_factors": has_factors,
            "has_audio": np.ones(n_items, dtype=bool),
        }
    )
    n_feat = len(CLUSTER_FEATURES)
    feat_centres = rng.normal(size=(n_groups, n_feat)) * 2.0
    audio = (feat_centres[group] + 0.3 * rng.normal(size=(n_items, n_feat))).astype(np.float32)
    popularity = rng.uniform(0, 1, n_items).astype(np.float32)
    kmeans = {
        "k": n_groups,
        "feature_names": list(CLUSTER_FEATURES),
        "scaler_mean": [0.0] * n_feat,
        "scaler_std": [1.0] * n_feat,
        "centroids": feat_centres.tolist(),
        "sizes": np.bincount(group, minlength=n_groups).tolist(),
    }
    return {
        "items": items,
        "item_factors": factors,
        "popularity": popularity,
        "audio_features": audio,
        "kmeans": kmeans,
        "params": params
        or {"rank": rank, "reg_param": 0.1, "alpha": 10.0, "weight_transform": "log1p",
            "weight_epsilon": 1.0, "weight_clip": 100.0, "max_iter": 10},
        "data_stats": {"n_users": 0, "n_interactions": 0, "source": "synthetic test bundle"},
    }


def published_recommender(folder: Path, parts: dict[str, Any] | None = None) -> Recommender:
    """A :class:`Recommender` over ``parts`` (default ``random_bundle_parts()``) published into ``folder``."""
    folder = Path(folder)
    return Recommender(load_bundle(folder / publish_bundle(folder, **(parts or random_bundle_parts()))))


def rehash(bundle_dir: Path, name: str) -> None:
    """Record the current size and sha256 of ``bundle_dir/name`` in the manifest, so a file
    changed by a test passes the hash check and reaches the reader behind it."""
    manifest_path = Path(bundle_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    data = (Path(bundle_dir) / name).read_bytes()
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
