"""The two lists and the dial: "More from artists you love", "New to you", and their blend.

Scores are per request, over the whole catalogue (tracks without ALS factors included), from
the listener's artist weights (:mod:`engine.serving.artists`) and the served model score:

- **familiar** (tracks by the listener's own artists, unheard):
  ``log share(a) + w_p·popularity + w_m·z(model)`` — ``share(a)`` is the artist's share of the
  listener's (log-damped) weight, so the artists played most come first, each with its most
  popular and best-scored tracks;
- **new** (tracks by artists absent from the history), at most one track per artist so the list
  introduces as many artists as it has slots:
  ``w_s·similarity(b)/max + w_f·z(artist factors) + w_m·z(model) + w_p·popularity``, with
  ``similarity`` the artist-similarity spread of the listener's artists and ``artist factors``
  the artist-level fold-in (when the bundle ships artist factors; the term is 0 without);
- **blended** — the dial ``discovery`` in [0, 1] is the share of the k slots given to the new list
  (0: only familiar, 1: only new), spread evenly along the list (:func:`blend_order`); when one
  list runs short the other fills in.

``z`` standardizes over the items (artists) that have a value; ``popularity`` is the catalogue's
Spotify popularity / 100. Filters, exclusions, novelty/freshness and the per-artist cap of the
request apply to every list (:func:`engine.serving.rerank.rerank`).

The lists are what scoring every item would give (``tests/engine/test_lists_reference.py``
holds them to a dense reference), but :func:`choose_lists` scores candidate sets that grow
until no item outside can beat the k-th pick, so a request costs the one ``Y @ x`` pass plus
one dense pass over its scores (the new list's item terms), not a dozen copies of the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from engine.serving.artists import ArtistSignals
from engine.serving.groups import group_by_item
from engine.serving.neighbours import segment_positions
from engine.serving.rerank import (
    Filters,
    ItemArrays,
    Ranked,
    flatnonzero_sparse,
    largest_magnitude,
    rerank,
    select_top,
    unique_sorted,
)
from engine.serving.results import Reason
from engine.serving.scan import ModelScores
from engine.serving.workers import beside, inline

#: Tracks per artist in the new list (one: every slot introduces an artist).
NEW_PER_ARTIST = 1
#: The familiar list's first candidate count: at least FAMILIAR_START, FAMILIAR_PER_PICK per
#: wanted track. Any start gives the same list (the candidates grow until nothing outside can
#: beat the k-th pick). With every candidate's share exact (see :func:`_familiar`) the first
#: round is usually the last, so it need not be wide: 400 for k=50 (8 per pick) against 1,024
#: took ``_familiar`` 2.76 → 2.61 ms on the bench's 600k catalogue and 0.36 → 0.32 ms on the
#: demo bundle (p50 per request, one run; the same lists).
FAMILIAR_START, FAMILIAR_PER_PICK = 256, 8
#: The new list's first candidate count, the same way (the tracks with the highest item terms).
#: Its floor check rarely wants more than a few hundred tracks, so 256 (8 per pick) took one
#: round as 2,048 did on the bench's catalogue and 1.15 rounds on the demo bundle (k=50), and
#: ``_new`` p50 went 1.79 → 1.39 ms (bench, 600k) and 0.53 → 0.33 ms (demo) per request.
NEW_START, NEW_PER_PICK = 256, 8

FAMILIAR = "familiar"
NEW = "new"
BLENDED = "blended"
LIST_TITLES = {FAMILIAR: "More from artists you love", NEW: "New to you", BLENDED: "Your mix"}


@dataclass(frozen=True)
class ListWeights:
    """The weights of the two lists' scores (see the module docstring)."""

    familiar_popularity: float = 1.0
    familiar_model: float = 0.3
    new_similarity: float = 1.0
    new_factors: float = 0.3
    new_model: float = 0.5
    new_popularity: float = 0.5


@dataclass(frozen=True)
class ListScores:
    """One listener's two lists (re-ranked, capped) and the artist shares behind them."""

    familiar: Ranked
    new: Ranked
    own: np.ndarray  # [n_artists] bool: the listener's artists
    share: np.ndarray  # [n_artists] the listener's artist shares


