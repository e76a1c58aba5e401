"""Artist-level signals for serving: the listener's own artists, and which artists are like them.

Real listening is mostly artist-level (a Spotify export matched to a catalogue is ~96% artist-
only), so the lists of :mod:`engine.serving.lists` score *artists* first and tracks second.
Built once per bundle (:class:`ArtistSignals`), from what the bundle carries:

- **co-listening similarity** — the bundle's ``extra/artist_similar_*`` CSR (row ``a``: the top-N
  artists most similar to ``a``, scores in [0, 1], indices into ``extra/artist_ids``), when the
  bundle was trained on real listening;
- **genre similarity** — IDF-weighted cosine between artists' genre sets (the union of their
  tracks' genres), applied as two sparse products per request (``G (Gᵀ w)``), so no artist ×
  artist matrix is ever built: memory and time are O(artist–genre pairs), a few hundred
  thousand for a 600k-track catalogue;
- **collaborations** — artists credited together on a track (``artist_ids`` lists), degree-
  normalized, sparse;
- **artist factors** — ``extra/artist_factors`` (ALS over listener × artist, trained with the track
  model) when the bundle ships them. The listener's artist weights (their tracks' artists and
  the artist-only matches) are folded in over them with the same normal equations as the track
  model (:func:`engine.serving.foldin.solve_batch`), so an artist-only match enters at artist
  level. Without them there is no artist fold-in: the mean factor row of an artist's tracks was
  tried as a stand-in and lowered "New to you" on real HetRec listeners (new-artist hit@50
  0.028 -> 0.015 on a tuning split), so it is not used.

Every array is indexed by the recommender's artist codes (``ItemArrays.artist_ids``); bundle
arrays keyed by Spotify artist id are mapped onto them at load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine.core.weights import transform_weights
from engine.serving.foldin import solve_batch
from engine.serving.neighbours import segment_positions
from engine.serving.rerank import ItemArrays, list_codes

#: Bundle files of the optional artist model (``bundle.extra`` names).
ARTIST_IDS = "artist_ids"
ARTIST_FACTORS = "artist_factors"
ARTIST_SIMILAR = ("artist_similar_indptr", "artist_similar_indices", "artist_similar_scores")


@dataclass(frozen=True)
class SimilarityWeights:
    """How the artist-similarity spread mixes its sources (each term is in [0, 1] per pair)."""

    colistening: float = 1.0
    genres: float = 1.0
    collaborations: float = 0.5


@dataclass(frozen=True)
class ArtistFoldParams:
    """The confidence transform and λ of the artist fold-in (the bundle's training values)."""

    alpha: float
    reg_param: float
    transform: str = "raw"
    epsilon: float = 1.0
    clip: float = 100.0


class ArtistSignals:
    """Artist similarity and artist factors of one bundle, indexed by artist code."""

    def __init__(
        self,
        arrays: ItemArrays,
        genres: pd.Series,
        *,
        extra: Mapping[str, np.ndarray],
        rank: int,
        fold: ArtistFoldParams,
        weights: SimilarityWeights = SimilarityWeights(),
    ) -> None:
        self.arrays = arrays
        self.weights = weights
        self.fold_params = fold
        n_items, self.n_artists = len(arrays.has_factors), len(arrays.artist_ids)
        owners = np.repeat(np.arange(n_items, dtype=np.int64), np.diff(arrays.artist_ptr))
        ones = np.ones(len(owners), dtype=np.float32)
        #: [n_items, n_artists], 1 where the artist is credited on the track.
        self.item_artist = sp.csr_matrix((ones, (owners, arrays.artist_codes)), shape=(n_items, self.n_artists))
        self.item_artist.sum_duplicates()
        self.item_artist.data[:] = 1.0
        self.artist_items = self.item_artist.T.tocsr()
        self.n_tracks = np.diff(self.artist_items.indptr)
        firsts = np.diff(arrays.artist_ptr) > 0
        #: each item's first-credited artist (-1: none): the new list takes one track per first artist
        self.primary = np.full(n_items, -1, dtype=np.int64)
        self.primary[firsts] = arrays.artist_codes[arrays.artist_ptr[:-1][firsts]]
        self._genre, self._genre_names = _genre_profiles(self.artist_items, genres)
        self._genre_self = np.asarray(self._genre.multiply(self._genre).sum(axis=1)).ravel()  # 1, or 0 without genres
        self._collab = _collaborations(self.artist_items, self.item_artist)
        self._row_of_bundle = self._bundle_rows(extra)
        self._colisten = self._colistening(extra)
        self.factors, self.has_factors = self._factors(extra, int(rank))
        with_factors = self.factors[self.has_factors].astype(np.float64)
        self.gram = with_factors.T @ with_factors

    # -- bundle arrays ---------------------------------------------------------------------

    def _bundle_rows(self, extra: Mapping[str, np.ndarray]) -> np.ndarray | None:
        """Row of each artist code in ``extra/artist_ids`` (-1 when absent), or None."""
        if ARTIST_IDS not in extra:
            return None
        ids = pd.Index(np.asarray(extra[ARTIST_IDS]).astype(str))
        return ids.get_indexer(self.arrays.artist_ids.astype(str))

    def _colistening(self, extra: Mapping[str, np.ndarray]) -> sp.csr_matrix | None:
        rows = self._row_of_bundle
        if rows is None or not all(name in extra for name in ARTIST_SIMILAR):
            return None
        indptr, indices, scores = (np.asarray(extra[n]) for n in ARTIST_SIMILAR)
        n_bundle = len(indptr) - 1
        sim = sp.csr_matrix((scores.astype(np.float32), indices.astype(np.int64), indptr.astype(np.int64)),
                            shape=(n_bundle, n_bundle))
        code_of = np.full(n_bundle, -1, dtype=np.int64)
        known = rows >= 0
        code_of[rows[known]] = np.flatnonzero(known)
        coo = sim.tocoo()
        keep = (code_of[coo.row] >= 0) & (code_of[coo.col] >= 0)
        return sp.csr_matrix((np.clip(coo.data[keep], 0.0, 1.0), (code_of[coo.row[keep]], code_of[coo.col[keep]])),
                             shape=(self.n_artists, self.n_artists))

    def _factors(self, extra: Mapping[str, np.ndarray], rank: int) -> tuple[np.ndarray, np.ndarray]:
        """The bundle's artist factors by code (zero rows where absent) and which codes have them.

        Without artist factors in the bundle, a read-only broadcast zero row stands for the
        matrix: 29 MiB not held for nothing at 59k artists and rank 128."""
        rows = self._row_of_bundle
        if rows is None or ARTIST_FACTORS not in extra:
            none = np.broadcast_to(np.zeros((1, rank), dtype=np.float32), (self.n_artists, rank))
            return none, np.zeros(self.n_artists, dtype=bool)
        out = np.zeros((self.n_artists, rank), dtype=np.float32)
        bundle_factors = np.asarray(extra[ARTIST_FACTORS], dtype=np.float32)
        if bundle_factors.ndim != 2 or bundle_factors.shape != (len(extra[ARTIST_IDS]), rank):
            raise ValueError(f"extra/{ARTIST_FACTORS}.npy has shape {bundle_factors.shape}, expected "
                             f"({len(extra[ARTIST_IDS])}, {rank}): one row per extra/{ARTIST_IDS} entry, the items' rank")
        known = rows >= 0
        out[known] = bundle_factors[rows[known]]
        return out, known & (np.abs(out).sum(axis=1) > 0)

    # -- per request -----------------------------------------------------------------------

    def item_max(self, values: np.ndarray, *, fill: float, items: np.ndarray | None = None) -> np.ndarray:
        """Per item (every item, or ``items``), the max of the artist ``values`` over its
        credited artists (``fill`` for an item without artists)."""
        ptr, codes = self.arrays.artist_ptr, self.arrays.artist_codes
        items = np.arange(len(ptr) - 1) if items is None else np.asarray(items, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        starts = ptr[items]
        sizes = ptr[items + 1] - starts
        out = np.full(len(items), fill, dtype=np.float64)
        credited = np.flatnonzero(sizes > 0)
        out[credited] = values[codes[starts[credited]]]
        more, j = np.flatnonzero(sizes > 1), 1  # the j-th artist of the items that have one
        while len(more):
            out[more] = np.maximum(out[more], values[codes[starts[more] + j]])
            j += 1
            more = more[sizes[more] > j]
        return out

    def track_weights(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``[n_artists]`` float64: each of ``items``' weight given to every artist it credits
        (``item_artist[items].T @ weights``, the same sums bit for bit, from the CSR arrays)."""
        return _rows_t_dot(self.item_artist, np.asarray(items, dtype=np.int64), weights)

    def spread(self, share: np.ndarray) -> np.ndarray:
        """Similarity of every artist to the listener's artists, weighted by ``share`` ([n_artists], sums to 1).

        ``Σ_a share_a · (w_c·colisten(a, b) + w_g·genre_cos(a, b) + w_k·collab(a, b))``; an artist
        is not counted as similar to itself. Only the listener's rows of each matrix are read
        (``Mᵀ share`` over the artists with a share), then one product over the genre matrix.
        """
        w = self.weights
        out = np.zeros(self.n_artists, dtype=np.float64)
        own = np.flatnonzero(share != 0)  # a boolean walk: 24 against 104 µs over 59k float64 shares
        if not len(own):
            return out
        weights = np.asarray(share, dtype=np.float64)[own]
        if w.genres and self._genre.nnz:
            profile = _rows_t_dot(self._genre, own, weights)
            out += w.genres * (self._genre @ profile)
            out[own] -= w.genres * weights * self._genre_self[own]
        if w.collaborations and self._collab.nnz:
            out += w.collaborations * _rows_t_dot(self._collab, own, weights)  # symmetric
        if w.colistening and self._colisten is not None:
            out += w.colistening * _rows_t_dot(self._colisten, own, weights)
        return out

    def fold_in(self, weights: np.ndarray) -> np.ndarray | None:
        """The listener's vector over the artist factors (None when no weighted artist has factors)."""
        codes = np.flatnonzero((weights > 0) & self.has_factors)
        if not len(codes):
            return None
        p = self.fold_params
        conf = 1.0 + p.alpha * transform_weights(weights[codes], p.transform, epsilon=p.epsilon, clip=p.clip)
        rows = self.factors[codes].astype(np.float64)
        return solve_batch(self.gram, [rows], [conf], reg_param=p.reg_param)[0].x

    def factor_scores(self, weights: np.ndarray) -> np.ndarray:
        """``F @ x`` for every artist (NaN for artists without factors; all NaN without a fold-in)."""
        x = self.fold_in(weights)
        out = np.full(self.n_artists, np.nan)
        if x is not None:
            out[self.has_factors] = self.factors[self.has_factors].astype(np.float64) @ x
        return out

    def similarity_matrix(self, artists: np.ndarray, others: np.ndarray) -> np.ndarray:
        """The pairwise terms of :meth:`spread`, ``[len(artists), len(others)]`` (an artist is
        not similar to itself). Reads only the rows of ``artists`` and ``others``: the genre
        term is scipy's sparse product (artists of a large catalogue carry hundreds of genres,
        the union over their tracks: its inner loop is the work), the other two are gathered
        from the CSR arrays directly (scipy's fancy indexing costs more than the gather).
        (Walking the rows of ``others`` instead took 1.5 against 0.9 ms for a list's 25 new
        artists against a listener's 249 at 600k: 46k genre entries in the outer loop, not 6k.)"""
        artists, others = np.asarray(artists, dtype=np.int64), np.asarray(others, dtype=np.int64)
        w = self.weights
        out = np.zeros((len(artists), len(others)))
        if not len(artists) or not len(others):
            return out
        if w.genres and self._genre.nnz:
            out += w.genres * (self._genre[artists] @ self._genre[others].T).toarray()
        if w.collaborations and self._collab.nnz:
            out += w.collaborations * _block(self._collab, artists, others)
        if w.colistening and self._colisten is not None:
            out += w.colistening * _block(self._colisten, others, artists).T
        out[artists[:, None] == others[None, :]] = 0.0
        return out

    def shared_genres(self, artist: int, other: int, *, limit: int = 2) -> list[str]:
        """Genres two artists share, rarest first (by ``artist``'s IDF weight; ties by genre code)."""
        return self.shared_genres_many(np.array([artist]), np.array([other]), limit=limit)[0]

    def shared_genres_many(self, artists: np.ndarray, others: np.ndarray, *, limit: int = 2) -> list[list[str]]:
        """:meth:`shared_genres` of each pair ``(artists[p], others[p])``, from one gather of
        their genre rows (a list of cards asks for up to one pair per card; the work holds a
        pairs × genres table of booleans)."""
        g = self._genre
        artists, others = np.asarray(artists, dtype=np.int64), np.asarray(others, dtype=np.int64)
        mine, mine_pair = _entries(g, artists)
        theirs, their_pair = _entries(g, others)
        mine_genre = g.indices[mine]
        # Which of my genres the other artist holds: a pair × genre table, no sort (50 kB for
        # a list's 25 pairs and 2,000 genres; a list has at most options.MAX_K cards).
        theirs_held = np.zeros((len(others), g.shape[1]), dtype=bool)
        theirs_held[their_pair, g.indices[theirs]] = True
        hit = theirs_held[mine_pair, mine_genre]
        pair, genre, weight = mine_pair[hit], mine_genre[hit], g.data[mine][hit]  # by pair, genres ascending
        out: list[list[str]] = [[] for _ in range(len(artists))]
        # Each round takes every pair's rarest genre left (its largest weight; the first of
        # equal ones, the lowest code): ``limit`` linear passes over the few thousand shared
        # genres instead of sorting them all (a three-key lexsort took 0.4 ms for a list).
        left = np.arange(len(pair))
        for _ in range(limit):
            if not len(left):
                break
            p = pair[left]
            starts = np.flatnonzero(np.concatenate(([True], p[1:] != p[:-1])))
            best = np.maximum.reduceat(weight[left], starts)
            tops = left[weight[left] == np.repeat(best, np.diff(np.append(starts, len(p))))]
            top_pair = pair[tops]
            picked = tops[np.concatenate(([True], top_pair[1:] != top_pair[:-1]))]
            for q, c in zip(pair[picked].tolist(), genre[picked].tolist()):
                out[q].append(str(self._genre_names[c]))
            left = left[np.isin(left, picked, assume_unique=True, invert=True, kind="table")]
        return out


def _entries(matrix: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the entries of ``rows`` in the CSR arrays (row by row, stored order) and the
    position in ``rows`` each belongs to."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = matrix.indptr[rows].astype(np.int64)
    lengths = matrix.indptr[rows + 1].astype(np.int64) - starts
    return segment_positions(starts, lengths), np.repeat(np.arange(len(rows)), lengths)


def _block(matrix: sp.csr_matrix, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``matrix[rows][:, columns]`` as a dense float64 array (``columns`` distinct; repeated
    entries of one cell are summed, as scipy sums them)."""
    flat, row = _entries(matrix, rows)
    at = np.full(matrix.shape[1], -1, dtype=np.int64)
    at[columns] = np.arange(len(columns))
    col = at[matrix.indices[flat]]
    keep = col >= 0
    cells = np.bincount(row[keep] * len(columns) + col[keep], weights=matrix.data[flat[keep]],
                        minlength=len(rows) * len(columns))
    return cells.reshape(len(rows), len(columns))


def _rows_t_dot(matrix: sp.csr_matrix, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``matrix[rows].T @ weights`` (float64 ``[n_columns]``) without building the row slice:
    one gather and a bincount, which adds the products in the order scipy's transposed product
    does (row by row, each row's entries in stored order), so the sums are bit for bit the same.
    scipy's fancy row indexing and transposed product cost ~10x more in overhead for the few
    hundred rows of a listener."""
    flat, owner = _entries(matrix, rows)
    products = matrix.data[flat].astype(np.float64) * np.asarray(weights, dtype=np.float64)[owner]
    # (bincount gives int64 zeros for no entries at all, whatever the weights' dtype)
    return np.bincount(matrix.indices[flat], weights=products, minlength=matrix.shape[1]).astype(np.float64, copy=False)


def _genre_profiles(artist_items: sp.csr_matrix, genres: pd.Series) -> tuple[sp.csr_matrix, np.ndarray]:
    """Row-normalized IDF-weighted artist × genre matrix (genres of an artist = union over their
    tracks; canonical CSR, each row's genres ascending) and the genre names of its columns."""
    ptr, codes, uniques = list_codes(genres)
    n_items, n_genres = len(ptr) - 1, len(uniques)
    owners = np.repeat(np.arange(n_items, dtype=np.int64), np.diff(ptr))
    item_genre = sp.csr_matrix((np.ones(len(codes), dtype=np.float32), (owners, codes)), shape=(n_items, n_genres))
    ag = (artist_items @ item_genre).tocsr()
    ag.data[:] = 1.0
    df = np.bincount(ag.indices, minlength=n_genres).astype(np.float64)
    n_artists = max(1, int((np.diff(ag.indptr) > 0).sum()))
    idf = np.log((1 + n_artists) / (1 + df)) + 1.0
    ag = ag.multiply(idf[None, :]).tocsr()
    norms = np.sqrt(np.asarray(ag.multiply(ag).sum(axis=1)).ravel())
    ag = (sp.diags(np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)) @ ag).tocsr().astype(np.float64)
    ag.sum_duplicates()  # canonical: each row's genres ascending (ArtistSignals relies on it)
    return ag, np.asarray([str(g).strip().casefold() for g in uniques], dtype=object)


def _collaborations(artist_items: sp.csr_matrix, item_artist: sp.csr_matrix) -> sp.csr_matrix:
    """Artists credited together on a track: ``D^-1/2 C D^-1/2`` of the binary co-credit graph."""
    co = (artist_items @ item_artist).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    co.data[:] = 1.0
    deg = np.asarray(co.sum(axis=1)).ravel()
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    return (sp.diags(inv) @ co @ sp.diags(inv)).tocsr()
