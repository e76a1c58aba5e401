"""The listens behind a recommendation: which history tracks and artists its score comes from.

:meth:`Recommender.explain_many` splits a recommendation's score into one contribution per history
track (Hu, Koren & Volinsky 2008 §5, plus the neighbour part of a blended bundle;
:mod:`engine.serving.explain`). :func:`listens_behind` lists the largest of them with the
listener's own numbers (the track's raw weight and, when the source has times, its plays), and
sums them per artist: each history track is credited to its first (main) artist, so the artists'
values add up too. For every :class:`Listens`::

    sum(t.value for t in tracks) + other_tracks == total == sum(a.value for a in artists) + other_artists

and ``total`` is the explanation's ``sum(because) + rest`` — the recommendation's score (minus the
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
    explanations = rec.explain_many(history, track_ids, top=None)
    arrays = rec.arrays
    out = []
    for track_id, explanation in zip(track_ids, explanations):
        contribs = explanation.because
        total = float(sum(c.value for c in contribs) + explanation.rest)
        if not contribs:
            out.append(Listens(str(track_id), total))
            continue
        ids = [c.track_id for c in contribs]
        values = np.array([c.value for c in contribs], dtype=np.float64)
        tracks = tuple(
            TrackListen(t, float(v), float(history[t]), None if plays is None else int(plays.get(t, 0)) or None)
            for t, v in zip(ids[:top], values[:top].tolist())  # ``because`` is sorted, largest first
        )
        rows = rec.index_of(ids)
        starts, ends = arrays.artist_ptr[rows], arrays.artist_ptr[rows + 1]
        credited = ends > starts
        main = arrays.artist_codes[starts[credited]]
        by_artist = np.bincount(main, weights=values[credited], minlength=len(arrays.artist_ids))
        n_tracks = np.bincount(main, minlength=len(arrays.artist_ids))
        present = np.flatnonzero(n_tracks)
        order = present[np.lexsort((present, -by_artist[present]))][:top]
        artists = tuple(
            ArtistListen(str(arrays.artist_ids[a]), str(arrays.artist_names[a]), float(by_artist[a]), int(n_tracks[a]))
            for a in order.tolist()
        )
        out.append(Listens(
            track_id=str(track_id), total=total, tracks=tracks, artists=artists,
            other_tracks=total - float(sum(t.value for t in tracks)),
            other_artists=total - float(sum(a.value for a in artists)),
        ))
    return tuple(out)
