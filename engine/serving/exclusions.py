"""What a listener leaves out of their taste: tracks, artists and time ranges ("untick").

A history is a mapping catalogue track id -> raw weight. :class:`Timeline` keeps the timed part
of those weights in a compact form (three numpy arrays, one entry per timed play or skip: the
catalogue track, epoch seconds, the signed weight it added after matching), so a time range can
be taken out exactly. :class:`Exclusions` is what the listener unticked; :func:`apply_exclusions`
returns what remains (:class:`TasteEdit`) with O(history) numpy work, so the lists re-fold at
once (``bench/taste_edit.py`` measures it).

The rules:

- an unticked **track** leaves the history;
- an unticked **artist** takes every history track that credits them (a feature counts: a
  track by "B feat. A" goes with A);
- an unticked **time range** ``[start, end)`` subtracts the weight of every timed entry inside
  it; a track left with no weight leaves. Untimed parts (top lists, saved tracks, likes) stay.
- a track that left the history is still known to the listener, so :meth:`TasteEdit.options`
  keeps it out of the recommendations; its artist's other tracks are not blocked (that is
  "Hide artist").

Exclusions live in the listener's session only; the app records each track that leaves as an
``exclude`` event (:mod:`engine.state.events`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

from engine.core.matching import CatalogIndex, HistoryItem, match_history
from engine.serving.listening import Listening
from engine.serving.options import Options
from engine.serving.recommender import Recommender

#: A weight at or below this after a time range is taken out is zero, and the track leaves: a
#: millionth of a play is rounding (``spotify.history`` rounds weights to 6 decimals), not taste.
MIN_WEIGHT = 1e-6


class TimedItem(HistoryItem, Protocol):
    """A matchable history item with the timed parts of its weight (``spotify.history.HistoryItem`` is one)."""

    @property
    def play_times(self) -> Sequence[float]: ...
    @property
    def play_weights(self) -> Sequence[float]: ...


@dataclass(frozen=True, eq=False)
class Timeline:
    """The timed part of a history, in catalogue track ids: entry ``e`` added ``weights[e]`` to
    ``track_ids[codes[e]]`` at ``epochs[e]`` (seconds since the epoch, UTC).

    About 20 bytes an entry; a 100,000-play export is 2 MB. Entries keep the matching's shares.
    An item matched by its artist alone counts for the artist (``Listening.artists``), not for a
    track, so it has no entries here: leaving out a time range lowers track weights only.
    """

    track_ids: tuple[str, ...] = ()
    codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))

    def __post_init__(self) -> None:
        """Check the three arrays are parallel and the codes in range (ValueError naming the field)."""
        n = len(self.codes)
        for name in ("epochs", "weights"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Timeline.{name} has {len(getattr(self, name))} entries, codes has {n}")
        if n and (int(self.codes.min()) < 0 or int(self.codes.max()) >= len(self.track_ids)):
            raise ValueError(f"Timeline.codes must index track_ids (0..{len(self.track_ids) - 1})")

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def from_items(cls, items: Iterable[TimedItem], index: CatalogIndex) -> "Timeline":
        """The timeline of history items, matched to the catalogue the way the history is.

        Each item is matched alone (``engine.core.matching.match_history`` treats items
        independently, so the shares are the ones of the whole history); its timed entries are
        scaled by the share of its weight each catalogue track received. Items with a weight
        that is not positive are not in the history, so none of their entries are kept.
        """
        ids: dict[str, int] = {}
        codes: list[np.ndarray] = []
        epochs: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for item in items:
            if not item.play_times or item.weight <= 0:
                continue
            times = np.asarray(item.play_times, dtype=np.float64)
            timed = np.asarray(item.play_weights, dtype=np.float64)
            if len(times) != len(timed):
                raise ValueError(f"history item {item.artist!r} – {item.title!r}: "
                                 f"{len(times)} play times but {len(timed)} play weights")
            for track_id, share in match_history([item], index).weights.items():
                code = ids.setdefault(track_id, len(ids))
                codes.append(np.full(len(times), code, dtype=np.int32))
                epochs.append(np.round(times).astype(np.int64))
                weights.append(timed * (share / item.weight))
        if not codes:
            return cls()
        return cls(tuple(ids), np.concatenate(codes), np.concatenate(epochs), np.concatenate(weights))

    def span(self) -> tuple[int, int] | None:
        """The first and last entry's epoch seconds (None when there is no entry)."""
        if not len(self):
            return None
        return int(self.epochs.min()), int(self.epochs.max())

    def within(self, periods: Sequence[tuple[int, int]]) -> np.ndarray:
        """Boolean mask of the entries inside any ``[start, end)`` of ``periods``."""
        inside = np.zeros(len(self), dtype=bool)
        for start, end in periods:
            inside |= (self.epochs >= start) & (self.epochs < end)
        return inside

    def plays(self) -> dict[str, int]:
        """Entries that added weight (plays, not skips) per track id."""
        counts = np.bincount(self.codes[self.weights > 0], minlength=len(self.track_ids))
        return {t: int(c) for t, c in zip(self.track_ids, counts.tolist()) if c}


