"""The bundle's item rows from the training outputs: :func:`assemble_items` (numpy/pandas).

Every catalogue track plus every played track becomes one row (columns
:data:`engine.core.schemas.BUNDLE_ITEM_COLUMNS`). Played tracks the catalogue lacks are kept
(name unknown, no audio features, no cluster); catalogue tracks nobody played have zero factors
(``has_factors`` false) but keep their audio features, so the content path can still recommend
them. ALS factors, KMeans clusters, map positions and standardized audio features are placed on
those rows. The cold-start popularity prior is ``0.9 · listeners / max listeners + 0.1 ·
catalogue popularity / 100``: the share of listeners, with the catalogue's own popularity as a
small tie-breaker so unplayed tracks are still ordered sensibly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.core.schemas import CLUSTER_FEATURES
from engine.training.kmeans import KMeansResult

if TYPE_CHECKING:  # pragma: no cover

    pass


def assemble_items(
    *,
    catalog: pd.DataFrame,
    als_item_ids: list[str],
    als_item_factors: np.ndarray,
    kmeans: KMeansResult,
    listeners: pd.DataFrame,
) -> dict[str, Any]:
    """Build the bundle's item rows: every catalogue track plus every played track.

    Played tracks the catalogue lacks are kept (name unknown, no audio features, no cluster);
    catalogue tracks nobody played have zero factors (``has_factors`` false) but keep their
    audio features, so the content path can still recommend them.
    """
    extra_ids = sorted(set(als_item_ids) - set(catalog["track_id"]))
    extra = pd.DataFrame({"track_id": extra_ids, "name": extra_ids})
    items = pd.concat([catalog, extra], ignore_index=True)
    items = items.rename(columns={"artist_names": "artists", "release_year": "year"})
    for col in ("artists", "artist_ids", "genres"):
        items[col] = items[col].apply(lambda v: list(v) if isinstance(v, (list, np.ndarray)) else [])
    items["year"] = items["year"].fillna(0).astype("int32")
    items["popularity"] = items["popularity"].fillna(0).astype("int32")
    items["explicit"] = items["explicit"].astype("boolean").fillna(False).astype(bool)
    items["energy"] = items["energy"].astype("float64")
    row_of = pd.Series(np.arange(len(items)), index=items["track_id"])

    rank = als_item_factors.shape[1]
    factors = np.zeros((len(items), rank), dtype=np.float32)
    rows = row_of.loc[als_item_ids].to_numpy()
    factors[rows] = als_item_factors
    has_factors = np.zeros(len(items), dtype=bool)
    has_factors[rows] = np.abs(als_item_factors).sum(axis=1) > 0

    assign = kmeans.assignments
    a_rows = row_of.loc[assign["track_id"]].to_numpy()
    cluster = np.full(len(items), -1, dtype=np.int32)
    cluster[a_rows] = assign["cluster"].to_numpy()
    x = np.full(len(items), np.nan)
    y = np.full(len(items), np.nan)
    x[a_rows], y[a_rows] = assign["x"].to_numpy(), assign["y"].to_numpy()
    audio = np.zeros((len(items), len(CLUSTER_FEATURES)), dtype=np.float32)
    audio[a_rows] = np.asarray(assign["features"].tolist(), dtype=np.float32)
    has_audio = np.zeros(len(items), dtype=bool)
    has_audio[a_rows] = True
    items["cluster"], items["x"], items["y"] = cluster, x, y
    items["has_factors"], items["has_audio"] = has_factors, has_audio

    # Popularity prior for cold start: share of listeners, with the catalogue's own popularity
    # as a small tie-breaker so unplayed catalogue tracks are still ordered sensibly.
    counts = np.zeros(len(items))
    counts[row_of.loc[listeners["track_id"]].to_numpy()] = listeners["listeners"].to_numpy()
    popularity = 0.9 * counts / max(1.0, counts.max()) + 0.1 * items["popularity"].to_numpy() / 100.0
    return {
        "items": items,
        "item_factors": factors,
        "popularity": popularity.astype(np.float32),
        "audio_features": audio,
        "kmeans": kmeans.kmeans,
    }
