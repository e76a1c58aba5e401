"""Blend two listeners: how close their tastes are, and one list ranked for both (numpy).

Two histories ``A`` and ``B`` (track id -> raw weight, or a
:class:`~engine.serving.listening.Listening` with artist-only weights) over one
:class:`~engine.serving.recommender.Recommender`; nothing here is stored.

**Taste match** (0–100 %, :func:`taste_match`)::

    match = 100 · ( ½ · max(0, cos(x_A, x_B))  +  ½ · overlap(A, B) )
    overlap(A, B) = Σ_a min(s_A(a), s_B(a))

``x`` is the exact ALS fold-in of each history (``Recommender.fold_in_many``) and ``s`` the
log-damped artist shares the lists use (:func:`engine.serving.lists.artist_shares` of
``Recommender.artist_weights``: a track's weight counts for every artist it credits, artist-only
matches count as they are), so ``overlap`` is 1 for identical artist shares and 0 without an
artist in common. When either history has no track in the ALS model (no fold-in), the match is
``100 · overlap``. Negative cosines count as 0: on the demo listeners the median cosine of two
random listeners is 0.00 (90th percentile 0.29), so "unrelated" sits near 0 %.

**The shared list** (:func:`shared_list`): every catalogue item the model scores is scored for
both listeners and each score becomes a percentile over that scan (``p`` in [0, 1], 1 = the
listener's best item, ties averaged), so two listeners with histories of different sizes are
on one scale. The combined score is a soft minimum::

    s(i) = (1 − μ) · min(p_A(i), p_B(i))  +  μ · (p_A(i) + p_B(i)) / 2        μ = MIX = 0.25

so a track only one of them likes ranks low (least misery) while, between two tracks both
like, the one liked more overall wins. The served score is ``Recommender.served_scores`` (the
ALS fold-in plus the served item-neighbour blend); a listener without a fold-in is scored by
artist affinity instead (their artist share plus the similarity spread of their artists, the
best over a track's credited artists). Tracks either listener has in their history are left
out, at most ``max_per_artist`` (2) per artist, and **balance**: the ``k`` tracks hold at least
``⌊BALANCE · k⌋`` (40 %) tracks whose stronger side (the higher percentile; a tie counts for
both) is A, and as many for B, whenever the catalogue has that many; the list is chosen
greedily in ``s`` order (ties: lower item row first), taking a track unless the slots left
could then no longer meet a side's minimum. Swapping A and B swaps the sides and keeps the list.

**Whose taste** (``SharedList.sides``): each listener's rank of the track among the ``n`` items
scored (1 = their best; ``rank = 1 + (1 − p)·(n − 1)``). ``both`` when neither ranks it more
than ``BOTH_RATIO`` (2) times higher than the other (``max(rank_A, rank_B) ≤ 2·min(...)``),
else the stronger side (``a`` or ``b``). Percentiles alone would call nearly every shared
track "both": on the demo bundle (6,143 scored tracks) even two unrelated listeners' shared
top 20 sits above both their 90th percentiles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from engine.serving.lists import artist_shares
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from engine.serving.rerank import ItemArrays

#: μ of the soft minimum: 0 is least misery (the minimum), 1 the plain average.
MIX = 0.25
#: Each side's minimum share of the shared list (by stronger side).
BALANCE = 0.4
#: A track is from "both" tastes when neither listener ranks it this many times higher than the other.
BOTH_RATIO = 2.0
#: The request of a bare ``shared_list(rec, a, b)``: 20 tracks, at most 2 per artist.
DEFAULT_REQUEST = Options(k=20, max_per_artist=2)

#: The greedy walk first sorts only the best ``max(HEAD_PER_K·k, HEAD_MIN)`` candidates.
HEAD_PER_K, HEAD_MIN = 64, 4096

SIDE_A, SIDE_B, SIDE_BOTH = "a", "b", "both"
Histories = Mapping[str, float]


@dataclass(frozen=True)
class TasteMatch:
    """How close two tastes are: ``percent`` (0–100) and the two terms behind it.

    ``cosine`` is None when either history has no fold-in (then ``percent = 100·overlap``);
    ``shared_artists`` are the artist codes both listen to, largest common share first.
    """

    percent: float
    cosine: float | None
    overlap: float
    shared_artists: tuple[int, ...] = ()


@dataclass(frozen=True)
class SharedList:
    """The list ranked for both listeners, best first.

    ``percentiles[:, 0]`` / ``[:, 1]`` are each track's percentiles for A and B, ``ranks`` the
    same as ranks among the ``n_scored`` items (1 = best), ``scores`` the combined soft minimum,
    ``sides`` whose taste each comes from (``a``, ``b``, ``both``) and ``stronger`` the side
    with the higher percentile (``a``, ``b``, or ``both`` on a tie).
    """

    track_ids: tuple[str, ...]
    indices: np.ndarray
    scores: np.ndarray
    percentiles: np.ndarray
    sides: tuple[str, ...]
    stronger: tuple[str, ...]
    n_scored: int = 0

    @property
    def ranks(self) -> np.ndarray:
        """``[len, 2]`` each track's rank for A and for B among the scored items (1 = best)."""
        return 1.0 + (1.0 - self.percentiles) * max(0, self.n_scored - 1)

    def __len__(self) -> int:
        return len(self.track_ids)


