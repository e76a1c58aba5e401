"""Continue a playlist: its tracks as the history, the served ranking re-ranked toward the playlist.

The playlist is folded in as the history — every track weight 1 (:func:`playlist_history`;
``FitWeights.recent`` > 1 gives its last ``recent_n`` tracks more) — and every item with
factors is scored by the served model (``Recommender.score_items``: the exact ALS fold-in plus
the bundle's item-neighbour blend). That score, standardised over the scored items (``z``), is
re-ranked toward three things the playlist is made of::

    score_i = z_i + w_artist · artist_i + w_sound · sound_i + w_era · era_i

- ``artist_i``: the largest share of the playlist held by one of the item's artists (0–1).
  Tracks the catalogue lacks but whose artist it knows (artist-only matches) count for that
  artist.
- ``sound_i``: the share of the playlist's tracks in the item's audio cluster (0–1).
- ``era_i``: 1 inside the playlist's era (the 10th–90th percentile of its release years,
  widened by :data:`ERA_MARGIN` years), falling linearly to 0 :data:`ERA_FADE` years outside it;
  0 when the item's year is unknown.

The playlist's own tracks are never proposed, nor excluded ids or artists. Each pick says which
of the three it fits (:class:`Pick`): it shares an artist with the playlist; its cluster is one
of the playlist's dominant ones (holding at least :data:`SOUND_MIN_SHARE` of its tracks); its
year is inside the era. When no track of the playlist is in the model, the candidates are the
content path's (``Recommender.recommend`` with the tracks and artists as seeds), re-ranked the
same way. Deterministic: the same playlist and bundle give the same picks.

The weights were chosen on the demo listeners (README, "Extend my playlist"); on data without
artists, clusters or years (the synthetic playlists, HetRec artists) the terms are all 0 and
the continuation is the served model's ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from engine.serving.listening import Listening
from engine.serving.options import Options, check_k
from engine.serving.recommender import Recommender
from engine.serving.rerank import Filters, rerank
from engine.serving.results import PATH_ALS, Explanation, Reason, Recommendations

#: Years added on each side of the playlist's 10th–90th percentile range of release years.
ERA_MARGIN = 2
#: Years outside the era over which ``era_i`` falls from 1 to 0.
ERA_FADE = 10
#: A cluster is one of the playlist's sounds when it holds at least this share of its tracks.
SOUND_MIN_SHARE = 0.2
#: At most this many sounds and artists are named in a playlist's profile.
PROFILE_SIZE = 3
#: Candidates the content path proposes for re-ranking (a playlist with no track in the model).
CONTENT_POOL = 300
#: Reason kinds of a pick, in the order a card names them.
FIT_ARTIST, FIT_SOUND, FIT_ERA = "fits_artist", "fits_sound", "fits_era"
#: The continuation's path when the playlist has no track in the model.
PATH_CONTENT = "content"


@dataclass(frozen=True)
class FitWeights:
    """How much each fit term counts next to the standardised model score, and the last tracks' weight.

    ``recent`` is the weight of the playlist's last ``recent_n`` tracks (the others weigh 1), in
    the history folded in and in the shares the fit terms read. Under the bundle's ``binary``
    weight transform the fold-in sees every positive weight as 1, so there it moves only the
    fit terms.
    """

    artist: float = 2.0
    sound: float = 1.0
    era: float = 1.0
    recent: float = 1.0
    recent_n: int = 5

    def __post_init__(self) -> None:
        for name in ("artist", "sound", "era"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"FitWeights.{name} must be a finite number >= 0, got {value!r}")
        if not np.isfinite(self.recent) or self.recent <= 0:
            raise ValueError(f"FitWeights.recent must be a finite number > 0, got {self.recent!r}")
        if self.recent_n < 0:
            raise ValueError(f"FitWeights.recent_n must be >= 0, got {self.recent_n!r}")


#: The served weights (README, "Extend my playlist", says how they were chosen).
DEFAULT_WEIGHTS = FitWeights()
#: The served model's ranking alone (the evaluation's ablation row).
MODEL_ONLY = FitWeights(artist=0.0, sound=0.0, era=0.0)


@dataclass(frozen=True)
class Playlist:
    """A playlist as the continuation reads it.

    ``tracks``: catalogue track ids in playlist order (a repeat counts at its first place);
    ``artists``: artist-only matches (catalogue artist key -> number of such tracks);
    ``years``: release years of all its tracks as the source knows them (Spotify's album dates,
    which cover tracks the catalogue lacks); empty: the catalogue's years of ``tracks``.
    """

    tracks: tuple[str, ...]
    artists: Mapping[str, float] = field(default_factory=dict)
    years: tuple[int, ...] = ()

    @classmethod
    def from_listening(cls, listening: Mapping[str, float], *, years: Sequence[int] = ()) -> "Playlist":
        """A playlist from a matched history (``engine.serving.listening.Listening``, in playlist order)."""
        artists = listening.artists if isinstance(listening, Listening) else {}
        return cls(tuple(str(t) for t in listening), dict(artists), tuple(int(y) for y in years if y and y > 0))


@dataclass(frozen=True)
class PlaylistProfile:
    """What the playlist is made of, as the fit terms read it.

    ``artists``: ``(artist key, name, share)``, largest first (at most :data:`PROFILE_SIZE`);
    ``sounds``: ``(cluster, share)`` of its dominant clusters; ``era``: ``(first, last)`` year
    or None; ``n_tracks``: catalogue tracks folded in; ``n_in_model``: those with factors.
    """

    artists: tuple[tuple[str, str, float], ...]
    sounds: tuple[tuple[int, float], ...]
    era: tuple[int, int] | None
    n_tracks: int
    n_in_model: int


@dataclass(frozen=True)
class Pick:
    """One proposed continuation: its scores and what of the playlist it fits.

    ``fits`` holds :data:`FIT_ARTIST`, :data:`FIT_SOUND`, :data:`FIT_ERA` (in that order) for the
    terms it fits; ``artist`` is the playlist artist it shares (its name), ``cluster`` its sound.
    """

    track_id: str
    row: int
    score: float
    model: float
    fits: tuple[str, ...]
    artist: str | None
    cluster: int | None
    year: int


@dataclass(frozen=True)
class Continuation:
    """Picks best first, the playlist's profile, the path (``als`` or ``content``), unknown ids."""

    picks: tuple[Pick, ...]
    profile: PlaylistProfile
    path: str
    unknown: tuple[str, ...] = ()
    because: tuple[Explanation, ...] = ()

    @property
    def track_ids(self) -> tuple[str, ...]:
        """The picks' track ids, best first."""
        return tuple(p.track_id for p in self.picks)

    def recommendations(self) -> Recommendations:
        """The picks as :class:`Recommendations` (for ``Recommender.frame``): each explanation
        carries the model's contributions (when computed) and one :class:`Reason` per fit."""
        explanations = []
        for i, pick in enumerate(self.picks):
            base = self.because[i] if i < len(self.because) else Explanation(cluster=pick.cluster)
            reasons = tuple(Reason(kind, _fit_detail(kind, pick, self.profile)) for kind in pick.fits)
            explanations.append(Explanation(because=base.because, rest=base.rest, cluster=pick.cluster,
                                            reasons=reasons))
        return Recommendations(
            track_ids=self.track_ids,
            scores=np.array([p.model for p in self.picks], dtype=np.float64),
            rank_scores=np.array([p.score for p in self.picks], dtype=np.float64),
            explanations=tuple(explanations),
            path=self.path,
            unknown_ids=self.unknown,
            indices=np.array([p.row for p in self.picks], dtype=np.int64),
        )