class ListTables:
    """Per-bundle arrays of the lists (built once)."""

    def __init__(self, signals: ArtistSignals, popularity: np.ndarray, weights: ListWeights) -> None:
        self.weights = weights
        self.popularity = np.asarray(popularity, dtype=np.float64)
        #: w_p · popularity: the request-independent term of the new score, per item
        self.new_popularity = weights.new_popularity * self.popularity
        #: the same in float32, and the largest magnitude of either, for the new list's candidate
        #: terms (see :func:`_new`)
        self.new_popularity32 = self.new_popularity.astype(np.float32)
        self.new_popularity_max = largest_magnitude(self.new_popularity)
        #: items without a first-credited artist: never in the new list (one track per first artist)
        self.no_first_artist = np.flatnonzero(signals.primary < 0)
        #: items credited to exactly one artist (their familiar score is read, not maximized)
        self.single = np.diff(signals.arrays.artist_ptr) == 1
        #: artist -> its single-artist tracks and artist -> its other tracks (CSR, items sorted):
        #: a request gathers its artists' tracks already split, with no pass over the catalogue
        self.single_ptr, self.single_items = _split_rows(signals.artist_items, self.single)
        self.multi_ptr, self.multi_items = _split_rows(signals.artist_items, ~self.single)

    def own_tracks(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The tracks of artists ``codes``: (single-artist tracks, grouped by artist in the
        order of ``codes``; how many each artist has; the other tracks, grouped the same way,
        so with repeats; how many each artist has of those)."""
        codes = np.asarray(codes, dtype=np.int64)
        starts, ends = self.single_ptr[codes], self.single_ptr[codes + 1]
        singles = self.single_items[segment_positions(starts, ends - starts)].astype(np.int64)
        m_starts, m_ends = self.multi_ptr[codes], self.multi_ptr[codes + 1]
        multis = self.multi_items[segment_positions(m_starts, m_ends - m_starts)].astype(np.int64)
        return singles, ends - starts, multis, m_ends - m_starts


def _split_rows(rows: sp.csr_matrix, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, indices)`` of the CSR ``rows`` with only the columns where ``keep`` holds
    (indices int32 like scipy's: the two tables together cost what ``artist_items`` does)."""
    mask = keep[rows.indices]
    kept = np.zeros(len(mask) + 1, dtype=np.int64)
    np.cumsum(mask, out=kept[1:])
    return kept[rows.indptr], rows.indices[mask].astype(np.int32)


def artist_shares(weights: np.ndarray) -> np.ndarray:
    """Log-damped shares of the listener's artist weights (sum 1; zeros without weights)."""
    # log1p(0) is 0, so only a listener's few hundred artists are worked on, not the whole
    # catalogue's (113 -> 60 µs a call at 59k artists; the same shares bit for bit).
    damped = np.maximum(weights, 0.0)
    held = np.flatnonzero(damped != 0)
    damped[held] = np.log1p(damped[held])
    total = damped.sum()
    if total > 0:
        damped[held] /= total
    return damped


def _z(values: np.ndarray) -> np.ndarray:
    """Standardized values (NaN where the input is not finite; all NaN when nothing varies)."""
    out = np.full(len(values), np.nan)
    ok = np.isfinite(values)
    if ok.sum() >= 2:
        std = float(values[ok].std())
        if std > 0:
            out[ok] = (values[ok] - float(values[ok].mean())) / std
    return out


@dataclass(frozen=True)
class ListRequest:
    """What a request asks of the lists: k, the cap, the filters, the re-ranking terms."""

    k: int
    max_per_artist: int | None
    filters: Filters
    novelty: float = 0.0
    freshness: float = 0.0


def choose_lists(
    signals: ArtistSignals,
    tables: ListTables,
    model: ModelScores | None,
    artist_weights: np.ndarray,
    *,
    arrays: ItemArrays,
    blocked: np.ndarray,
    request: ListRequest,
    artist_score: np.ndarray | None = None,
    share: np.ndarray | None = None,
    parallel: bool = True,
) -> ListScores:
    """Both lists for one listener (see the module docstring), equal to scoring every item.

    ``artist_score``: :func:`artist_scores` of ``artist_weights`` when the caller has it
    already (it needs no model: it can be computed beside the fold-in and the pass); ``share``:
    :func:`artist_shares` of them, likewise (both need it: computed once, 59k artists).
    ``parallel``: rank the familiar list on a helper thread while the caller ranks the new one
    (:data:`engine.serving.workers.PARALLEL_FROM` says when that pays); else one after the other.

    Neither list scores the whole catalogue. Each scores a candidate set and grows it (×4)
    until no item outside can beat its k-th pick:

    - familiar: the tracks of the listener's artists with the largest shares; an item of the
      other own artists scores at most their best ``log share`` plus the largest possible
      popularity, model and freshness terms;
    - new: the tracks of the artists with the highest artist score, plus the tracks with the
      highest item terms (model z, popularity, re-ranking: one dense float64 pass over the
      scores of the ``Y @ x`` pass); an item in neither scores at most the best artist score
      left out plus the smallest item term taken. Each first artist's best track among the
      candidates is its best overall whenever it can be picked (anything better would be a
      candidate too).
    """
    weights = tables.weights
    share = artist_shares(artist_weights) if share is None else share
    own = share > 0
    blocked = np.asarray(blocked, dtype=np.int64)
    codes = np.flatnonzero(own)
    singles, counts, multis, multi_counts = tables.own_tracks(codes)
    # The two lists need nothing of each other: the familiar one on a helper thread (when
    # ``parallel``), while the caller scores the artists and ranks the new one.
    run = beside if parallel else inline
    ranking = run(_familiar, tables, model, share, (codes, singles, counts, multis, multi_counts),
                  arrays=arrays, blocked=blocked, request=request)
    own_tracks = np.concatenate([singles, multis])
    if artist_score is None:
        artist_score = artist_scores(signals, weights, artist_weights, share=share)
    new = _new(signals, tables, model, artist_score, own_tracks, arrays=arrays, blocked=blocked, request=request)
    return ListScores(familiar=ranking.result(), new=new, own=own, share=share)


def artist_scores(signals: ArtistSignals, weights: ListWeights, artist_weights: np.ndarray, *,
                  share: np.ndarray | None = None) -> np.ndarray:
    """The new list's artist score of every artist, ``w_s·similarity/max + w_f·z(artist
    factors)``, from the listener's raw ``artist_weights`` (no model term; ``share``: their
    :func:`artist_shares`, when the caller has them)."""
    spread = signals.spread(artist_shares(artist_weights) if share is None else share)
    peak = float(spread.max()) if len(spread) else 0.0
    artist_score = weights.new_similarity * (spread / peak if peak > 0 else spread)
    if weights.new_factors and signals.has_factors.any():
        artist_score += weights.new_factors * np.nan_to_num(_z(signals.factor_scores(artist_weights)), nan=0.0)
    return artist_score


def _model_term(model: ModelScores | None, weight: float, items: np.ndarray) -> np.ndarray:
    """``weight · z(model)`` of ``items`` (0 without a model or a weight)."""
    if model is None or not weight:
        return np.zeros(len(items))
    return weight * model.z_at(items)


def _model_bound(model: ModelScores | None, weight: float, items: np.ndarray) -> np.ndarray:
    """An upper bound of :func:`_model_term` (``weight >= 0``; the term itself without a
    quantized scan): for guesses and candidate checks, never for a pick's score."""
    if model is None or not weight:
        return np.zeros(len(items))
    return weight * model.z_bound_at(items)


def _familiar(tables: ListTables, model: ModelScores | None, share: np.ndarray,
              own_tracks: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], *,
              arrays: ItemArrays, blocked: np.ndarray, request: ListRequest) -> Ranked:
    """The familiar list. Its score is ``the largest log share among the track's own artists``
    plus the item terms (popularity, model z, re-ranking). Every candidate's share is exact
    before any is ranked: a single-artist track's is its artist's, a track with several
    artists' the largest over the rows of :meth:`ListTables.own_tracks` it appears in (the
    other artists have none). (Bounding those by the top share instead let ~1,000 of them into
    a second round on the bench's catalogue.) The candidates are the tracks best by share plus
    item terms (the model's part an upper bound from an int8 scan), then every track whose
    guess reaches the k-th pick found, until the k-th pick clears it.

    ``own_tracks``: the listener's artist codes and :meth:`ListTables.own_tracks` of them."""
    weights = tables.weights
    codes, singles, counts, multis, multi_counts = own_tracks
    log_share = np.log(share[codes])
    first = np.repeat(log_share, counts)  # a single-artist track's share term
    # a co-credited track's: the largest share among its rows (one grouping, no gather of credits)
    groups = group_by_item(multis, len(tables.popularity))
    multis, multi_share = groups.items, groups.maxima(np.repeat(log_share, multi_counts))
    if len(blocked):
        # one item table for both lookups (np.isin's "table" kind builds and range-checks one per call)
        is_blocked = np.zeros(len(tables.popularity), dtype=bool)
        is_blocked[blocked] = True
        unblocked = ~is_blocked[singles]
        singles, first = singles[unblocked], first[unblocked]
        unblocked = ~is_blocked[multis]
        multis, multi_share = multis[unblocked], multi_share[unblocked]
    # Candidates in this order (singles by artist, then the rest): positions index ``items``,
    # and each candidate set is sorted by item before it is ranked, so ties break by item.
    items = np.concatenate([singles, multis])
    if not len(items):
        return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    # each candidate's share term and popularity term (exact), and its item terms as a guess
    # (bounds from an int8 scan: a pick's own are exact)
    share_term = np.concatenate([first, multi_share])
    popularity = weights.familiar_popularity * tables.popularity[items]
    guess = share_term + popularity
    guess += _model_bound(model, weights.familiar_model, items)
    if request.novelty:
        guess -= request.novelty * arrays.popularity[items]
    if request.freshness:
        guess += request.freshness * arrays.recency[items]
    size = min(len(items), max(FAMILIAR_START, FAMILIAR_PER_PICK * request.k))
    chosen = select_top(guess, size)
    while True:
        chosen = unique_sorted(chosen)
        by_item = chosen[np.argsort(items[chosen], kind="stable")]  # items are distinct
        at = items[by_item]
        scores = share_term[by_item] + popularity[by_item]
        scores += _model_term(model, weights.familiar_model, at)
        ranked = _rerank(scores, at, arrays, request, request.max_per_artist, start=len(at))
        if len(ranked.items) < request.k and size < len(items):  # the cap left too few: more by the guess
            size = min(len(items), 4 * size)
            chosen = np.concatenate([chosen, select_top(guess, size)])
            continue
        floor = float(ranked.rank_scores[-1]) if len(ranked.items) == request.k else -np.inf
        wanted = np.flatnonzero(guess >= floor)
        if len(wanted) <= len(chosen) and np.isin(wanted, chosen, assume_unique=True).all():
            return ranked
        chosen = wanted


