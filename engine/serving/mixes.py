"""Mixes by taste: one mix per audio cluster that holds a real share of the listener's history.

Spotify's Daily Mix idea, made visible. For a history (track id -> raw weight, plus the
artist-only matches of a :class:`~engine.serving.listening.Listening`):

1. **Where the history lies** (:func:`cluster_shares`): each known history track gives its
   weight to its KMeans audio cluster; an artist-only match spreads its weight evenly over the
   artist's catalogue tracks (so over their clusters). A cluster's *share* is its weight over
   the weight of every clustered history entry — the numbers of the "Your taste" page's
   cluster mix, plus the artist-only matches.
2. **Which clusters get a mix** (:func:`mix_clusters`): those with at least ``MIN_SHARE`` of the
   weight and ``MIN_ENTRIES`` history entries (tracks, or artist-only matches with a track
   there), largest share first (ties by cluster id), at most ``MAX_MIXES``.
3. **Its name** (:func:`mix_name`): the cluster's words (``engine.serving.taste.describe_clusters``,
   what Explore and Your taste call it) and the top genres of the history in that cluster,
   e.g. ``"Low energy, quiet, high acousticness · folk, indie folk"``.
4. **Its tracks** (:func:`build_mix`; steps 1–3 are :func:`plan_mixes`, with no
   recommendation request): ``Recommender.lists`` over the part of the history in that cluster
   (:meth:`ClusterShares.history`: its tracks, and the artist-only matches' weight there), with
   the request's cluster filter set to the cluster and the history's other artists excluded.
   So the familiar part is "More from artists you love" for the listener's artists *in that
   sound* (their unheard tracks there, most-played artists first, at most two per artist),
   followed, when those run short, by the listener's other artists' songs in that sound (a
   second request over the whole history, the cluster's artists left out); the new part is
   "New to you" (one track per artist absent from the whole history, the served ranking for
   new artists) restricted to the cluster; the model score behind both is the fold-in of that
   part of the history. Known tracks are masked as in every list. :func:`mix_order` takes up
   to ``MIX_SIZE`` tracks with ``NEW_SHARE`` of them new, spread along the mix; when the
   listener's artists have too few other songs in that sound, new ones fill the mix up to
   ``MIN_SIZE`` tracks (and the mix says its share of new artists, like every list).

Deterministic: the same bundle, history and options give the same mixes in the same order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.serving.listening import Listening, artist_weights_of
from engine.serving.lists import FAMILIAR, NEW
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from engine.serving.results import ListStats, Recommendations
from engine.serving.taste import describe_clusters

#: A cluster needs this share of the (clustered) history weight ...
MIN_SHARE = 0.08
#: ... and this many history entries (tracks, or artist-only matches with a track in it).
MIN_ENTRIES = 3
#: At most this many mixes (Spotify shows up to six Daily Mixes).
MAX_MIXES = 6
#: Tracks per mix, the share of them by artists absent from the history, and the length a mix
#: is filled up to with new artists when the listener's own artists run short in that sound.
MIX_SIZE = 20
NEW_SHARE = 0.25
MIN_SIZE = 10
#: Genres named in a mix's name.
NAME_GENRES = 2
#: At most this many tracks per artist in a mix.
MAX_PER_ARTIST = 2


@dataclass(frozen=True)
class ClusterShares:
    """Where one history lies among the audio clusters.

    ``weight[c]``: history weight in cluster ``c``; ``entries[c]``: history tracks (and
    artist-only matches) with weight there; ``genres[c]``: genre -> weight of the history in
    ``c`` (a track's weight counts fully for each of its genres); ``tracks[c]`` / ``artists[c]``:
    the history's tracks in ``c`` and the artist-only matches' weight there (see
    :meth:`history`). ``share`` is ``weight`` over its sum (zeros for an empty history).
    """

    weight: np.ndarray
    entries: np.ndarray
    genres: tuple[dict[str, float], ...]
    tracks: tuple[dict[str, float], ...] = ()
    artists: tuple[dict[str, float], ...] = ()

    @property
    def share(self) -> np.ndarray:
        """Each cluster's share of the clustered history weight (sums to 1, or all 0)."""
        total = float(self.weight.sum())
        return self.weight / total if total > 0 else np.zeros(len(self.weight))

    def history(self, cluster: int) -> Listening:
        """The part of the history in ``cluster``: its tracks with their weights, and each
        artist-only match with the part of its weight its tracks there carry."""
        tracks = self.tracks[cluster] if cluster < len(self.tracks) else {}
        artists = self.artists[cluster] if cluster < len(self.artists) else {}
        return Listening(tracks=dict(tracks), artists=dict(artists))

    def top_genres(self, cluster: int, n: int = NAME_GENRES) -> tuple[str, ...]:
        """The ``n`` heaviest genres of the history in ``cluster`` (ties by name)."""
        ranked = sorted(self.genres[cluster].items(), key=lambda kv: (-kv[1], kv[0]))
        return tuple(g for g, _ in ranked[:n])


@dataclass(frozen=True)
class MixPlan:
    """What a mix is before its tracks (cheap: no recommendation request): its cluster, name,
    the cluster's words and top genres, its share of the history and entries there, and
    ``history``, the part of the history in the cluster (:meth:`ClusterShares.history`)."""

    cluster: int
    name: str
    sound: str
    genres: tuple[str, ...]
    share: float
    entries: int
    history: Listening = dataclasses.field(compare=False, repr=False, default_factory=Listening)


@dataclass(frozen=True)
class Mix:
    """One mix: its :class:`MixPlan` and its tracks.

    ``tracks`` is a :class:`~engine.serving.results.Recommendations` (explanations and reasons
    as in the lists, so ``Recommender.frame`` renders it like any list); ``new`` marks the
    tracks by artists absent from the history; ``stats`` is what the lists say about themselves.
    """

    plan: MixPlan
    tracks: Recommendations
    new: tuple[bool, ...]
    stats: ListStats

    @property
    def cluster(self) -> int:
        """The mix's audio cluster."""
        return self.plan.cluster

    @property
    def name(self) -> str:
        """The mix's name (:func:`mix_name`)."""
        return self.plan.name

    @property
    def sound(self) -> str:
        """The cluster's words."""
        return self.plan.sound

    @property
    def genres(self) -> tuple[str, ...]:
        """The history's top genres in the cluster."""
        return self.plan.genres

    @property
    def share(self) -> float:
        """The cluster's share of the history."""
        return self.plan.share

    @property
    def entries(self) -> int:
        """History tracks and artist-only matches in the cluster."""
        return self.plan.entries

    def __len__(self) -> int:
        return len(self.tracks)


def cluster_shares(rec: Recommender, history: Mapping[str, float]) -> ClusterShares:
    """:class:`ClusterShares` of ``history`` over ``rec``'s bundle (unknown ids are ignored)."""
    arrays = rec.arrays
    k = _n_clusters(rec)
    weight, entries = np.zeros(k), np.zeros(k, dtype=np.int64)
    genres: list[dict[str, float]] = [{} for _ in range(k)]
    tracks: list[dict[str, float]] = [{} for _ in range(k)]
    artists: list[dict[str, float]] = [{} for _ in range(k)]
    column = rec.bundle.items["genres"] if "genres" in rec.bundle.items.columns else None

    def add(rows: np.ndarray, w: float) -> np.ndarray:
        """Spread ``w`` evenly over ``rows``; the weight each cluster got."""
        clusters = arrays.cluster[rows]
        ok = (clusters >= 0) & (clusters < k)
        rows, clusters = rows[ok], clusters[ok]
        got = np.zeros(k)
        if not len(rows):
            return got
        each = w / len(rows)
        np.add.at(got, clusters, each)
        weight[:] += got
        entries[np.unique(clusters)] += 1
        for row, c in zip(rows.tolist(), clusters.tolist()):
            cell = column.iat[row] if column is not None else None
            for genre in [] if cell is None else list(cell):
                if isinstance(genre, str) and genre:
                    genres[c][genre] = genres[c].get(genre, 0.0) + each
        return got

    ids = [str(t) for t in history]
    for track, row in zip(ids, rec.index_of(ids).tolist()):
        w = float(history[track])
        if row >= 0 and w > 0:
            for c in np.flatnonzero(add(np.array([row]), w)).tolist():
                tracks[c][track] = w
    named = artist_weights_of(history)
    for (artist, value), codes in zip(named.items(), rec.content.artist_code_lists(list(named))):
        w = float(value)
        for code in codes:  # a name shared by several artists: split as the recommender does
            if w > 0:
                got = add(rec.content.items_of_artists(np.array([code])), w / len(codes))
                for c in np.flatnonzero(got).tolist():
                    artists[c][artist] = artists[c].get(artist, 0.0) + float(got[c])
    return ClusterShares(weight, entries, tuple(genres), tuple(tracks), tuple(artists))


def mix_clusters(
    shares: ClusterShares, *, min_share: float = MIN_SHARE, min_entries: int = MIN_ENTRIES, limit: int = MAX_MIXES
) -> list[int]:
    """Clusters that get a mix: share ≥ ``min_share`` and ≥ ``min_entries`` entries, largest
    share first (ties by cluster id), at most ``limit``."""
    share = shares.share
    held = [c for c in range(len(share)) if share[c] >= min_share and shares.entries[c] >= min_entries]
    return sorted(held, key=lambda c: (-share[c], c))[:limit]


def mix_name(sound: str, genres: Sequence[str]) -> str:
    """``"Low energy, quiet · folk, indie folk"``: the cluster's words, then its top genres."""
    head = sound[:1].upper() + sound[1:]
    return f"{head} · {', '.join(genres)}" if genres else head


def mix_order(
    n_familiar: int, n_new: int, *, size: int = MIX_SIZE, new_share: float = NEW_SHARE, min_size: int = MIN_SIZE
) -> list[tuple[str, int]]:
    """Which list fills each slot of a mix: ``(FAMILIAR | NEW, position in that list)``.

    Up to ``size − round(size·new_share)`` familiar tracks; new ones make ``new_share`` of the
    mix (``round``), or fill it up to ``min_size`` when the familiar tracks are fewer; never
    more than are available. New slots are spread evenly along the mix (slot ``i`` is new when
    ``⌊(i+1)·d + ½⌋`` steps up, ``d`` the mix's share of new tracks, as the lists' dial does).
    """
    fam = min(n_familiar, size - int(round(size * new_share)))
    wanted = int(round(fam * new_share / (1.0 - new_share))) if new_share < 1 else size
    new = min(n_new, max(wanted, min_size - fam), size - fam)
    total = fam + new
    d = new / total if total else 0.0
    out: list[tuple[str, int]] = []
    used = {FAMILIAR: 0, NEW: 0}
    for i in range(total):
        step = int(np.floor((i + 1) * d + 0.5)) > int(np.floor(i * d + 0.5))
        name = NEW if (step and used[NEW] < new) or used[FAMILIAR] >= fam else FAMILIAR
        out.append((name, used[name]))
        used[name] += 1
    return out


def plan_mixes(
    rec: Recommender, history: Mapping[str, float], *, labels: Mapping[int, str] | None = None
) -> tuple[MixPlan, ...]:
    """The listener's mixes before their tracks, largest share of the history first: which
    clusters (:func:`mix_clusters`), their names and shares. ``labels`` are the cluster words
    (default: ``describe_clusters`` of the bundle)."""
    shares = cluster_shares(rec, history)
    words = dict(labels) if labels is not None else describe_clusters(rec.bundle.kmeans)
    out = []
    for cluster in mix_clusters(shares):
        sound = words.get(cluster, f"sound {cluster}")
        genres = shares.top_genres(cluster)
        out.append(MixPlan(cluster=cluster, name=mix_name(sound, genres), sound=sound, genres=genres,
                           share=float(shares.share[cluster]), entries=int(shares.entries[cluster]),
                           history=shares.history(cluster)))
    return tuple(out)


def build_mix(
    rec: Recommender,
    history: Mapping[str, float],
    plan: MixPlan,
    options: Options = Options(),
    *,
    size: int = MIX_SIZE,
    new_share: float = NEW_SHARE,
    min_size: int = MIN_SIZE,
) -> Mix:
    """The tracks of one planned mix (see the module docstring): one or two ``Recommender.lists``
    requests. Empty when everything in the cluster is heard or excluded.

    ``options`` carries the request's exclusions and filters (dislikes, hidden artists, the
    explicit filter, ...); the mix sets its own cluster, length, dial and per-artist cap, and
    adds the history's artists outside the cluster to the excluded artists (so they are
    neither "new" nor the mix's familiar artists).
    """
    own = _own_artists(rec, history)
    here = _own_artists(rec, plan.history)
    base = dataclasses.replace(options, k=size, clusters=(plan.cluster,), discovery=new_share,
                               max_per_artist=MAX_PER_ARTIST, exclude_known=True)
    # The cluster's own artists, and artists new to the whole history (the others are excluded:
    # neither new, nor this sound's artists).
    lists = rec.lists(plan.history, _excluding(rec, base, own & ~here))
    familiar = lists.familiar
    wanted = size - int(round(size * new_share))
    if len(familiar) < wanted:  # then the listener's other artists' songs in this sound
        more = rec.lists(history, dataclasses.replace(_excluding(rec, base, here), k=wanted - len(familiar)))
        familiar = _pick([(familiar, j) for j in range(len(familiar))]
                         + [(more.familiar, j) for j in range(len(more.familiar))], lists.familiar)
    order = mix_order(len(familiar), len(lists.new), size=size, new_share=new_share, min_size=min_size)
    tracks = _pick([(familiar if name == FAMILIAR else lists.new, j) for name, j in order], lists.familiar)
    return Mix(plan=plan, tracks=tracks, new=tuple(name == NEW for name, _ in order),
               stats=rec.list_stats(tracks.indices, own))


def build_mixes(
    rec: Recommender,
    history: Mapping[str, float],
    options: Options = Options(),
    *,
    labels: Mapping[int, str] | None = None,
) -> tuple[Mix, ...]:
    """Every mix of ``history`` with its tracks (:func:`plan_mixes`, then :func:`build_mix`
    each); a cluster whose mix comes out empty is left out."""
    built = (build_mix(rec, history, plan, options) for plan in plan_mixes(rec, history, labels=labels))
    return tuple(m for m in built if len(m))


def _excluding(rec: Recommender, options: Options, artists: np.ndarray) -> Options:
    """``options`` that also exclude the artists flagged in ``artists`` (``[n_artists]`` bool), by id."""
    ids = [str(a) for a in rec.arrays.artist_ids[artists].tolist() if a]
    return dataclasses.replace(options, exclude_artists=(*options.exclude_artists, *ids))


def _n_clusters(rec: Recommender) -> int:
    k = int(rec.bundle.kmeans.get("k") or 0)
    return k or int(rec.arrays.cluster.max() + 1 if len(rec.arrays.cluster) else 0)


def _own_artists(rec: Recommender, history: Mapping[str, float]) -> np.ndarray:
    """``[n_artists]`` bool: the artists of the history's known tracks and artist-only matches."""
    own = np.zeros(len(rec.arrays.artist_ids), dtype=bool)
    rows = rec.index_of([str(t) for t in history])
    for row in rows[rows >= 0].tolist():
        own[rec.arrays.artists_of(row)] = True
    codes, _ = rec.content.artist_codes([str(a) for a in artist_weights_of(history)])
    own[codes] = True
    return own


def _pick(picks: Sequence[tuple[Recommendations, int]], like: Recommendations) -> Recommendations:
    """A list made of entries of other lists, ``(list, position)`` in order (the recommender's
    blend does the same inside ``Recommender.lists``; kept here so its internals stay its own)."""
    return Recommendations(
        track_ids=tuple(r.track_ids[j] for r, j in picks),
        scores=np.asarray([r.scores[j] for r, j in picks], dtype=np.float64),
        rank_scores=np.asarray([r.rank_scores[j] for r, j in picks], dtype=np.float64),
        explanations=tuple(r.explanations[j] for r, j in picks if r.explanations),
        path=like.path,
        unknown_ids=like.unknown_ids,
        without_factors=like.without_factors,
        indices=np.asarray([r.indices[j] for r, j in picks], dtype=np.int64),
    )