def _fit_detail(kind: str, pick: Pick, profile: PlaylistProfile) -> str:
    if kind == FIT_ARTIST:
        return pick.artist or ""
    if kind == FIT_SOUND:
        return str(pick.cluster)
    return f"{profile.era[0]}–{profile.era[1]}" if profile.era else ""


# -- the history ------------------------------------------------------------------------------


def position_weights(n: int, weights: FitWeights = DEFAULT_WEIGHTS) -> np.ndarray:
    """One weight per playlist position: 1, and ``weights.recent`` for the last ``recent_n``."""
    out = np.ones(n, dtype=np.float64)
    if weights.recent != 1.0 and weights.recent_n and n:
        out[max(0, n - weights.recent_n):] = weights.recent
    return out


def playlist_history(playlist: Playlist, weights: FitWeights = DEFAULT_WEIGHTS) -> Listening:
    """The history folded in: each distinct track at its first position's weight, plus the artists."""
    tracks = list(dict.fromkeys(playlist.tracks))
    w = position_weights(len(tracks), weights)
    return Listening(tracks=dict(zip(tracks, w.tolist())),
                     artists={a: float(v) for a, v in playlist.artists.items() if v > 0})


# -- the fit terms ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    """One playlist's fit terms over every bundle row, and its profile."""

    artist: np.ndarray
    sound: np.ndarray
    era: np.ndarray
    share: np.ndarray
    known: np.ndarray
    profile: PlaylistProfile
    unknown: tuple[str, ...]
    sounds: frozenset[int]