def _new(signals: ArtistSignals, tables: ListTables, model: ModelScores | None, artist_score: np.ndarray,
         own_tracks: np.ndarray, *, arrays: ItemArrays, blocked: np.ndarray, request: ListRequest) -> Ranked:
    """The new list. Its score is ``max over the track's artists of the artist score`` plus
    the item terms (model z, popularity, re-ranking), so a track can reach ``r`` only if its
    item terms reach ``r − max artist score``: the candidates are the tracks with the highest
    item terms, then every track above that threshold for the k-th pick found, until the k-th
    pick clears it (each first artist's best track among them is then its best overall)."""
    weights = tables.weights
    n = len(tables.popularity)
    # The item terms of every item (one dense pass over the Y @ x scores; with an int8 scan,
    # over its upper bounds: the candidates' own terms are exact in _new_candidates). In
    # float32: they only choose candidates, and half the bytes of float64 take ~1 ms less over
    # 600k items (this pass, the exclusions, the first choice and the floor check: 2.26 ms as
    # float64). The floor check then allows for their rounding (``slack``): each of the ~10
    # float32 roundings below errs by at most ε/2 of a value no larger than ``magnitude``.
    if model is not None and weights.new_model:
        terms, z_part = model.plus_z32_bound(tables.new_popularity32, weights.new_model)
    else:
        terms, z_part = tables.new_popularity32.copy(), 0.0
    magnitude = z_part + tables.new_popularity_max
    if request.novelty:
        terms -= np.float32(request.novelty) * arrays.popularity
        magnitude += abs(request.novelty) * arrays.popularity_magnitude
    if request.freshness:
        terms += np.float32(request.freshness) * arrays.recency
        magnitude += abs(request.freshness)  # recency is in [0, 1]
    slack = 8 * float(np.finfo(np.float32).eps) * magnitude
    out = np.concatenate([own_tracks, blocked, tables.no_first_artist])
    terms[out] = -np.inf  # the listener's artists' tracks, the exclusions, tracks without artists
    if request.filters != Filters():
        terms[~request.filters.mask(arrays, np.arange(n))] = -np.inf
    cap = min(request.max_per_artist, NEW_PER_ARTIST) if request.max_per_artist else NEW_PER_ARTIST
    top_artist = float(artist_score.max()) if len(artist_score) else 0.0
    top_artist = max(top_artist, 0.0)  # a track without credited artists would read 0
    items = select_top(terms, min(n, max(NEW_START, NEW_PER_PICK * request.k)))
    while True:
        items = unique_sorted(items[np.isfinite(terms[items])])
        ranked = _new_candidates(signals, tables, model, artist_score, items, arrays=arrays, request=request, cap=cap)
        floor = float(ranked.rank_scores[-1]) - top_artist if len(ranked.items) == request.k else -np.inf
        # Every track that could reach the k-th pick; when all of them are candidates already, done.
        # (finite only: with fewer than k picks the floor is -inf, and -inf >= -inf would keep
        # asking for the blocked tracks the candidates drop, forever)
        # (a finite floor already rejects -inf: one comparison pass)
        wanted = flatnonzero_sparse(np.isfinite(terms) if floor == -np.inf else terms >= _float32_at_most(floor - slack))
        if len(wanted) <= len(items) and np.isin(wanted, items, assume_unique=True).all():
            return ranked
        items = wanted


