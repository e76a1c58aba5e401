"""A listener's taste in numbers, and words for the audio clusters (numpy/pandas only).

What the app's "Your taste" and "Explore" pages show, computed from a bundle and a weighted
history ``{track_id: weight}``:

- :func:`taste_profile`: the audio-feature profile against the catalogue average, the cluster
  mix, top artists and genres, and the release-era distribution;
- :func:`describe_clusters`: a short description of each KMeans cluster from its centroid
  ("high energy, low acousticness"), read from the centroid's largest standardized deviations;
  :func:`describe_sound` says the same of any one vector, e.g. a track's own features;
- :func:`map_sample`: a reproducible sample of the 2-D map with the listener's tracks and the
  recommendations always included.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Features shown on the radar: the 0..1 audio descriptors (tempo, loudness, year, popularity
#: live on other scales and would flatten the chart).
RADAR_FEATURES: tuple[str, ...] = (
    "danceability", "energy", "valence", "acousticness", "instrumentalness", "speechiness", "liveness",
)
#: Words for a centroid far above / below the catalogue average on a feature.
_WORDS: dict[str, tuple[str, str]] = {
    "tempo": ("fast", "slow"),
    "loudness": ("loud", "quiet"),
    "release_year": ("recent", "older"),
    "popularity": ("popular", "lesser-known"),
}
#: A centroid coordinate (in standard deviations) must reach this to be worth a word.
_NOTABLE_Z = 0.4


@dataclass(frozen=True)
class TasteProfile:
    """What :func:`taste_profile` returns.

    Attributes
    ----------
    radar : pandas.DataFrame
        ``feature, listener, catalogue`` (raw feature units, weighted mean over the history).
    clusters : pandas.DataFrame
        ``cluster, listener_share, catalogue_share`` (shares of weight / of tracks).
    top_artists, top_genres : pandas.DataFrame
        ``name, weight`` (the history weight credited to each), largest first.
    eras : pandas.DataFrame
        ``decade, listener_share, catalogue_share``.
    n_tracks : int
        History tracks the bundle knows.
    """

    radar: pd.DataFrame
    clusters: pd.DataFrame
    top_artists: pd.DataFrame
    top_genres: pd.DataFrame
    eras: pd.DataFrame
    n_tracks: int


def raw_audio(audio: np.ndarray, kmeans: Mapping[str, Any]) -> pd.DataFrame:
    """Undo the KMeans scaler: standardized audio rows -> raw feature values (named columns)."""
    names = list(kmeans.get("feature_names") or [])
    z = np.asarray(audio, dtype=np.float64)
    mean = np.asarray(kmeans.get("scaler_mean") or np.zeros(len(names)), dtype=np.float64)
    std = np.asarray(kmeans.get("scaler_std") or np.ones(len(names)), dtype=np.float64)
    return pd.DataFrame(z * std + mean, columns=names)


@dataclass(frozen=True)
class CatalogStats:
    """The catalogue side of every profile (computed once per bundle).

    ``radar``: ``feature -> mean raw value``; ``cluster_share``: share of tracks per cluster;
    ``decade_share``: share of dated tracks per decade (index = decade).
    """

    radar: dict[str, float]
    cluster_share: np.ndarray
    decade_share: pd.Series


def catalog_stats(items: pd.DataFrame, audio: np.ndarray, kmeans: Mapping[str, Any]) -> CatalogStats:
    """Averages of the whole catalogue that a listener is compared with."""
    names = list(kmeans.get("feature_names") or [])
    has_audio = items["has_audio"].to_numpy(dtype=bool)
    # The scaler is affine, so the mean of raw values is the unscaled mean of standardized ones.
    z_mean = np.asarray(audio, dtype=np.float64)[has_audio].mean(axis=0) if has_audio.any() else None
    raw_mean = raw_audio(z_mean[None, :], kmeans).iloc[0] if z_mean is not None else None
    radar = {f: (float(raw_mean[f]) if raw_mean is not None else float("nan")) for f in RADAR_FEATURES if f in names}
    cluster = items["cluster"].to_numpy()
    k = _n_clusters(kmeans, cluster)
    valid = (cluster >= 0) & (cluster < k)
    cluster_share = _share(np.bincount(cluster[valid], minlength=k).astype(np.float64))
    decade = _decades(items)
    counts = pd.Series(decade[decade > 0]).value_counts().sort_index().astype(np.float64)
    return CatalogStats(radar, cluster_share, counts / counts.sum() if counts.sum() else counts)


def taste_profile(
    items: pd.DataFrame,
    audio: np.ndarray,
    kmeans: Mapping[str, Any],
    history: Mapping[str, float],
    *,
    catalogue: CatalogStats | None = None,
    top: int = 10,
) -> TasteProfile:
    """Summarize a weighted history against the catalogue.

    Parameters
    ----------
    items, audio, kmeans
        The bundle's items table, standardized audio features and KMeans metadata.
    history
        ``track_id -> weight``; ids the bundle lacks and non-positive weights are ignored.
    catalogue
        :func:`catalog_stats` of the same bundle (computed here when not given; pass it to
        avoid a pass over the whole catalogue per listener).
    top
        How many artists and genres to list.

    Returns
    -------
    TasteProfile
        Listener columns are empty/zero/NaN when no history track is known.
    """
    catalogue = catalogue or catalog_stats(items, audio, kmeans)
    ids = list(history)
    found = pd.Index(items["track_id"]).get_indexer(ids) if ids else np.zeros(0, dtype=np.int64)
    all_weights = np.array([float(history[t]) for t in ids], dtype=np.float64)
    keep = (found >= 0) & (all_weights > 0)
    rows, weights = found[keep].astype(np.int64), all_weights[keep]

    has_audio = items["has_audio"].to_numpy(dtype=bool)[rows]
    raw = raw_audio(np.asarray(audio)[rows], kmeans)
    features = list(catalogue.radar)
    radar = pd.DataFrame(
        {
            "feature": features,
            "listener": [_weighted_mean(raw[f].to_numpy()[has_audio], weights[has_audio]) for f in features],
            "catalogue": [catalogue.radar[f] for f in features],
        }
    )

    cluster = items["cluster"].to_numpy()[rows]
    k = len(catalogue.cluster_share)
    valid = (cluster >= 0) & (cluster < k)
    listener_mix = np.bincount(cluster[valid], weights=weights[valid], minlength=k)
    clusters = pd.DataFrame(
        {"cluster": np.arange(k), "listener_share": _share(listener_mix), "catalogue_share": catalogue.cluster_share}
    )

    top_artists = _top_names(items["artists"].to_numpy()[rows], weights, top)
    top_genres = _top_names(items["genres"].to_numpy()[rows], weights, top)

    decade = _decades(items.iloc[rows])
    listener_dec = pd.Series(weights[decade > 0], index=decade[decade > 0]).groupby(level=0).sum()
    decades = catalogue.decade_share.index.union(listener_dec.index)
    eras = pd.DataFrame(
        {
            "decade": decades.to_numpy(dtype=np.int64),
            "listener_share": _share(listener_dec.reindex(decades, fill_value=0).to_numpy()),
            "catalogue_share": catalogue.decade_share.reindex(decades, fill_value=0).to_numpy(),
        }
    )
    return TasteProfile(radar, clusters, top_artists, top_genres, eras, int(len(rows)))


def _decades(items: pd.DataFrame) -> np.ndarray:
    return (items["year"].fillna(0).to_numpy(dtype=np.int64) // 10) * 10


def _n_clusters(kmeans: Mapping[str, Any], cluster: np.ndarray) -> int:
    return int(kmeans.get("k") or (cluster.max() + 1 if len(cluster) else 0))


def describe_clusters(kmeans: Mapping[str, Any], *, max_terms: int = 3) -> dict[int, str]:
    """One phrase per cluster from its standardized centroid, e.g. ``"high energy, low acousticness"``.

    The ``max_terms`` features whose centroid coordinate is furthest from the catalogue average
    (at least ``0.4`` standard deviations) are named; a cluster close to the average on every
    feature is ``"close to the catalogue average"``.
    """
    names = list(kmeans.get("feature_names") or [])
    return {c: describe_sound(centroid, names, max_terms=max_terms)
            for c, centroid in enumerate(kmeans.get("centroids") or [])}


def describe_sound(z: Sequence[float] | np.ndarray, names: Sequence[str], *, max_terms: int = 3) -> str:
    """Words for one standardized feature vector (a centroid, or one track's ``audio_features``
    row): its ``max_terms`` largest deviations of at least ``0.4`` standard deviations, e.g.
    ``"older, high acousticness, quiet"``; ``"close to the catalogue average"`` when none."""
    z = np.asarray(z, dtype=np.float64)
    order = np.argsort(-np.abs(z))
    terms = [_term(names[i], z[i]) for i in order[:max_terms] if i < len(names) and abs(z[i]) >= _NOTABLE_Z]
    return ", ".join(terms) if terms else "close to the catalogue average"


def map_sample(
    items: pd.DataFrame,
    *,
    n: int = 5000,
    listener: Iterable[str] = (),
    recommended: Iterable[str] = (),
    seed: int = 0,
) -> pd.DataFrame:
    """Rows for the 2-D cluster map: a seeded sample of ``n`` catalogue tracks plus every
    listener track and recommendation (``role`` = ``catalogue``, ``yours``, ``recommended``).

    Tracks without map coordinates are left out. Columns: ``track_id, name, artist, cluster,
    x, y, role``.
    """
    placed = items[items["x"].notna() & items["y"].notna()]
    rng = np.random.default_rng(seed)
    take = rng.choice(len(placed), size=min(n, len(placed)), replace=False) if len(placed) else np.empty(0, np.int64)
    role = pd.Series("catalogue", index=placed.index[np.sort(np.asarray(take, dtype=np.int64))])
    yours, recs = set(listener), set(recommended)
    role = pd.concat([role, pd.Series("yours", index=placed.index[placed["track_id"].isin(yours)])])
    role = pd.concat([role, pd.Series("recommended", index=placed.index[placed["track_id"].isin(recs)])])
    role = role[~role.index.duplicated(keep="last")]
    out = placed.loc[role.index, ["track_id", "name", "cluster", "x", "y"]].copy()
    out["artist"] = [", ".join(a) for a in placed.loc[role.index, "artists"]]
    out["role"] = role.to_numpy()
    return out.reset_index(drop=True)


def _term(feature: str, z: float) -> str:
    high, low = _WORDS.get(feature, (f"high {feature}", f"low {feature}"))
    return high if z > 0 else low


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    ok = ~np.isnan(values)
    if not ok.any() or weights[ok].sum() <= 0:
        return float("nan")
    return float(np.average(values[ok], weights=weights[ok]))


def _share(values: np.ndarray) -> np.ndarray:
    total = float(np.sum(values))
    return np.asarray(values, dtype=np.float64) / total if total > 0 else np.zeros(len(values))


def _top_names(lists: Sequence[Any], weights: np.ndarray, top: int) -> pd.DataFrame:
    counter: defaultdict[str, float] = defaultdict(float)  # summed weights per name
    for names, w in zip(lists, weights):
        for name in [] if names is None else list(names):
            if isinstance(name, str) and name:
                counter[name] += float(w)
    rows = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return pd.DataFrame(rows, columns=["name", "weight"])
