"""Similar songs: the live hybrid (ALS cosine + content), stored neighbours, lookup by name.

Live, for ``Recommender.similar`` (:func:`engine.serving.hybrid.similar_items`, which holds the blend)::

    sim(q, i) = w·cos(y_q, y_i) + (1 − w)·content(q, i),    w = β·t_q·t_i

β (``factor_weight``, default 0.7) is the share given to co-listening when both tracks are
well known; ``t`` is the trust in an item's factors: 0 without factors, ``n/(n + shrink)``
for an item with ``n`` listeners when the bundle carries ``extra/item_listeners.npy``
(``python -m engine similarity`` adds it), else 1. ``content`` mixes audio cosine, genre
overlap and same artist. So a pair of well-played tracks is judged mostly by who listens to
them, while a rarely played or unplayed track (on either side) is judged by its content.
Each neighbour reports the larger term (``factors`` or ``audio`` = content).

Stored, from ``python -m engine similarity`` (:func:`stored_neighbours`): per method
(``minhash``, ``word2vec``, ``tfidf``) the top neighbours in the SQLite store, or in the
bundle's ``extra/similar_<method>.npy`` arrays when the store has none for the track.
:func:`merge_neighbours` interleaves the methods' lists and keeps, for each track, every
method that found it; :func:`similar_by_name` does all of it from an artist and a title.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.matching import normalize_artist, normalize_title

if TYPE_CHECKING:
    from engine.core.matching import CatalogIndex
    from engine.serving.recommender import Recommender
    from engine.state.store import Store
#: The live hybrid's method name, and the stored methods in display order.
METHOD_HYBRID = "hybrid"
STORED_METHODS: tuple[str, ...] = ("minhash", "word2vec", "tfidf")
METHOD_LABELS: dict[str, str] = {
    "hybrid": "ALS + content",
    "minhash": "MinHash (shared listeners)",
    "word2vec": "Word2Vec (played together)",
    "tfidf": "TF-IDF (genres and names)",
}
#: A typed name is accepted as a fuzzy match at this rapidfuzz score (0-100) or above.
MIN_FUZZY_SCORE = 70.0


# -- stored neighbours and the merged list -------------------------------------------------------


@dataclass(frozen=True)
class SimilarTrack:
    """One merged neighbour: its id, the score under the first method that found it, and every
    method that found it (in the order of :func:`merge_neighbours`)."""

    track_id: str
    score: float
    methods: tuple[str, ...]


def stored_neighbours(
    track_id: str,
    *,
    store: "Store | None" = None,
    extra: Mapping[str, np.ndarray] | None = None,
    item_ids: np.ndarray | None = None,
    row: int | None = None,
    limit: int = 20,
) -> dict[str, list[tuple[str, float]]]:
    """``method -> [(other_id, score), ...]`` best first, from the store, else the bundle.

    The bundle path needs ``extra`` (the bundle's extra arrays), ``item_ids`` (its items'
    track ids) and ``row`` (the track's row); methods the store has for this track win.
    """
    out: dict[str, list[tuple[str, float]]] = {}
    if store is not None:
        for other, score, method in store.similar_all(str(track_id), limit=limit):
            out.setdefault(method, []).append((other, score))
    if extra is not None and item_ids is not None and row is not None and row >= 0:
        for method in STORED_METHODS:
            ids, scores = extra.get(f"similar_{method}"), extra.get(f"similar_{method}_score")
            if method in out or ids is None or scores is None or row >= len(ids):
                continue
            r_ids, r_scores = np.asarray(ids[row]), np.asarray(scores[row])
            keep = r_ids >= 0
            out[method] = [(str(item_ids[i]), float(s)) for i, s in zip(r_ids[keep][:limit], r_scores[keep][:limit])]
    return {m: v for m, v in out.items() if v}


def merge_neighbours(lists: Mapping[str, Sequence[tuple[str, float]]], k: int, *, exclude: Sequence[str] = ()) -> list[SimilarTrack]:
    """Interleave the methods' lists (first of each, then second of each, ...) into ``k`` tracks.

    A track found by several methods appears once, at its best position, listing them all.
    Scores of different methods are not comparable, which is why this is a round robin.
    """
    order = [m for m in (METHOD_HYBRID, *STORED_METHODS) if m in lists] + sorted(set(lists) - {METHOD_HYBRID, *STORED_METHODS})
    found: dict[str, list[str]] = {}
    first: dict[str, float] = {}
    skip = set(exclude)
    depth = max((len(v) for v in lists.values()), default=0)
    for pos in range(depth):
        for method in order:
            if pos >= len(lists[method]):
                continue
            other, score = lists[method][pos]
            if other in skip:
                continue
            if other not in found:
                found[other], first[other] = [], float(score)
            if method not in found[other]:
                found[other].append(method)
    ranked = list(found)[:k]
    return [SimilarTrack(t, first[t], tuple(found[t])) for t in ranked]


# -- lookup by name --------------------------------------------------------------------------------


@dataclass(frozen=True)
class NameMatch:
    """How a typed artist + title resolved: the track and whether it was exact or fuzzy."""

    track_id: str
    how: str  # "name" (normalized artist + title) or "fuzzy" (rapidfuzz search)
    score: float  # 100 for a "name" match


def find_track(index: "CatalogIndex", artist: str, title: str) -> NameMatch | None:
    """Resolve a typed artist and title to a catalogue track (None when nothing is close).

    Case, accents, punctuation, "feat. X" and edition notes are normalized away
    (:func:`engine.core.matching.match_key`); typos fall back to the fuzzy search, accepted at
    ``MIN_FUZZY_SCORE``.
    """
    exact = index.lookup_name(artist, title)
    if exact is not None:
        return NameMatch(exact, "name", 100.0)

    query = f"{normalize_artist(artist)} {normalize_title(title)}".strip()
    hits = index.search(query, limit=1) if query else []
    if hits and hits[0][1] >= MIN_FUZZY_SCORE:
        return NameMatch(hits[0][0], "fuzzy", hits[0][1])
    return None


def similar_by_name(
    artist: str,
    title: str,
    *,
    index: "CatalogIndex",
    rec: "Recommender | None" = None,
    store: "Store | None" = None,
    k: int = 10,
) -> tuple[NameMatch | None, list[SimilarTrack]]:
    """Similar tracks of the song named by ``artist`` and ``title``, with the methods that found them.

    Uses the live hybrid (when ``rec`` is given) and every stored method (``store``, else the
    bundle's arrays). Returns ``(None, [])`` when no catalogue track matches the name.

    Examples
    --------
    >>> match, tracks = similar_by_name("nina simone", "feelin good (feat. x)", index=idx, store=store)
    >>> match.how, tracks[0].track_id, tracks[0].methods
    """
    match = find_track(index, artist, title)
    if match is None:
        return None, []
    return match, neighbours_with_methods(match.track_id, rec=rec, store=store, k=k)


def neighbours_with_methods(
    track_id: str, *, rec: "Recommender | None" = None, store: "Store | None" = None, k: int = 10
) -> list[SimilarTrack]:
    """The merged neighbour list of one track (live hybrid + stored methods)."""
    lists: dict[str, list[tuple[str, float]]] = {}
    extra: dict[str, Any] | None = None
    item_ids = row = None
    if rec is not None:
        row = int(rec.index_of([track_id])[0])
        if row >= 0:
            live = rec.similar(track_id, k)
            lists[METHOD_HYBRID] = list(zip(live.track_ids, (float(s) for s in live.scores)))
        extra, item_ids = rec.bundle.extra, rec.track_ids
    lists.update(stored_neighbours(track_id, store=store, extra=extra, item_ids=item_ids, row=row, limit=k))
    return merge_neighbours(lists, k, exclude=[track_id])


def topic_labels(track_ids: Sequence[str], *, store: "Store | None" = None, tables: Mapping[str, Any] | None = None) -> dict[str, str]:
    """LDA topic label of each track that has one (store first, else the bundle's tables)."""
    out = store.topic_of(track_ids) if store is not None else {}
    tables = tables or {}
    if len(out) < len(track_ids) and "track_topics" in tables and "topic_labels" in tables:
        labels = dict(zip(tables["topic_labels"]["topic"], tables["topic_labels"]["label"]))
        tt = tables["track_topics"]
        hit = tt[tt["track_id"].isin([t for t in track_ids if t not in out])]
        out.update({t: labels[p] for t, p in zip(hit["track_id"], hit["topic"]) if p in labels})
    return out