def _period(value: tuple[int, int]) -> tuple[int, int]:
    try:
        start, end = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"a time range must be (start, end) epoch seconds, got {value!r}") from None
    if start >= end:
        raise ValueError(f"a time range must start before it ends, got {value!r}")
    return start, end


@dataclass(frozen=True)
class Exclusions:
    """What the listener unticked: catalogue track ids, artist ids, and ``[start, end)`` ranges
    of epoch seconds. Immutable: every change returns a new value (session state stays simple).
    """

    tracks: frozenset[str] = frozenset()
    artists: frozenset[str] = frozenset()
    periods: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        """Normalize to frozensets of str and sorted, distinct, checked ranges (ValueError names a bad one)."""
        set_ = object.__setattr__
        set_(self, "tracks", frozenset(str(t) for t in self.tracks))
        set_(self, "artists", frozenset(str(a) for a in self.artists))
        set_(self, "periods", tuple(sorted({_period(p) for p in self.periods})))

    def __bool__(self) -> bool:
        return bool(self.tracks or self.artists or self.periods)

    def with_track(self, track_id: str, *, keep: bool) -> "Exclusions":
        """Tick (``keep``) or untick one track."""
        tracks = self.tracks - {track_id} if keep else self.tracks | {track_id}
        return dataclasses.replace(self, tracks=tracks)

    def with_artist(self, artist_id: str, *, keep: bool) -> "Exclusions":
        """Tick (``keep``) or untick one artist."""
        artists = self.artists - {artist_id} if keep else self.artists | {artist_id}
        return dataclasses.replace(self, artists=artists)

    def with_period(self, period: tuple[int, int], *, keep: bool) -> "Exclusions":
        """Put back (``keep``) or leave out one time range."""
        p = _period(period)
        periods = [q for q in self.periods if q != p] if keep else [*self.periods, p]
        return dataclasses.replace(self, periods=tuple(periods))

    def summary(self) -> str:
        """``"2 artists, 1 song and 1 time range left out"`` (empty string when nothing is)."""
        parts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in
                 ((len(self.artists), "artist"), (len(self.tracks), "song"), (len(self.periods), "time range")) if n]
        if not parts:
            return ""
        return (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]) + " left out"


@dataclass(frozen=True)
class TasteEdit:
    """A history after :func:`apply_exclusions`: the weights that remain, the history tracks
    that left entirely, and those a time range only lowered."""

    history: Mapping[str, float]
    removed: tuple[str, ...] = ()
    lowered: tuple[str, ...] = ()

    def options(self, options: Options) -> Options:
        """``options`` that also keep the removed tracks out of the recommendations."""
        if not self.removed:
            return options
        return dataclasses.replace(options, exclude_ids=tuple(dict.fromkeys([*options.exclude_ids, *self.removed])))