def era_of(years: Sequence[int] | np.ndarray) -> tuple[int, int] | None:
    """The playlist's era: the 10th–90th percentile of its known years, widened by :data:`ERA_MARGIN`."""
    known = np.asarray([y for y in years if y and y > 0], dtype=np.float64)
    if not len(known):
        return None
    lo, hi = np.percentile(known, [10, 90])
    return int(np.floor(lo)) - ERA_MARGIN, int(np.ceil(hi)) + ERA_MARGIN


def era_fit(year: np.ndarray, era: tuple[int, int] | None) -> np.ndarray:
    """1 inside ``era``, falling linearly to 0 at :data:`ERA_FADE` years outside; 0 for year 0 (unknown)."""
    year = np.asarray(year, dtype=np.float64)
    if era is None:
        return np.zeros(len(year))
    distance = np.maximum(np.maximum(era[0] - year, year - era[1]), 0.0)
    out = np.clip(1.0 - distance / ERA_FADE, 0.0, 1.0)
    out[year <= 0] = 0.0
    return out


def _fit(rec: Recommender, playlist: Playlist, weights: FitWeights) -> _Fit:
    arrays = rec.arrays
    n = len(arrays.year)
    ids = list(dict.fromkeys(playlist.tracks))
    rows = rec.index_of(ids)
    unknown = tuple(t for t, r in zip(ids, rows) if r < 0)
    w = position_weights(len(ids), weights)[rows >= 0]
    rows = rows[rows >= 0].astype(np.int64)
    # Artist shares: every credited artist of a track gets the track's weight; artist-only
    # matches add theirs. Shares are of the playlist's total weight.
    n_artists = len(arrays.artist_ids)
    artist_w = np.zeros(n_artists)
    for row, weight in zip(rows.tolist(), w.tolist()):
        artist_w[arrays.artists_of(row)] += weight
    extra_total = 0.0
    for value, codes in zip(playlist.artists.values(), rec.content.artist_code_lists(list(playlist.artists))):
        if len(codes) and value > 0:
            artist_w[codes] += float(value) / len(codes)
            extra_total += float(value)
    total = float(w.sum()) + extra_total
    share = artist_w / total if total > 0 else artist_w
    artist = rec.artists.item_max(share, fill=0.0) if share.any() else np.zeros(n)
    # Sound: the share of the playlist's clustered tracks in each cluster.
    clusters = arrays.cluster[rows]
    has = clusters >= 0
    n_clusters = int(max(arrays.cluster.max(initial=-1) + 1, 0))
    cluster_share = np.zeros(n_clusters)
    if has.any():
        np.add.at(cluster_share, clusters[has], w[has])
        cluster_share /= cluster_share.sum()
    sound = np.where(arrays.cluster >= 0, cluster_share[np.clip(arrays.cluster, 0, None)] if n_clusters else 0.0, 0.0)
    order = np.argsort(-cluster_share, kind="stable")
    dominant = [int(c) for c in order[:PROFILE_SIZE] if cluster_share[c] >= SOUND_MIN_SHARE]
    if not dominant and has.any():
        dominant = [int(order[0])]
    # Era: the source's years of every track when given, else the catalogue's.
    years = playlist.years or tuple(int(y) for y in arrays.year[rows] if y > 0)
    era = era_of(years)
    top_artists = np.argsort(-share, kind="stable")[:PROFILE_SIZE]
    profile = PlaylistProfile(
        artists=tuple((str(arrays.artist_ids[a]), str(arrays.artist_names[a] or arrays.artist_ids[a]), float(share[a]))
                      for a in top_artists.tolist() if share[a] > 0),
        sounds=tuple((c, float(cluster_share[c])) for c in dominant),
        era=era,
        n_tracks=len(rows),
        n_in_model=int(arrays.has_factors[rows].sum()),
    )
    return _Fit(artist=artist, sound=np.asarray(sound, dtype=np.float64), era=era_fit(arrays.year, era),
                share=share, known=rows, profile=profile, unknown=unknown, sounds=frozenset(dominant))


