"""A listener's history as the recommender reads it: track weights plus artist weights.

One step turns any history (a Spotify history, a data export, a demo listener, an evaluation
case) into what ``Recommender.recommend`` takes: :func:`listening_from_history` matches the
items to the catalogue (:func:`engine.core.matching.match_history`) and keeps the positive
totals. The app (``webapp.listeners.listener_from_history``) and the real-listener evaluation
(:mod:`engine.evaluation.listeners`) both call it, so what is measured is what is served.

:class:`Listening` *is* a ``Mapping[str, float]`` of track id -> raw weight (so every caller
that passes a plain dict keeps working) and carries, beside it, the weights of artists matched
by name only (``artists``: catalogue artist id -> raw weight): an artist-only match is
evidence about the artist, not about one of their tracks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from engine.core.matching import CatalogIndex, HistoryItem, MatchResult, match_history


@dataclass(frozen=True, eq=False)
class Listening(Mapping[str, float]):
    """Track weights (the mapping itself) and artist-only weights (:attr:`artists`).

    Both hold raw, positive weights (play counts, decayed plays, ...); the recommender applies
    the bundle's confidence transform. Equal to a plain mapping of the same tracks when it
    carries no artist weights.
    """

    tracks: Mapping[str, float] = field(default_factory=dict)
    artists: Mapping[str, float] = field(default_factory=dict)

    def __getitem__(self, track_id: str) -> float:
        return self.tracks[track_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tracks)

    def __len__(self) -> int:
        return len(self.tracks)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Listening):
            return dict(self.tracks) == dict(other.tracks) and dict(self.artists) == dict(other.artists)
        if isinstance(other, Mapping):
            return not self.artists and dict(self.tracks) == dict(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable mappings inside: not hashable

    def __bool__(self) -> bool:
        return bool(self.tracks) or bool(self.artists)


def artist_weights_of(history: Mapping[str, float] | None) -> Mapping[str, float]:
    """The artist-only weights a history carries (none for a plain mapping of tracks)."""
    return history.artists if isinstance(history, Listening) else {}


def listening_from_match(result: MatchResult) -> Listening:
    """The positive track and artist totals of a match (the recommender takes positive weights)."""
    return Listening(
        tracks=result.positive_weights(),
        artists={a: w for a, w in result.artist_weights.items() if w > 0},
    )


def listening_from_history(items: Iterable[HistoryItem], index: CatalogIndex) -> tuple[Listening, MatchResult]:
    """Match history items to the catalogue: the :class:`Listening` to serve and the match itself."""
    result = match_history(items, index)
    return listening_from_match(result), result
