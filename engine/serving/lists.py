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
from engine.serving.rerank import ItemArrays, Ranked
from engine.serving.results import Reason

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
    """Per-item scores of the two lists for one listener (``-inf``: not a candidate)."""

    familiar: np.ndarray
    new: np.ndarray
    own: np.ndarray  # [n_artists] bool: the listener's artists
    share: np.ndarray  # [n_artists] the listener's artist shares


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
    popularity: np.ndarray,
    model: np.ndarray,
    artist_weights: np.ndarray,
    *,
    weights: ListWeights = ListWeights(),
) -> ListScores:
    """The familiar and new scores of every item.

    Parameters
    ----------
    signals : ArtistSignals
        The bundle's artist similarity and factors.
    popularity : numpy.ndarray
        ``[n_items]`` catalogue popularity in [0, 1].
    model : numpy.ndarray
        ``[n_items]`` served model score, standardized over the items the model scores (0 for
        the others, and everywhere without a fold-in).
    artist_weights : numpy.ndarray
        ``[n_artists]`` the listener's raw artist weights (their tracks' and artist-only matches).
    """
    share = artist_shares(artist_weights)
    own = share > 0
    z_model = model
    # familiar: only the own artists' tracks are candidates (a few thousand, not the catalogue)
    is_candidate = np.zeros(len(popularity), dtype=bool)
    is_candidate[signals.artist_items[np.flatnonzero(own)].indices] = True
    candidates = np.flatnonzero(is_candidate)
    log_share = np.where(own, np.log(np.where(own, share, 1.0)), -np.inf)
    familiar = np.full(len(popularity), -np.inf)
    familiar[candidates] = (signals.item_max(log_share, fill=-np.inf, items=candidates)
                            + weights.familiar_popularity * popularity[candidates]
                            + weights.familiar_model * z_model[candidates])
    spread = signals.spread(share)
    peak = float(spread.max()) if len(spread) else 0.0
    artist_score = weights.new_similarity * (spread / peak if peak > 0 else spread)
    if weights.new_factors and signals.has_factors.any():
        artist_score += weights.new_factors * np.nan_to_num(_z(signals.factor_scores(artist_weights)), nan=0.0)
    new = signals.item_max(artist_score, fill=0.0)
    new += weights.new_model * z_model
    new += weights.new_popularity * popularity
    new[candidates] = -np.inf
    return ListScores(familiar=familiar, new=new, own=own, share=share)


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
    newcomers = np.unique(firsts[(firsts >= 0) & ~scored.own[np.maximum(firsts, 0)]])
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