def _standardised(values: np.ndarray) -> np.ndarray:
    std = float(values.std()) if len(values) > 1 else 0.0
    return (values - float(values.mean())) / std if std > 0 else np.zeros(len(values))


# -- scoring ----------------------------------------------------------------------------------


def model_scores(rec: Recommender, playlists: Sequence[Playlist], weights: FitWeights = DEFAULT_WEIGHTS) -> tuple[np.ndarray, list[str]]:
    """Standardised served-model scores ``[len(playlists), n_items]`` (``-inf``: not a candidate) and each path.

    Items with factors are scored by ``Recommender.score_items`` (one batched fold-in); a
    playlist with no track in the model gets the content path's :data:`CONTENT_POOL` candidates.
    """
    n = len(rec.arrays.year)
    rows = np.flatnonzero(rec.arrays.has_factors)
    histories = [playlist_history(p, weights) for p in playlists]
    warm = [i for i, h in enumerate(histories) if rec.arrays.has_factors[_rows(rec, h)].any()]
    out = np.full((len(playlists), n), -np.inf)
    paths = [PATH_CONTENT] * len(playlists)
    if warm and len(rows):
        scored = rec.score_items([histories[i] for i in warm], rows)
        for j, i in enumerate(warm):
            out[i, rows] = _standardised(scored[j])
            paths[i] = PATH_ALS
    for i, history in enumerate(histories):
        if paths[i] == PATH_CONTENT:
            cold = rec.recommend(history, Options(
                k=CONTENT_POOL, max_per_artist=None, discovery=None, explain=False,
                seed_tracks=tuple(history), seed_artists=tuple(history.artists)))
            if len(cold):
                out[i, cold.indices] = _standardised(np.asarray(cold.scores, dtype=np.float64))
    return out, paths


def _rows(rec: Recommender, history: Mapping[str, float]) -> np.ndarray:
    rows = rec.index_of(list(history))
    return rows[rows >= 0]


@dataclass(frozen=True)
class FitTerms:
    """One playlist's three fit terms over every bundle row (float32) and its own rows (never proposed)."""

    artist: np.ndarray
    sound: np.ndarray
    era: np.ndarray
    known: np.ndarray


def fit_terms(rec: Recommender, playlist: Playlist, weights: FitWeights = DEFAULT_WEIGHTS) -> FitTerms:
    """The fit terms of ``playlist`` (they depend on ``weights.recent`` only, not on the term weights)."""
    fit = _fit(rec, playlist, weights)
    return FitTerms(fit.artist.astype(np.float32), fit.sound.astype(np.float32), fit.era.astype(np.float32), fit.known)