def _float32_at_most(value: float) -> np.float32:
    """The largest float32 not above ``value`` (numpy compares a float32 array with a Python
    float in float32, rounding the float to nearest: it could land above). Below float32's
    range, its lowest finite value: no finite term lies below it, and −inf (a blocked track)
    must stay below the floor."""
    low = np.finfo(np.float32)
    if value <= float(low.min):
        return np.float32(low.min)
    out = np.float32(min(value, float(low.max)))
    return out if float(out) <= value else np.nextafter(out, np.float32(-np.inf))


def _new_candidates(signals: ArtistSignals, tables: ListTables, model: ModelScores | None, artist_score: np.ndarray,
                    items: np.ndarray, *, arrays: ItemArrays, request: ListRequest, cap: int) -> Ranked:
    """The new list among candidate ``items``: their scores, each first artist's best, the cap."""
    if not len(items):
        return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    weights = tables.weights
    scores = signals.item_max(artist_score, fill=0.0, items=items)
    scores += _model_term(model, weights.new_model, items)
    scores += tables.new_popularity[items]
    ranking = scores - request.novelty * arrays.popularity[items] + request.freshness * arrays.recency[items]
    first = signals.primary[items]
    order = np.argsort(first, kind="stable")
    grouped = first[order]
    starts = np.flatnonzero(np.concatenate(([True], grouped[1:] != grouped[:-1])))
    best = np.maximum.reduceat(ranking[order], starts)
    keep = np.zeros(len(items), dtype=bool)
    keep[order] = ranking[order] >= np.repeat(best, np.diff(np.append(starts, len(order))))
    return _rerank(scores[keep], items[keep], arrays, request, cap)


