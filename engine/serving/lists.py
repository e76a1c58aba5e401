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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.serving.artists import ArtistSignals
from engine.serving.rerank import Filters, ItemArrays, Ranked, unique_sorted, without
from engine.serving.results import Reason
from engine.serving.scan import ModelScores

#: Tracks per artist in the new list (one: every slot introduces an artist).
NEW_PER_ARTIST = 1

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
    """One listener's candidates of the two lists and their scores.

    ``familiar`` scores ``familiar_items`` (the unheard tracks of the listener's artists);
    ``new`` scores ``new_items``, each the best track of its first-credited artist among the
    tracks of artists the listener does not have (after the request's filters and exclusions).
    """

    familiar_items: np.ndarray
    familiar: np.ndarray
    new_items: np.ndarray
    new: np.ndarray
    own: np.ndarray  # [n_artists] bool: the listener's artists
    share: np.ndarray  # [n_artists] the listener's artist shares


class ListTables:
    """Per-bundle arrays of the new list in the artist order of :class:`ArtistSignals` (built once).

    ``scan_positions`` are the positions of the artist order's items in the full pass (-1 for
    items without factors).
    """

    def __init__(self, signals: ArtistSignals, popularity: np.ndarray, weights: ListWeights,
                 scan_positions: np.ndarray) -> None:
        order = signals.sorted_items
        self.weights = weights
        self.popularity = np.asarray(popularity, dtype=np.float64)
        #: w_p · popularity in the artist order: the one request-independent term of the new score
        self.new_popularity = weights.new_popularity * self.popularity[order]
        self.scan_positions = np.asarray(scan_positions, dtype=np.int64)
        self.all_scored = bool(len(self.scan_positions)) and bool((self.scan_positions >= 0).all())


def artist_shares(weights: np.ndarray) -> np.ndarray:
    """Log-damped shares of the listener's artist weights (sum 1; zeros without weights)."""
    damped = np.log1p(np.maximum(weights, 0.0))
    total = damped.sum()
    return damped / total if total > 0 else damped


def _z(values: np.ndarray) -> np.ndarray:
    """Standardized values (NaN where the input is not finite; all NaN when nothing varies)."""
    out = np.full(len(values), np.nan)
    ok = np.isfinite(values)
    if ok.sum() >= 2:
        std = float(values[ok].std())
        if std > 0:
            out[ok] = (values[ok] - float(values[ok].mean())) / std
    return out


def list_scores(
    signals: ArtistSignals,
    tables: ListTables,
    model: ModelScores | None,
    artist_weights: np.ndarray,
    *,
    arrays: ItemArrays,
    blocked: np.ndarray,
    filters: Filters,
    novelty: float = 0.0,
    freshness: float = 0.0,
) -> ListScores:
    """The candidates of both lists and their scores (see the module docstring).

    Parameters
    ----------
    signals, tables : ArtistSignals, ListTables
        The bundle's artist similarity and factors, and the new list's per-bundle arrays.
    model : ModelScores or None
        The listener's served model scores (None without a fold-in: the model term is 0).
    artist_weights : numpy.ndarray
        ``[n_artists]`` the listener's raw artist weights (their tracks' and artist-only matches).
    arrays : ItemArrays
        The catalogue's per-item arrays (filters, novelty, freshness).
    blocked : numpy.ndarray
        Item indices neither list may hold (known tracks, exclusions).
    filters, novelty, freshness
        The request's; the new list keeps each first artist's best track *after* them.

    The familiar list scores only its candidates; the new list's dense terms run over the
    artist order in place (its first-artist maxima are one reduceat), never over a second
    copy of the model scores.
    """
    weights = tables.weights
    share = artist_shares(artist_weights)
    own = share > 0
    own_codes = np.flatnonzero(own)
    blocked = np.asarray(blocked, dtype=np.int64)
    # familiar: only the own artists' tracks are candidates (a few thousand, not the catalogue)
    candidates = unique_sorted(signals.artist_items[own_codes].indices.astype(np.int64))
    familiar_items = without(candidates, blocked)
    log_share = np.where(own, np.log(np.where(own, share, 1.0)), -np.inf)
    familiar = signals.item_max(log_share, fill=-np.inf, items=familiar_items)
    familiar += weights.familiar_popularity * tables.popularity[familiar_items]
    if model is not None:
        familiar += weights.familiar_model * model.z_at(familiar_items)
    # new: artist-level score, then per item in the artist order
    spread = signals.spread(share)
    peak = float(spread.max()) if len(spread) else 0.0
    artist_score = weights.new_similarity * (spread / peak if peak > 0 else spread)
    if weights.new_factors and signals.has_factors.any():
        artist_score += weights.new_factors * np.nan_to_num(_z(signals.factor_scores(artist_weights)), nan=0.0)
    new = signals.sorted_item_max(artist_score)
    if model is not None and weights.new_model:
        new += weights.new_model * model.z_of_positions(tables.scan_positions, all_valid=tables.all_scored)
    new += tables.new_popularity
    out = signals.sorted_positions(np.concatenate([candidates, blocked]))
    new[out[out >= 0]] = -np.inf
    order = signals.sorted_items
    if filters != Filters():
        new[~filters.mask(arrays, order)] = -np.inf
    ranking = new
    if novelty or freshness:
        ranking = new - novelty * arrays.popularity[order] + freshness * arrays.recency[order]
    kept = np.flatnonzero(signals.sorted_group_best(ranking))
    return ListScores(familiar_items=familiar_items, familiar=familiar, new_items=order[kept], new=new[kept],
                      own=own, share=share)


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
    firsts = np.asarray([arrays.artists_of(i)[0] if len(arrays.artists_of(i)) else -1 for i in items.tolist()])
    newcomers = unique_sorted(firsts[(firsts >= 0) & ~scored.own[np.maximum(firsts, 0)]])
    like: dict[int, int] = {}
    if len(newcomers) and len(own_codes):
        parts = signals.similarity_matrix(newcomers, own_codes) * scored.share[own_codes][None, :]
        for artist, row in zip(newcomers.tolist(), parts):
            if row.max() > 0:
                like[artist] = int(own_codes[int(np.argmax(row))])
    out: list[list[Reason]] = []
    for item, first in zip(items.tolist(), firsts.tolist()):
        mine = [int(c) for c in arrays.artists_of(item) if scored.own[c]]
        if mine:
            best = max(mine, key=lambda c: scored.share[c])
            out.append([Reason("your_artist", str(arrays.artist_names[best]))])
        elif first in like:
            other = like[first]
            out.append([Reason("similar_artist", str(arrays.artist_names[other]))]
                       + [Reason("genre", g) for g in signals.shared_genres(first, other)])
        else:
            out.append([])
    return out