def _keep_artists(history: Mapping[str, float], tracks: dict[str, float], exclusions: Exclusions) -> Mapping[str, float]:
    """``tracks``, with the artist-only weights of a :class:`Listening` ``history`` carried over
    (an unticked artist's dropped): an export matched mostly by artist keeps them."""
    if not isinstance(history, Listening) or not history.artists:
        return tracks
    return Listening(tracks, {a: w for a, w in history.artists.items() if a not in exclusions.artists})


def apply_exclusions(
    rec: Recommender,
    history: Mapping[str, float],
    exclusions: Exclusions,
    *,
    timeline: Timeline | None = None,
) -> TasteEdit:
    """The part of ``history`` (track id -> raw weight) that ``exclusions`` leaves in.

    Artists are read from ``rec``'s bundle (every credited artist of a track); tracks the bundle
    does not know keep their weight unless unticked by id. ``timeline`` holds the timed part
    of the weights; without one, time ranges change nothing.
    """
    ids = list(history)
    weights = np.fromiter((float(history[t]) for t in ids), dtype=np.float64, count=len(ids))
    if not exclusions or not ids:
        return TasteEdit(_keep_artists(history, dict(zip(ids, weights.tolist())), exclusions))
    drop = np.zeros(len(ids), dtype=bool)
    if exclusions.tracks:
        drop |= np.fromiter((t in exclusions.tracks for t in ids), dtype=bool, count=len(ids))
    if exclusions.artists:
        codes, _ = rec.content.artist_codes(sorted(exclusions.artists))
        codes = codes[np.isin(rec.arrays.artist_ids[codes], sorted(exclusions.artists))]  # ids, never a name
        by_artist = rec.content.items_of_artists(codes)
        rows = rec.index_of(ids)
        drop |= (rows >= 0) & np.isin(rows, by_artist)
    lowered = np.zeros(len(ids), dtype=bool)
    if exclusions.periods and timeline is not None and len(timeline):
        inside = timeline.within(exclusions.periods)
        if inside.any():
            position = {t: i for i, t in enumerate(ids)}
            where = np.fromiter((position.get(t, -1) for t in timeline.track_ids), dtype=np.int64,
                                count=len(timeline.track_ids))[timeline.codes[inside]]
            known = where >= 0
            taken = np.bincount(where[known], weights=timeline.weights[inside][known], minlength=len(ids))
            lowered = taken != 0
            weights = weights - taken
            drop |= weights <= MIN_WEIGHT
    kept = ~drop
    return TasteEdit(
        history=_keep_artists(history, {t: w for t, w, k in zip(ids, weights.tolist(), kept.tolist()) if k}, exclusions),
        removed=tuple(sorted(t for t, d in zip(ids, drop.tolist()) if d)),
        lowered=tuple(sorted(t for t, lo, k in zip(ids, lowered.tolist(), kept.tolist()) if lo and k)),
    )


class ArtistWeight(NamedTuple):
    """One artist of a history: id, display name, summed raw weight and number of tracks."""

    artist_id: str
    name: str
    weight: float
    tracks: int


def history_artists(rec: Recommender, history: Mapping[str, float]) -> list[ArtistWeight]:
    """Every artist credited on a history track the bundle knows, heaviest first (what can be
    unticked). A track counts fully for each of its artists."""
    ids = list(history)
    rows = rec.index_of(ids)
    known = rows >= 0
    rows = rows[known]
    w = np.fromiter((float(history[t]) for t, k in zip(ids, known.tolist()) if k), dtype=np.float64,
                    count=int(known.sum()))
    arrays = rec.arrays
    lengths = arrays.artist_ptr[rows + 1] - arrays.artist_ptr[rows]
    starts = np.repeat(arrays.artist_ptr[rows], lengths)
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    codes = arrays.artist_codes[starts + offsets]
    totals = np.bincount(codes, weights=np.repeat(w, lengths), minlength=len(arrays.artist_ids))
    counts = np.bincount(codes, minlength=len(arrays.artist_ids))
    present = np.flatnonzero(counts)
    order = present[np.lexsort((present, -totals[present]))]
    return [ArtistWeight(str(arrays.artist_ids[c]), str(arrays.artist_names[c]), float(totals[c]), int(counts[c]))
            for c in order.tolist()]
