"""Candidate selection and re-ranking on a small candidate set.

Serving cost is dominated by the one full pass that scores every item (``Y @ x``, memory
bound). Everything after it works on a candidate set a few times larger than ``k``: filters,
the popularity penalty (novelty), the freshness bonus and the per-artist cap read per-item
arrays precomputed once (:class:`ItemArrays`), so no second full-size pass is needed.

The candidate set grows (×4) until the result is provably the one a full pass would give: an
item outside the candidates scores at most ``t`` (the smallest candidate score), so its
re-ranked score is at most ``t + freshness``; once the k-th chosen item beats that bound,
no outside item could have displaced it (the artist cap is greedy in score order, so it
only ever sees higher-scoring items first).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: A score array smaller than this is simply argpartitioned.
_SMALL = 65_536
#: Sample size used to guess a score threshold (see :func:`select_top`).
_SAMPLE = 4_096


@dataclass(frozen=True)
class ItemArrays:
    """Per-item arrays the re-ranker reads, built once per bundle.

    ``year`` 0, ``energy`` NaN and ``cluster`` -1 mean unknown (such items fail a filter on
    that field). Artists are a CSR list: item ``i`` has artist codes
    ``artist_codes[artist_ptr[i]:artist_ptr[i + 1]]`` into ``artist_ids``/``artist_names``.
    """

    year: np.ndarray
    explicit: np.ndarray
    energy: np.ndarray
    cluster: np.ndarray
    popularity: np.ndarray
    recency: np.ndarray
    has_factors: np.ndarray
    artist_ptr: np.ndarray
    artist_codes: np.ndarray
    artist_ids: np.ndarray
    artist_names: np.ndarray

    @functools.cached_property
    def popularity_magnitude(self) -> float:
        """``max |popularity|``, computed once (the new list's float32 rounding allowance)."""
        return largest_magnitude(self.popularity)

    @classmethod
    def from_items(cls, items: pd.DataFrame, popularity: np.ndarray) -> "ItemArrays":
        """Extract the arrays from a bundle's items table and popularity scores."""
        year = pd.to_numeric(items["year"], errors="coerce").fillna(0).to_numpy(dtype=np.int32)
        known = year[year > 0]
        lo, hi = (int(known.min()), int(known.max())) if len(known) else (0, 1)
        recency = np.where(year > 0, (year - lo) / max(1, hi - lo), 0.0).astype(np.float32)
        ptr, codes, uniques = list_codes(items["artist_ids"])
        names = _first_names(items["artists"], ptr, codes, len(uniques))
        return cls(
            year=year,
            explicit=items["explicit"].fillna(False).to_numpy(dtype=bool),
            energy=pd.to_numeric(items["energy"], errors="coerce").to_numpy(dtype=np.float32, na_value=np.nan),
            cluster=pd.to_numeric(items["cluster"], errors="coerce").fillna(-1).to_numpy(dtype=np.int32),
            popularity=np.asarray(popularity, dtype=np.float32),
            recency=recency,
            has_factors=items["has_factors"].to_numpy(dtype=bool),
            artist_ptr=ptr,
            artist_codes=codes,
            artist_ids=uniques,
            artist_names=names,
        )

    def artists_of(self, item: int) -> np.ndarray:
        """Artist codes of one item."""
        return self.artist_codes[self.artist_ptr[item] : self.artist_ptr[item + 1]]


def _cells(column: pd.Series) -> list:
    """List cells of a list-valued column; null cells become empty arrays."""
    cells = column.tolist()
    try:
        for _ in map(len, cells):  # fast path: every cell is a sequence
            pass
    except TypeError:
        empty = np.zeros(0, dtype=object)  # an array, so _flatten keeps its fast path
        cells = [v if isinstance(v, (list, tuple, np.ndarray)) else empty for v in cells]
    return cells


def _flatten(cells: list, total: int) -> np.ndarray:
    """Concatenate list cells into one object array (numpy's concatenate when cells are arrays,
    as pandas gives them for parquet list columns: ~5x faster than iterating)."""
    if total and all(isinstance(c, np.ndarray) for c in cells):
        return np.concatenate(cells).astype(object, copy=False)
    return np.fromiter(itertools.chain.from_iterable(cells), dtype=object, count=total)


def arrow_lists(column: pd.Series) -> tuple[np.ndarray, pa.Array] | None:
    """``(lengths, flattened values)`` of an Arrow-backed list column (None for any other
    column): read from the Arrow buffers, no Python object per cell. Null cells have length 0."""
    dtype = column.dtype
    if not isinstance(dtype, pd.ArrowDtype) or not (
        pa.types.is_list(dtype.pyarrow_dtype) or pa.types.is_large_list(dtype.pyarrow_dtype)
    ):
        return None
    arr = column.array.__arrow_array__()
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    lengths = pc.list_value_length(arr).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    return lengths, pc.list_flatten(arr)


def list_codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode a list-valued column as CSR: ``(ptr [n+1], codes, unique values)``.

    Null cells count as empty lists. Values are factorized in order of first appearance.
    """
    found = arrow_lists(column)
    if found is not None:  # Arrow-backed (the bundle's serving columns): encode in Arrow
        lengths, flat = found
        ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ptr[1:])
        if not len(flat):
            return ptr, np.zeros(0, dtype=np.int32), np.array([], dtype=object)
        encoded = flat.dictionary_encode()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        return ptr, codes, np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    cells = _cells(column)
    ptr = np.zeros(len(cells) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, cells), dtype=np.int64, count=len(cells)), out=ptr[1:])
    flat = _flatten(cells, int(ptr[-1]))
    if not len(flat):
        return ptr, np.zeros(0, dtype=np.int32), np.array([], dtype=object)
    codes, uniques = pd.factorize(flat)
    return ptr, codes.astype(np.int32), np.asarray(uniques, dtype=object)


def invert_csr(ptr: np.ndarray, codes: np.ndarray, n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """Invert item -> values CSR into value -> items CSR ``(ptr [n_values+1], items)``."""
    owners = np.repeat(np.arange(len(ptr) - 1, dtype=np.int64), np.diff(ptr))
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=n_values)
    inv_ptr = np.zeros(n_values + 1, dtype=np.int64)
    np.cumsum(counts, out=inv_ptr[1:])
    return inv_ptr, owners[order]


def _first_names(column: pd.Series, ptr: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Artist display names aligned with the artist codes (first name seen for each id).

    ``artists`` and ``artist_ids`` are parallel lists; a row whose lists differ in length
    (a data error upstream) gives no names.
    """
    found = arrow_lists(column)
    if found is not None:
        lengths, values = found
        aligned = lengths == np.diff(ptr)
        keep = np.repeat(aligned, lengths)
        flat_codes = codes[np.repeat(aligned, np.diff(ptr))]
        names = np.full(n, "", dtype=object)
        if len(flat_codes):
            _, first = np.unique(flat_codes, return_index=True)
            chosen = values.filter(pa.array(keep)).take(pa.array(first))
            names[flat_codes[first]] = np.asarray(chosen.to_pylist(), dtype=object)
        return names
    cells = _cells(column)
    lengths = np.fromiter(map(len, cells), dtype=np.int64, count=len(cells))
    aligned = lengths == np.diff(ptr)
    flat = _flatten([c for c, ok in zip(cells, aligned) if ok], int(lengths[aligned].sum()))
    flat_codes = codes[np.repeat(aligned, np.diff(ptr))]
    names = np.full(n, "", dtype=object)
    if len(flat):
        _, first = np.unique(flat_codes, return_index=True)
        names[flat_codes[first]] = flat[first]
    return names


@dataclass(frozen=True)
class Filters:
    """Optional constraints on recommended items (all inclusive ranges; None = no constraint).

    ``explicit``: None allows everything, False keeps only clean tracks, True only explicit ones.
    """

    year_range: tuple[float, float] | None = None
    explicit: bool | None = None
    energy_range: tuple[float, float] | None = None
    clusters: tuple[int, ...] | None = None

    def mask(self, arrays: ItemArrays, items: np.ndarray) -> np.ndarray:
        """Boolean mask over the candidate ``items`` (item indices) that pass every filter."""
        ok = np.ones(len(items), dtype=bool)
        if self.year_range is not None:
            year = arrays.year[items]
            ok &= (year >= self.year_range[0]) & (year <= self.year_range[1]) & (year > 0)
        if self.explicit is not None:
            ok &= arrays.explicit[items] == self.explicit
        if self.energy_range is not None:
            energy = arrays.energy[items]  # NaN compares False: unknown energy fails the filter
            ok &= (energy >= self.energy_range[0]) & (energy <= self.energy_range[1])
        if self.clusters is not None:
            ok &= np.isin(arrays.cluster[items], np.asarray(self.clusters, dtype=np.int32))
        return ok


@dataclass(frozen=True)
class Ranked:
    """Chosen items in final order: item indices, model scores and re-ranked scores."""

    items: np.ndarray
    scores: np.ndarray
    rank_scores: np.ndarray


def largest_magnitude(values: np.ndarray) -> float:
    """``max |values|`` (0 for none), from a max and a min: no ``abs`` temporary of the array."""
    return max(float(np.max(values, initial=0.0)), -float(np.min(values, initial=0.0)))


def flatnonzero_sparse(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)`` of a 1-D boolean mask, faster when few entries hold.

    numpy walks every byte of a boolean mask branch-free: ~170 µs for 600k bytes with 0.16%
    true (a candidate threshold's share of a catalogue), against 20 µs to count them. This
    finds the 8-byte words that hold a True and walks only those, as one flat mask (in a
    request, right after the pass: 207 → 101 µs; counting the trues first cost 55 µs of the
    207 there, and a 2-D ``np.nonzero`` of the words 67). The word walk loses when many
    words hold a True (280 against numpy's 217 µs at 1%), so above one word in 32 numpy's
    own walk is used.
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    n8 = len(mask) - len(mask) % 8
    hot_words = mask[:n8].view(np.uint64) != 0
    if 32 * int(np.count_nonzero(hot_words)) > len(hot_words):
        return np.flatnonzero(mask)
    hot = np.flatnonzero(hot_words)
    found = np.flatnonzero(mask[:n8].reshape(-1, 8)[hot])  # the hot words' bytes, in order
    out = hot[found >> 3] * 8 + (found & 7)
    if n8 < len(mask):
        out = np.concatenate([out, n8 + np.flatnonzero(mask[n8:])])
    return out


def select_top(scores: np.ndarray, m: int) -> np.ndarray:
    """Positions of the ``m`` largest scores, sorted by score (descending).

    Exact, but cheaper than ``np.argpartition`` over a large array: a threshold guessed from a
    strided sample keeps a few times ``m`` positions in one comparison pass, and only those are
    partitioned. When the guess keeps fewer than ``m`` it falls back to a full argpartition.
    """
    n = len(scores)
    m = min(m, n)
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    if m == n:
        pos = np.arange(n)
    elif n <= _SMALL:
        pos = np.argpartition(scores, n - m)[n - m :]
    else:
        step = max(1, n // _SAMPLE)
        sample = scores[::step]
        # Expect about m·len(sample)/n sample values above the m-th score; aim for twice that.
        want = min(len(sample), int(2 * m * len(sample) / n) + 8)
        threshold = np.partition(sample, len(sample) - want)[len(sample) - want]
        pos = flatnonzero_sparse(scores >= threshold)
        if len(pos) < m or not np.isfinite(threshold):
            pos = np.argpartition(scores, n - m)[n - m :]
        elif len(pos) > m:
            pos = pos[np.argpartition(scores[pos], len(pos) - m)[len(pos) - m :]]
    return pos[np.argsort(-scores[pos], kind="stable")]


def first_candidates(k: int) -> int:
    """How many top scores a re-ranking takes first for ``k`` picks: ``max(2k, k + 25)``.

    Any count gives the same list (the candidates grow ×4 until the k-th pick clears the next
    score), but each candidate is re-scored from its factor row, a cache miss per column
    right after the pass. Against ``max(4k, k + 100)``: the model ranking's re-ranking took
    593 → 527 µs p50 at k=50 on the bench's 600k catalogue and 168 → 143 µs on the demo
    bundle (100 new listeners, the same lists; a one-off script). k + 25 alone was as fast at
    k=50, but a list capped at two tracks per artist needs room to drop some."""
    return max(2 * k, k + 25)


def rerank(
    scores: np.ndarray,
    arrays: ItemArrays,
    *,
    k: int,
    filters: Filters,
    max_per_artist: int | None,
    novelty: float = 0.0,
    freshness: float = 0.0,
    pos2item: np.ndarray | None = None,
    require_factors: bool = False,
    rescore: Callable[[np.ndarray], np.ndarray] | None = None,
    start: int | None = None,
) -> Ranked:
    """Choose ``k`` items from ``scores`` after filters, novelty/freshness and the artist cap.

    Parameters
    ----------
    scores : numpy.ndarray
        One score per position (masked positions hold ``-inf``).
    arrays : ItemArrays
        Per-item arrays of the catalogue.
    k : int
        Number of items wanted (fewer come back when not enough pass).
    filters : Filters
        Constraints checked on the candidates.
    max_per_artist : int or None
        At most this many chosen items share an artist (any of a track's artists counts);
        None or 0 disables the cap.
    novelty, freshness : float
        Re-ranked score = ``score − novelty·popularity + freshness·recency`` (both in [0, 1]).
    pos2item : numpy.ndarray, optional
        Item index of each score position (None: position = item index).
    require_factors : bool
        Drop candidates without ALS factors (their collaborative score is meaningless).
    rescore : callable, optional
        Exact (float64) scores for candidate positions; the float32 pass only nominates.
    start : int, optional
        The first candidate count (default :func:`first_candidates`): larger when the cap is known
        to reject many (a listener's own artists, capped at two tracks each).

    Returns
    -------
    Ranked
    """
    n = len(scores)
    m = min(n, start if start else first_candidates(k))
    cap = max_per_artist if max_per_artist and max_per_artist > 0 else None
    while True:
        pos = select_top(scores, m)
        bound = float(scores[pos[-1]]) + max(0.0, freshness) if m < n and len(pos) else -np.inf
        pos = pos[np.isfinite(scores[pos])]
        items = pos if pos2item is None else pos2item[pos]
        keep = filters.mask(arrays, items)
        if require_factors:
            keep &= arrays.has_factors[items]
        pos, items = pos[keep], items[keep]
        model = rescore(pos) if rescore is not None else scores[pos].astype(np.float64)
        final = model - novelty * arrays.popularity[items] + freshness * arrays.recency[items]
        order = np.argsort(-final, kind="stable")
        chosen = _cap_artists(items[order], arrays, k=k, cap=cap)
        picked = order[chosen]
        if not np.isfinite(bound) or (len(picked) == k and final[picked[-1]] >= bound):
            return Ranked(items[picked], model[picked], final[picked])
        m = min(n, 4 * m)


def _cap_artists(items: np.ndarray, arrays: ItemArrays, *, k: int, cap: int | None) -> np.ndarray:
    """Positions (into ``items``) of the first ``k`` items that respect the per-artist cap.

    Greedy in order. Items the greedy walk would reject anyway are dropped first, in numpy:
    a single-artist item after its artist's first ``cap`` single-artist items, and any item
    crediting an artist after that artist's ``cap``-th single-artist item (by then the artist
    is full, whichever of those items were taken). A capped list may walk thousands of
    candidates (a listener's most played artist has hundreds of tracks), the loop only the rest.
    """
    if cap is None:
        return np.arange(min(k, len(items)))
    ptr, codes = arrays.artist_ptr, arrays.artist_codes
    items = np.asarray(items, dtype=np.int64)
    starts = ptr[items]
    sizes = ptr[items + 1] - starts
    keep = np.ones(len(items), dtype=bool)
    singles = np.flatnonzero(sizes == 1)
    if len(singles):
        artist = codes[starts[singles]]
        order = np.argsort(artist, kind="stable")  # each artist's single items, in list order
        grouped = artist[order]
        head = np.concatenate(([True], grouped[1:] != grouped[:-1]))
        at = np.arange(len(grouped))
        rank = at - np.maximum.accumulate(np.where(head, at, 0))
        keep[singles[order[rank >= cap]]] = False
        full_at = np.full(len(arrays.artist_ids) + 1, len(items), dtype=np.int64)
        last = rank == cap - 1
        full_at[grouped[last]] = singles[order[last]]
        multi = np.flatnonzero(sizes > 1)
        if len(multi):
            owner = np.repeat(multi, sizes[multi])
            credited = codes[np.repeat(starts[multi] - np.cumsum(sizes[multi]) + sizes[multi], sizes[multi])
                             + np.arange(len(owner))]
            keep[owner[full_at[credited] < owner]] = False
    counts: dict[int, int] = {}
    chosen: list[int] = []
    for j in np.flatnonzero(keep).tolist():
        own = codes[starts[j] : starts[j] + sizes[j]].tolist()
        if any(counts.get(a, 0) >= cap for a in own):
            continue
        for a in own:
            counts[a] = counts.get(a, 0) + 1
        chosen.append(j)
        if len(chosen) == k:
            break
    return np.asarray(chosen, dtype=np.int64)


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (what ``np.unique`` gives, by sort: numpy 2's hash-based
    ``np.unique`` was measured 10-60x slower on a few thousand item indices)."""
    out = np.sort(np.asarray(values).ravel())
    if len(out) > 1:
        out = out[np.concatenate(([True], out[1:] != out[:-1]))]
    return out


def mask_positions(scores: np.ndarray, items: Iterable[int] | np.ndarray, item2pos: np.ndarray | None) -> None:
    """Set the scores of ``items`` to ``-inf`` in place (items outside the scored set are skipped)."""
    idx = np.asarray(list(items) if not isinstance(items, np.ndarray) else items, dtype=np.int64)
    if item2pos is not None and len(idx):
        idx = item2pos[idx]
        idx = idx[idx >= 0]
    if len(idx):
        scores[idx] = -np.inf


def as_range(value: Sequence[float] | None, name: str) -> tuple[float, float] | None:
    """Validate an inclusive ``(low, high)`` range argument."""
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        lo = hi = float("nan")
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ValueError(f"{name} must be (low, high) numbers with low <= high, got {value!r}")
    return (lo, hi)
