"""Validation of what callers hand the recommender: history weights, k, request options.

Errors are ``ValueError``s whose message names the offending track id or argument and value,
so the app can show them as a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from engine.serving.rerank import Filters, as_range

MAX_K = 500
#: Largest accepted raw weight: far above any real play count (Last.fm's max is ~352k), so a
#: larger value is a unit or parsing error, not listening.
MAX_WEIGHT = 1e7


def check_k(k: Any) -> int:
    """``k`` as an int in 1..MAX_K, else ValueError."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
        raise ValueError(f"k must be an integer in 1..{MAX_K}, got {k!r}")
    return int(k)


def check_weights(ids: Sequence[str], values: Sequence[Any]) -> np.ndarray:
    """Raw history weights as float64; ValueError naming the first bad one (≤ 0, NaN, inf,
    > MAX_WEIGHT, or not a number)."""
    try:
        weights = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        weights = None
    if weights is None or weights.ndim != 1:
        for tid, v in zip(ids, values):
            try:
                float(v)
            except (TypeError, ValueError):
                raise ValueError(f"history weight for track {tid!r} is {v!r}: not a number") from None
        raise ValueError("history weights must be numbers")
    bad = ~np.isfinite(weights) | (weights <= 0) | (weights > MAX_WEIGHT)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"history weight for track {ids[j]!r} is {values[j]!r}: weights must be finite, > 0 and <= {MAX_WEIGHT:g}"
        )
    return weights


@dataclass(frozen=True)
class Options:
    """One request's validated options (see ``Recommender.recommend`` for their meaning)."""

    k: int
    exclude_known: bool = True
    max_per_artist: int | None = 2
    filters: Filters = Filters()
    exclude_ids: tuple[str, ...] = ()
    exclude_artists: tuple[str, ...] = ()
    novelty: float = 0.0
    freshness: float = 0.0
    seed_tracks: tuple[str, ...] = ()
    seed_artists: tuple[str, ...] = ()
    seed_genres: tuple[str, ...] = ()
    seed_clusters: tuple[int, ...] = ()
    explain: bool = True

    @classmethod
    def build(
        cls,
        *,
        k: int,
        exclude_known: bool = True,
        max_per_artist: int | None = 2,
        year_range: tuple[int, int] | None = None,
        explicit: bool | None = None,
        energy_range: tuple[float, float] | None = None,
        clusters: Iterable[int] | None = None,
        exclude_ids: Iterable[str] = (),
        exclude_artists: Iterable[str] = (),
        novelty: float = 0.0,
        freshness: float = 0.0,
        seed_tracks: Iterable[str] = (),
        seed_artists: Iterable[str] = (),
        seed_genres: Iterable[str] = (),
        seed_clusters: Iterable[int] = (),
        explain: bool = True,
    ) -> "Options":
        """Validate keyword options; ValueError names the bad argument and value."""
        for name, value in (("novelty", novelty), ("freshness", freshness)):
            if not isinstance(value, (int, float, np.number)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if max_per_artist is not None and (
            isinstance(max_per_artist, bool) or not isinstance(max_per_artist, (int, np.integer)) or max_per_artist < 0
        ):
            raise ValueError(f"max_per_artist must be None or an integer >= 0, got {max_per_artist!r}")
        if explicit is not None and not isinstance(explicit, (bool, np.bool_)):
            raise ValueError(f"explicit must be None, True or False, got {explicit!r}")
        return cls(
            k=check_k(k),
            exclude_known=bool(exclude_known),
            max_per_artist=None if max_per_artist is None else int(max_per_artist),
            filters=Filters(
                year_range=as_range(year_range, "year_range"),
                explicit=None if explicit is None else bool(explicit),
                energy_range=as_range(energy_range, "energy_range"),
                # An empty selection (a cleared multiselect) means no cluster filter, like None.
                clusters=(tuple(int(c) for c in clusters) or None) if clusters is not None else None,
            ),
            exclude_ids=tuple(str(t) for t in exclude_ids),
            exclude_artists=tuple(str(a) for a in exclude_artists),
            novelty=float(novelty),
            freshness=float(freshness),
            seed_tracks=tuple(str(t) for t in seed_tracks),
            seed_artists=tuple(str(a) for a in seed_artists),
            seed_genres=tuple(str(g) for g in seed_genres),
            seed_clusters=tuple(int(c) for c in seed_clusters),
            explain=bool(explain),
        )