def _rerank(scores: np.ndarray, items: np.ndarray, arrays: ItemArrays, request: ListRequest, cap: int | None,
            start: int | None = None) -> Ranked:
    return rerank(scores, arrays, k=request.k, filters=request.filters, max_per_artist=cap,
                  novelty=request.novelty, freshness=request.freshness, pos2item=items, start=start)


def blend_order(familiar: Ranked, new: Ranked, *, k: int, discovery: float) -> list[tuple[str, int]]:
    """Which list fills each of ``k`` slots: ``(list, position in it)``.

    Slot ``i`` goes to the new list when ``⌊(i+1)·discovery + ½⌋`` steps up, so every prefix of
    the blend holds its share of new artists (``discovery`` 0.4: F N F N F F N F N F …) and a
    shorter list is a prefix of a longer one. A list that runs out leaves its slots to the other.
    """
    out: list[tuple[str, int]] = []
    used = {FAMILIAR: 0, NEW: 0}
    sizes = {FAMILIAR: len(familiar.items), NEW: len(new.items)}
    for i in range(k):
        wanted = NEW if int(np.floor((i + 1) * discovery + 0.5)) > int(np.floor(i * discovery + 0.5)) else FAMILIAR
        other = FAMILIAR if wanted == NEW else NEW
        name = wanted if used[wanted] < sizes[wanted] else other
        if used[name] >= sizes[name]:
            break
        out.append((name, used[name]))
        used[name] += 1
    return out


