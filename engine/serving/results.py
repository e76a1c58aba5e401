"""What the recommender returns: small frozen dataclasses the app renders (no numpy math here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

#: Which path produced a list of recommendations.
PATH_ALS = "als"
PATH_SEEDS = "cold-start:seeds"
PATH_POPULARITY = "cold-start:popularity"
#: The listener's artists (matched tracks and artist-only matches) carry the lists, with no
#: history track in the ALS model (engine.serving.lists).
PATH_ARTISTS = "artists"


class Contribution(NamedTuple):
    """One history track's part in a recommendation's ALS score (a NamedTuple: built by the
    hundred per request, and cheap that way).

    ``value`` is ``c_j · y_iᵀ W y_j`` (Hu–Koren–Volinsky 2008 §5); ``share`` is
    ``value / Σ_j |value_j|`` over the whole history, so shares of a positive score's main
    reasons are fractions of the evidence and negative evidence shows as a negative share.
    """

    track_id: str
    value: float
    share: float


class Reason(NamedTuple):
    """A content reason: ``kind`` is ``audio`` (cosine to the profile), ``genre``, ``artist``
    (a chosen artist), ``your_artist`` (an artist of the history), ``similar_artist`` (the
    history artist most like the track's), ``cluster`` or ``popularity``; ``detail`` is the
    matched value.

    Handed to the app as is (``Recommender.frame``'s ``reasons`` column), never flattened to
    a string: the cards word each kind themselves.
    """

    kind: str
    detail: str


@dataclass(frozen=True)
class Explanation:
    """Why one track was recommended.

    Attributes
    ----------
    because : tuple of Contribution
        ALS path: the history tracks contributing most, largest first.
    rest : float
        Sum of the contributions of the history tracks not listed in ``because``; so
        ``sum(c.value for c in because) + rest`` equals the item's ALS score (up to float error).
    cluster : int or None
        The track's audio cluster (None when it has no audio features).
    reasons : tuple of Reason
        Content reasons (cold-start paths).
    """

    because: tuple[Contribution, ...] = ()
    rest: float = 0.0
    cluster: int | None = None
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class Recommendations:
    """A ranked list of recommendations.

    Attributes
    ----------
    track_ids : tuple of str
        Recommended tracks, best first.
    scores : numpy.ndarray
        float64 model scores: the ALS preference ``y_iᵀx`` (path ``als``), the content score
        (``cold-start:seeds``) or the popularity prior (``cold-start:popularity``).
    rank_scores : numpy.ndarray
        The scores the list is ordered by: ``score − novelty·popularity + freshness·recency``.
    explanations : tuple of Explanation
        One per track.
    path : str
        ``als``, ``cold-start:seeds`` or ``cold-start:popularity``.
    unknown_ids : tuple of str
        History (and seed) track ids the bundle does not know: reported, not silently dropped.
    without_factors : tuple of str
        Known history tracks outside the ALS model (nobody played them in training): they
        did not enter the fold-in but counted as content seeds when the path is a cold start.
    unknown_seeds : tuple of str
        Seed artists, genres or clusters that matched nothing.
    indices : numpy.ndarray
        Row numbers of the tracks in the bundle's items table.
    """

    track_ids: tuple[str, ...]
    scores: np.ndarray
    rank_scores: np.ndarray
    explanations: tuple[Explanation, ...]
    path: str
    unknown_ids: tuple[str, ...] = ()
    without_factors: tuple[str, ...] = ()
    unknown_seeds: tuple[str, ...] = ()
    indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.track_ids)


@dataclass(frozen=True)
class SimilarSongs:
    """Tracks similar to one track.

    Attributes
    ----------
    track_ids : tuple of str
        SimilarSongs, most similar first (the query itself excluded).
    scores : numpy.ndarray
        Blended similarity (see ``Recommender.similar``).
    signals : tuple of str
        Which signal found each neighbour: ``factors`` (ALS co-listening) when the factor term
        contributes more to its blended score, else ``audio``.
    factor_sims, audio_sims : numpy.ndarray
        The two cosines (NaN where a side has no factors / no audio features).
    """

    query: str
    track_ids: tuple[str, ...]
    scores: np.ndarray
    signals: tuple[str, ...]
    factor_sims: np.ndarray
    audio_sims: np.ndarray
    indices: np.ndarray

    def __len__(self) -> int:
        return len(self.track_ids)


@dataclass(frozen=True)
class ListStats:
    """What a list says about itself: its share of new artists and its popularity percentile.

    ``share_new``: share of the tracks by artists absent from the history (0–1).
    ``popularity_percentile``: the median track's percentile of catalogue popularity (0–100).
    """

    share_new: float
    popularity_percentile: float


@dataclass(frozen=True)
class TasteLists:
    """The lists of one request (``Recommender.lists``): familiar, new and their blend at ``discovery``.

    ``familiar`` ("More from artists you love") and ``new`` ("New to you") hold up to k tracks
    each; ``blended`` is what ``Recommender.recommend`` returns for the same request. When the
    history names no artist of the catalogue, ``familiar`` and ``new`` are empty and
    ``blended`` is the cold-start list.
    """

    familiar: Recommendations
    new: Recommendations
    blended: Recommendations
    discovery: float
    stats: dict[str, ListStats] = field(default_factory=dict)
