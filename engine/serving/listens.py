"""The listens behind a recommendation: which history tracks and artists its score comes from.

:meth:`Recommender.contributions` splits a recommendation's score into one contribution per history
track (Hu, Koren & Volinsky 2008 §5, plus the neighbour part of a blended bundle;
:mod:`engine.serving.explain`). :func:`listens_behind` lists the largest of them with the
listener's own numbers (the track's raw weight and, when the source has times, its plays), and
sums them per artist: each history track is credited to its first (main) artist, so the artists'
values add up too. For every :class:`Listens`::

    sum(t.value for t in tracks) + other_tracks == total == sum(a.value for a in artists) + other_artists

and ``total`` is :meth:`Recommender.explain`'s ``sum(because) + rest`` — the recommendation's score (minus the
popularity prior's part of a blended bundle, which no listen explains).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from engine.serving.recommender import Recommender


class TrackListen(NamedTuple):
    """One history track behind a recommendation: its contribution to the score, its raw
    weight in the history, and its plays (None when the source has no play times)."""

    track_id: str
    value: float
    weight: float
    plays: int | None


class ArtistListen(NamedTuple):
    """One artist behind a recommendation: the summed contribution of the history tracks whose
    main artist they are, and how many of those tracks contribute."""

    artist_id: str
    name: str
    value: float
    tracks: int


@dataclass(frozen=True)
class Listens:
    """The listens behind one recommended track (see the module docstring for the sums)."""

    track_id: str
    total: float
    tracks: tuple[TrackListen, ...] = ()
    artists: tuple[ArtistListen, ...] = ()
    other_tracks: float = 0.0
    other_artists: float = 0.0

    def share(self, value: float) -> float:
        """``value`` as a fraction of :attr:`total` (0 when the total is 0)."""
        return value / self.total if self.total else 0.0


def listens_behind(
    rec: Recommender,
    history: Mapping[str, float],
    track_ids: Sequence[str],
    *,
    plays: Mapping[str, int] | None = None,
    top: int = 3,
) -> tuple[Listens, ...]:
    """The ``top`` history tracks and artists behind each of ``track_ids`` (one fold-in for all).

    ``history`` must be the one the recommendations were made from (after exclusions, likes,
    ...); ``plays`` maps history track ids to play counts (``Timeline.plays()``). Raises
    ``ValueError`` for a track id the bundle does not know.
    """
    ids, contrib = rec.contributions(history, track_ids)
    if not ids:
        return tuple(Listens(str(t), 0.0) for t in track_ids)
    history_ids = np.asarray(ids, dtype=object)
    totals = contrib.sum(axis=1)
    # Each history track's main (first) artist; tracks without one count in ``other_artists``.
    arrays = rec.arrays
    rows = rec.index_of(ids)
    starts, ends = arrays.artist_ptr[rows], arrays.artist_ptr[rows + 1]
    credited = np.flatnonzero(ends > starts)
    main = arrays.artist_codes[starts[credited]].astype(np.int64)
    artist_codes, artist_of = np.unique(main, return_inverse=True)
    n_tracks = np.bincount(artist_of, minlength=len(artist_codes))
    by_artist = np.zeros((len(track_ids), len(artist_codes)))
    for r in range(len(track_ids)):  # one bincount per card (20 on a page)
        by_artist[r] = np.bincount(artist_of, weights=contrib[r, credited], minlength=len(artist_codes))
    width_t, width_a = min(top, len(ids)), min(top, len(artist_codes))
    out = []
    for r, track_id in enumerate(track_ids):
        total = float(totals[r])
        if not contrib[r].any():
            out.append(Listens(str(track_id), total))
            continue
        best = _largest(contrib[r], width_t)
        tracks = tuple(
            TrackListen(t, v, float(history[t]), None if plays is None else int(plays.get(t, 0)) or None)
            for t, v in zip(history_ids[best].tolist(), contrib[r, best].tolist())
        )
        best_a = _largest(by_artist[r], width_a)
        artists = tuple(
            ArtistListen(str(arrays.artist_ids[c]), str(arrays.artist_names[c]), v, int(n))
            for c, v, n in zip(artist_codes[best_a].tolist(), by_artist[r, best_a].tolist(), n_tracks[best_a].tolist())
        )
        out.append(Listens(
            track_id=str(track_id), total=total, tracks=tracks, artists=artists,
            other_tracks=total - float(contrib[r, best].sum()),
            other_artists=total - float(by_artist[r, best_a].sum()),
        ))
    return tuple(out)


def _largest(values: np.ndarray, width: int) -> np.ndarray:
    """Positions of the ``width`` largest values, largest first (ties: lower position first)."""
    if width <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-values, width - 1)[:width] if width < len(values) else np.arange(len(values))
    return part[np.lexsort((part, -values[part]))]