def combine(model: np.ndarray, terms: FitTerms, weights: FitWeights) -> np.ndarray:
    """``z + w_artist·artist + w_sound·sound + w_era·era`` over every row, the playlist's own rows ``-inf``."""
    out = np.array(model, dtype=np.float64, copy=True)
    for w, term in ((weights.artist, terms.artist), (weights.sound, terms.sound), (weights.era, terms.era)):
        if w:
            out += w * term
    out[terms.known] = -np.inf
    return out


def continuation_scores(rec: Recommender, playlists: Sequence[Playlist], weights: FitWeights = DEFAULT_WEIGHTS) -> np.ndarray:
    """Final scores ``[len(playlists), n_items]`` as served (``-inf``: known, or not a candidate)."""
    model, _ = model_scores(rec, playlists, weights)
    return np.stack([combine(m, fit_terms(rec, p, weights), weights) for m, p in zip(model, playlists)]) \
        if len(playlists) else model


def continue_playlist(
    rec: Recommender,
    playlist: Playlist,
    *,
    k: int = 20,
    weights: FitWeights = DEFAULT_WEIGHTS,
    max_per_artist: int | None = 2,
    exclude_ids: Sequence[str] = (),
    exclude_artists: Sequence[str] = (),
    explain: bool = True,
) -> Continuation:
    """Propose ``k`` tracks that continue ``playlist`` (see the module doc), each with what it fits.

    ``max_per_artist`` caps the picks per artist (None: no cap); ``exclude_ids`` /
    ``exclude_artists`` (ids or names: the listener's dislikes) are never proposed. With
    ``explain`` each pick also carries the playlist tracks contributing most to its model score.
    """
    k = check_k(k)
    model, paths = model_scores(rec, [playlist], weights)
    fit = _fit(rec, playlist, weights)
    scores = combine(model[0], FitTerms(fit.artist, fit.sound, fit.era, fit.known), weights)
    if exclude_ids:
        found = rec.index_of(list(exclude_ids))
        scores[found[found >= 0]] = -np.inf
    if exclude_artists:
        codes, _ = rec.content.artist_codes(exclude_artists)
        scores[rec.content.items_of_artists(codes)] = -np.inf
    ranked = rerank(scores, rec.arrays, k=k, filters=Filters(), max_per_artist=max_per_artist)
    arrays = rec.arrays
    picks = []
    for row, score in zip(ranked.items.tolist(), ranked.scores.tolist()):
        fits = []
        shared = _shared_artist(rec, row, fit)
        if fit.artist[row] > 0:
            fits.append(FIT_ARTIST)
        cluster = int(arrays.cluster[row])
        if cluster >= 0 and cluster in fit.sounds:
            fits.append(FIT_SOUND)
        if fit.era[row] >= 1.0:
            fits.append(FIT_ERA)
        picks.append(Pick(track_id=str(rec.bundle.items["track_id"].iat[row]), row=int(row), score=float(score),
                          model=float(model[0, row]), fits=tuple(fits), artist=shared,
                          cluster=cluster if cluster >= 0 else None, year=int(arrays.year[row])))
    because: tuple[Explanation, ...] = ()
    history = playlist_history(playlist, weights)
    if explain and picks and paths[0] == PATH_ALS:
        because = rec.explain_many(history, [p.track_id for p in picks], top=2)
    return Continuation(picks=tuple(picks), profile=fit.profile, path=paths[0], unknown=fit.unknown,
                        because=because)


def _shared_artist(rec: Recommender, row: int, fit: _Fit) -> str | None:
    """The name of the item's artist with the largest share of the playlist (None: it shares none)."""
    codes = rec.arrays.artists_of(row)
    if not len(codes) or fit.artist[row] <= 0:
        return None
    best = int(codes[np.argmax(fit.share[codes])])  # the first of equal shares
    return str(rec.arrays.artist_names[best] or rec.arrays.artist_ids[best])