def soft_min(p_a: np.ndarray, p_b: np.ndarray, mix: float = MIX) -> np.ndarray:
    """``(1 − mix)·min(p_a, p_b) + mix·(p_a + p_b)/2``: symmetric, in [0, 1] for percentiles."""
    return (1.0 - mix) * np.minimum(p_a, p_b) + mix * 0.5 * (p_a + p_b)


def percentiles(scores: np.ndarray) -> np.ndarray:
    """Each score's percentile among ``scores`` in [0, 1] (0: the lowest, 1: the highest; ties
    get their average rank; a single score is 1)."""
    n = len(scores)
    if n <= 1:
        return np.ones(n)
    return (rankdata(scores, method="average") - 1.0) / (n - 1.0)


def taste_match(rec: Recommender, history_a: Histories, history_b: Histories) -> TasteMatch:
    """The taste match of two histories (see the module docstring for the formula)."""
    x = rec.fold_in_many([history_a, history_b])
    norms = np.linalg.norm(x, axis=1)
    cosine = float(np.clip(x[0] @ x[1] / (norms[0] * norms[1]), -1.0, 1.0)) if norms.all() else None
    share_a = artist_shares(rec.artist_weights(history_a))
    share_b = artist_shares(rec.artist_weights(history_b))
    common = np.minimum(share_a, share_b)
    overlap = float(min(1.0, common.sum()))
    shared = np.flatnonzero(common > 0)
    shared = shared[np.argsort(-common[shared], kind="stable")]
    value = overlap if cosine is None else 0.5 * max(0.0, cosine) + 0.5 * overlap
    return TasteMatch(percent=100.0 * value, cosine=cosine, overlap=overlap,
                      shared_artists=tuple(int(a) for a in shared.tolist()))


def listener_scores(rec: Recommender, histories: Sequence[Histories], rows: np.ndarray) -> np.ndarray:
    """``[len(histories), len(rows)]`` each listener's score of the catalogue ``rows`` (the items
    with factors): the served score (``Recommender.served_scores``), or the artist affinity for
    a listener without a fold-in."""
    out = np.empty((len(histories), len(rows)))
    for u, history in enumerate(histories):
        served = rec.served_scores(history)[rows]
        if np.isfinite(served).any():
            out[u] = served
            continue
        share = artist_shares(rec.artist_weights(history))
        out[u] = rec.artists.item_max(share + rec.artists.spread(share), fill=0.0, items=rows)
    return out


