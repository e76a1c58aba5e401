"""Catalogue lookups the pages need, over a ``Recommender``'s bundle (no Streamlit here).

Plain-text labels for widgets, fuzzy search results, the first artists of chosen songs, and
tables of tracks in the column layout the cards and the Playlists page read (the columns of
``Recommender.frame``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.core.matching import CatalogIndex
from engine.serving.recommender import Recommender
from engine.serving.results import Reason, SimilarSongs
from engine.serving.similar_songs import METHOD_HYBRID, METHOD_LABELS, merge_neighbours
from engine.serving.taste import describe_sound

#: Why a neighbour was found, in words (``SimilarSongs.signals``).
SIGNAL_REASONS = {"factors": "Listened to by the same people", "audio": "Sounds alike, same genres or artist"}


def track_label(row: pd.Series) -> str:
    """``"Artist, Artist – Title (1999)"`` for an items row (plain text, for widget options)."""
    artists = ", ".join(list(row["artists"])[:2]) if row["artists"] is not None else ""
    year = int(row["year"]) if pd.notna(row["year"]) and row["year"] > 0 else None
    return f"{artists} – {row['name']}" + (f" ({year})" if year else "")


def search(rec: Recommender, index: CatalogIndex, query: str, *, limit: int = 8) -> list[tuple[str, str]]:
    """``(track_id, label)`` pairs for a typed "artist title" query, best first."""
    ids = [t for t, _ in index.search(query, limit=limit)]
    rows = rec.bundle.items.iloc[rec.index_of(ids)] if ids else rec.bundle.items.iloc[:0]
    return [(t, track_label(row)) for t, (_, row) in zip(ids, rows.iterrows())]


def labels_of(rec: Recommender, track_ids: Sequence[str]) -> dict[str, str]:
    """Labels of catalogue tracks (an unknown id maps to itself)."""
    items = rec.bundle.items
    return {t: (track_label(items.iloc[i]) if i >= 0 else t) for t, i in zip(track_ids, rec.index_of(track_ids))}


def first_artists(rec: Recommender, track_ids: Sequence[str]) -> list[str]:
    """The first artist of each track (its id when the bundle has one, else its name), no repeats."""
    items = rec.bundle.items
    out = []
    for i in rec.index_of(track_ids):
        if i >= 0:
            key = _first(items["artist_ids"].iloc[i]) or _first(items["artists"].iloc[i])
            if key:
                out.append(key)
    return list(dict.fromkeys(out))


def track_sound(rec: Recommender, track_id: str) -> str | None:
    """Words for one track's own audio features (``"older, high acousticness, quiet"``), or None
    for a track the bundle has no audio for. Not its cluster's centroid: a 1966 song in a
    cluster of mostly recent hits is still called older."""
    i = int(rec.index_of([track_id])[0])
    b = rec.bundle
    if i < 0 or not bool(b.items["has_audio"].iat[i]):
        return None
    return describe_sound(b.audio_features[i], list(b.kmeans.get("feature_names") or []))


def tracks_frame(rec: Recommender, track_ids: Sequence[str]) -> pd.DataFrame:
    """``track_id, name, artists, artist_ids, year, cluster`` of known tracks, in the given order."""
    idx = rec.index_of(track_ids)
    items = rec.bundle.items.iloc[idx[idx >= 0]]
    return pd.DataFrame({
        "track_id": items["track_id"].to_list(),
        "name": items["name"].to_list(),
        "artists": [list(a) if a is not None else [] for a in items["artists"]],
        "artist_ids": [list(a) if a is not None else [] for a in items["artist_ids"]],
        "year": items["year"].to_list(),
        "cluster": items["cluster"].to_list(),
    })


def neighbours_frame(rec: Recommender, out: SimilarSongs, *, stored: dict[str, list[tuple[str, float]]] | None = None,
                     k: int | None = None) -> pd.DataFrame:
    """``Recommender.similar`` results (merged with ``stored`` neighbours by method, see
    ``engine.serving.similar_songs.merge_neighbours``) as card rows; ``reasons`` say which signal found each
    (a ``similar`` :class:`~engine.serving.results.Reason`) and which methods (``method``), ``methods`` lists
    the methods by name."""
    lists = {METHOD_HYBRID: list(zip(out.track_ids, out.scores.tolist())), **(stored or {})}
    merged = merge_neighbours(lists, k or len(out.track_ids), exclude=[out.query])
    live = {t: (s, score) for t, s, score in zip(out.track_ids, out.signals, out.scores.tolist())}
    frame = tracks_frame(rec, [m.track_id for m in merged])
    known = {m.track_id: m for m in merged}
    rows = [known[t] for t in frame["track_id"]]
    frame["score"] = [m.score for m in rows]
    frame["methods"] = [list(m.methods) for m in rows]
    frame["because"] = [[] for _ in rows]
    frame["reasons"] = [
        ([Reason("similar", f"{SIGNAL_REASONS.get(live[m.track_id][0], live[m.track_id][0])} ({live[m.track_id][1]:.2f})")]
         if m.track_id in live else [])
        + [Reason("method", f"Found by {', '.join(METHOD_LABELS.get(x, x) for x in m.methods)}")]
        for m in rows
    ]
    return frame


def _first(values: Sequence[Any] | np.ndarray | None) -> str | None:
    """The first non-empty entry of a list-like cell (None, [] and arrays all handled)."""
    if values is None or not len(values) or not values[0]:
        return None
    return str(values[0])
