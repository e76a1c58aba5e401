"""What callers hand the recommender: history weights and k checks, and the request (:class:`Options`).

Errors are ``ValueError``s whose message names the offending track id or argument and value,
so the app can show them as a sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.serving.rerank import Filters, as_range

MAX_K = 500
#: Largest accepted raw weight: far above any real play count (Last.fm's max is ~352k), so a
#: larger value is a unit or parsing error, not listening.
MAX_WEIGHT = 1e7
#: The familiarity <-> discovery dial's default: the share of a list's slots that go to artists
#: absent from the history (engine.serving.lists). Chosen on the real-listener evaluation
#: (``python -m engine evaluate --listeners``; README "Real listeners").
DEFAULT_DISCOVERY = 0.4


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
    """One recommendation request: how many tracks, filters, exclusions, re-ranking, seeds.

    The request object of ``Recommender.recommend`` / ``recommend_many``. Construction
    validates and normalizes every field (``__post_init__``): a bad value raises
    ``ValueError`` naming the argument and the value; collections (any iterable) are stored
    as tuples, ranges as ``(float, float)``, and :attr:`filters` is derived from them.

    Attributes
    ----------
    k : int
        Number of tracks, 1..500.
    exclude_known : bool
        Leave out tracks in the history (and chosen seed tracks).
    max_per_artist : int or None
        At most this many tracks per artist, counting every artist of a track (None/0: no cap).
    year_range, energy_range : (low, high), optional
        Inclusive ranges; tracks with the field unknown are left out when set.
    explicit : bool, optional
        None: no filter; False: clean tracks only; True: explicit tracks only.
    clusters : iterable of int, optional
        Keep only tracks in these audio clusters (empty: no filter, stored as None).
    exclude_ids, exclude_artists : iterable of str
        Tracks / artists (ids or names) never to recommend, e.g. dislikes.
    novelty, freshness : float
        ≥ 0. Ranking score = ``score − novelty·popularity + freshness·recency``, with
        popularity and recency (release year scaled to the catalogue's span) in [0, 1].
    seed_tracks, seed_artists, seed_genres, seed_clusters
        Choices made on the page; used when the history gives the ALS model nothing.
    explain : bool
        Compute explanations (skip for bulk evaluation).
    discovery : float or None
        The familiarity <-> discovery dial in [0, 1]: the share of the k slots given to tracks
        by artists absent from the history, the rest to unheard tracks of the listener's own
        artists (:mod:`engine.serving.lists`). None: the model's own ranking, no artist lists.

    Examples
    --------
    >>> Options(k=10, year_range=(1990, 2010), exclude_artists=["a7"]).filters.year_range
    (1990.0, 2010.0)
    """

    k: int = 20
    exclude_known: bool = True
    max_per_artist: int | None = 2
    year_range: tuple[float, float] | None = None
    explicit: bool | None = None
    energy_range: tuple[float, float] | None = None
    clusters: Sequence[int] | None = None
    exclude_ids: Sequence[str] = ()
    exclude_artists: Sequence[str] = ()
    novelty: float = 0.0
    freshness: float = 0.0
    seed_tracks: Sequence[str] = ()
    seed_artists: Sequence[str] = ()
    seed_genres: Sequence[str] = ()
    seed_clusters: Sequence[int] = ()
    explain: bool = True
    discovery: float | None = DEFAULT_DISCOVERY
    #: The filter fields as the re-ranker reads them (derived, not an argument).
    filters: Filters = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate every field (ValueError names the bad argument and value), then normalize."""
        for name, value in (("novelty", self.novelty), ("freshness", self.freshness)):
            if not isinstance(value, (int, float, np.number)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        dial = self.discovery
        if dial is not None and (isinstance(dial, bool) or not isinstance(dial, (int, float, np.number))
                                 or not np.isfinite(dial) or not 0 <= dial <= 1):
            raise ValueError(f"discovery must be None or a number in [0, 1], got {dial!r}")
        cap = self.max_per_artist
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 0):
            raise ValueError(f"max_per_artist must be None or an integer >= 0, got {cap!r}")
        if self.explicit is not None and not isinstance(self.explicit, (bool, np.bool_)):
            raise ValueError(f"explicit must be None, True or False, got {self.explicit!r}")
        set_ = object.__setattr__  # frozen: normalize in place, once, here
        set_(self, "k", check_k(self.k))
        set_(self, "exclude_known", bool(self.exclude_known))
        set_(self, "max_per_artist", None if cap is None else int(cap))
        set_(self, "year_range", as_range(self.year_range, "year_range"))
        set_(self, "explicit", None if self.explicit is None else bool(self.explicit))
        set_(self, "energy_range", as_range(self.energy_range, "energy_range"))
        # An empty selection (a cleared multiselect) means no cluster filter, like None.
        set_(self, "clusters", (tuple(int(c) for c in self.clusters) or None) if self.clusters is not None else None)
        set_(self, "exclude_ids", tuple(str(t) for t in self.exclude_ids))
        set_(self, "exclude_artists", tuple(str(a) for a in self.exclude_artists))
        set_(self, "novelty", float(self.novelty))
        set_(self, "freshness", float(self.freshness))
        set_(self, "seed_tracks", tuple(str(t) for t in self.seed_tracks))
        set_(self, "seed_artists", tuple(str(a) for a in self.seed_artists))
        set_(self, "seed_genres", tuple(str(g) for g in self.seed_genres))
        set_(self, "seed_clusters", tuple(int(c) for c in self.seed_clusters))
        set_(self, "explain", bool(self.explain))
        set_(self, "discovery", None if dial is None else float(dial))
        set_(self, "filters", Filters(year_range=self.year_range, explicit=self.explicit,
                                      energy_range=self.energy_range,
                                      clusters=None if self.clusters is None else tuple(self.clusters)))