def shared_list(
    rec: Recommender,
    history_a: Histories,
    history_b: Histories,
    options: Options = DEFAULT_REQUEST,
    *,
    mix: float = MIX,
    balance: float = BALANCE,
) -> SharedList:
    """The ``options.k`` tracks ranked for both listeners (see the module docstring).

    From ``options`` (:class:`~engine.serving.options.Options`): ``k``, ``max_per_artist``,
    the filters, ``exclude_ids`` / ``exclude_artists`` (e.g. the first listener's dislikes) and
    ``exclude_known`` (tracks in either history); re-ranking terms, seeds and the dial do not
    apply. Fewer than ``k`` tracks come back only when fewer pass.
    """
    arrays = rec.arrays
    rows = np.flatnonzero(arrays.has_factors)
    scores = listener_scores(rec, [history_a, history_b], rows)
    p = np.stack([percentiles(scores[0]), percentiles(scores[1])], axis=1)
    combined = soft_min(p[:, 0], p[:, 1], mix)
    dropped = np.zeros(len(arrays.has_factors), dtype=bool)
    for found in (rec.index_of([*history_a, *history_b] if options.exclude_known else []),
                  rec.index_of(options.exclude_ids),
                  rec.content.items_of_artists(rec.content.artist_codes(options.exclude_artists)[0])):
        dropped[found[found >= 0]] = True
    cand = np.flatnonzero(options.filters.mask(arrays, rows) & ~dropped[rows])
    side_a, side_b = p[:, 0] >= p[:, 1], p[:, 1] >= p[:, 0]
    k = options.k
    minimum = int(np.floor(balance * k))
    need = (min(minimum, int(side_a[cand].sum())), min(minimum, int(side_b[cand].sum())))
    # The greedy walk rarely goes far: sort the best few thousand first (every candidate tied
    # with the last of them included, so the order is the full one's prefix); only a walk that
    # runs out of them sorts everything.
    head = min(len(cand), max(HEAD_PER_K * k, HEAD_MIN))
    if head < len(cand):
        threshold = np.partition(combined[cand], len(cand) - head)[len(cand) - head]
        top = cand[combined[cand] >= threshold]
    else:
        top = cand
    chosen = balanced_top(top[np.lexsort((rows[top], -combined[top]))], side_a, side_b, rows, arrays, k=k,
                          minimum=need, cap=options.max_per_artist, complete=len(top) == len(cand))
    if chosen is None:
        chosen = balanced_top(cand[np.lexsort((rows[cand], -combined[cand]))], side_a, side_b, rows, arrays, k=k,
                              minimum=need, cap=options.max_per_artist)
    assert chosen is not None  # a complete walk always returns
    chosen = chosen[np.lexsort((rows[chosen], -combined[chosen]))]  # refused ones that filled in: in place
    items = rows[chosen]
    out = SharedList(
        track_ids=tuple(rec.bundle.items["track_id"].to_numpy(dtype=object)[items].tolist()),
        indices=items, scores=combined[chosen], percentiles=p[chosen], sides=(), stronger=(), n_scored=len(rows),
    )
    stronger = tuple(SIDE_BOTH if a == b else SIDE_A if a > b else SIDE_B for a, b in out.percentiles.tolist())
    sides = tuple(SIDE_BOTH if max(ra, rb) <= BOTH_RATIO * min(ra, rb) else s
                  for (ra, rb), s in zip(out.ranks.tolist(), stronger))
    return dataclasses.replace(out, sides=sides, stronger=stronger)


def balanced_top(
    order: np.ndarray,
    side_a: np.ndarray,
    side_b: np.ndarray,
    rows: np.ndarray,
    arrays: ItemArrays,
    *,
    k: int,
    minimum: tuple[int, int],
    cap: int | None,
    complete: bool = True,
) -> np.ndarray | None:
    """Positions (into ``rows``) of up to ``k`` candidates taken greedily in ``order``.

    A candidate is taken unless its artists already have ``cap`` tracks, or unless taking it
    would leave fewer slots than the sides still need (``minimum``: tracks on side A, on side
    B; a position on both sides counts for both). Callers lower a minimum to what the
    candidates hold; if the list still comes short, the refused candidates fill it in order.
    With ``complete=False`` ``order`` is only the best part of the candidates, and a walk
    that does not fill ``k`` slots from it returns None (the caller walks all of them).
    """
    need = [minimum[0], minimum[1]]
    counts: dict[int, int] = {}
    chosen: list[int] = []
    refused: list[int] = []
    ptr, codes = arrays.artist_ptr, arrays.artist_codes

    def capped(pos: int) -> list[int] | None:
        own = codes[ptr[rows[pos]]:ptr[rows[pos] + 1]].tolist()
        return None if cap and any(counts.get(a, 0) >= cap for a in own) else own

    def take(pos: int, own: list[int]) -> None:
        for a in own:
            counts[a] = counts.get(a, 0) + 1
        chosen.append(pos)

    for pos in order.tolist():
        if len(chosen) == k:
            break
        own = capped(pos)
        if own is None:
            continue
        after = (max(0, need[0] - int(side_a[pos])), max(0, need[1] - int(side_b[pos])))
        if after[0] + after[1] > k - len(chosen) - 1:
            refused.append(pos)
            continue
        need = list(after)
        take(pos, own)
    if len(chosen) < k and not complete:
        return None
    for pos in refused:
        if len(chosen) == k:
            break
        own = capped(pos)
        if own is not None:
            take(pos, own)
    return np.asarray(chosen, dtype=np.int64)