def list_reasons(items: np.ndarray, arrays: ItemArrays, signals: ArtistSignals, scored: ListScores) -> list[list[Reason]]:
    """Why each list item is there, in artist terms.

    A track by the listener's own artist: ``your_artist`` (the one with the largest share). A
    track by a new artist: ``similar_artist`` (the history artist contributing most to its
    similarity, share × similarity) and up to two ``genre`` reasons the two artists share.
    """
    items = np.asarray(items, dtype=np.int64)
    own_codes = np.flatnonzero(scored.own)
    firsts = signals.primary[items]
    newcomers = unique_sorted(firsts[(firsts >= 0) & ~scored.own[np.maximum(firsts, 0)]])
    like: dict[int, int] = {}
    genres: dict[int, list[str]] = {}  # the genres each new artist shares with the one it is like
    if len(newcomers) and len(own_codes):
        parts = signals.similarity_matrix(newcomers, own_codes) * scored.share[own_codes][None, :]
        similar = parts.max(axis=1) > 0
        best = own_codes[np.argmax(parts, axis=1)]  # per row, the first of the largest parts
        like = dict(zip(newcomers[similar].tolist(), best[similar].tolist()))
        genres = dict(zip(like, signals.shared_genres_many(newcomers[similar], best[similar])))  # one gather
    # Each item's credited artists as plain lists (one gather for the whole list, not a numpy
    # slice and scalar reads per card).
    ptr, codes = arrays.artist_ptr, arrays.artist_codes
    starts, sizes = ptr[items], ptr[items + 1] - ptr[items]
    flat = codes[np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))]
    flat_codes, flat_own, flat_share = flat.tolist(), scored.own[flat].tolist(), scored.share[flat].tolist()
    ends = np.cumsum(sizes).tolist()
    out: list[list[Reason]] = []
    lo = 0
    for first, hi in zip(firsts.tolist(), ends):
        mine = [(c, w) for c, o, w in zip(flat_codes[lo:hi], flat_own[lo:hi], flat_share[lo:hi]) if o]
        lo = hi
        if mine:
            best = max(mine, key=lambda cw: cw[1])[0]  # the first of the largest shares
            out.append([Reason("your_artist", str(arrays.artist_names[best]))])
        elif first in like:
            out.append([Reason("similar_artist", str(arrays.artist_names[like[first]]))]
                       + [Reason("genre", g) for g in genres[first]])
        else:
            out.append([])
    return out
