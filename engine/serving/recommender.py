"""numpy serving of a model bundle: fold-in, recommend, explain, similar, cold start.

The app process imports this module; it (and everything it imports) uses numpy/pandas only —
no pyspark (no Java where the app runs), no streamlit. Usage::

    rec = Recommender.load(settings.models_dir, fallback_dir=ROOT / "models" / "demo")
    out = rec.recommend({"4uLU6hMCjMI75M1A2tKUQC": 12.0, ...}, Options(k=20, novelty=0.2))
    out.path, out.track_ids, out.explanations[0].because, out.unknown_ids

Paths (``Recommendations.path``):

- ``als``: at least one history track has ALS factors. The listener is folded in exactly
  (:mod:`engine.serving.foldin`), every item is scored with one ``Y @ x`` pass, and the re-ranker works
  on a small candidate set (:mod:`engine.serving.rerank`). Explanations list the history tracks that
  contribute most to each score (:mod:`engine.serving.explain`). When the bundle carries item
  neighbours and ``params["blend"]`` (bundles from ``engine train`` do), the served score is
  the blend of :mod:`engine.serving.blend`: the ALS score plus the standardised neighbour score of the
  history (and optionally a popularity prior), still in ALS units; each history track's
  contribution then includes its neighbour part. Older bundles serve ALS alone.
- ``cold-start:seeds``: no history track has factors, but the listener chose tracks, artists,
  genres or clusters on the page (known history tracks without factors count as chosen
  tracks); items are scored by :mod:`engine.serving.content`. To fold chosen songs into the ALS model
  instead, pass them as a history (e.g. weight 1 each).
- ``cold-start:popularity``: nothing usable at all — the bundle's popularity prior.

Weights are raw (play counts, recency-weighted counts, ...); fold-in applies the bundle's
training transform (``engine.core.weights``). They must be finite, > 0 and at most
``MAX_WEIGHT``; anything else raises ``ValueError`` naming the track and the value
(:mod:`engine.serving.options`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from engine.bundle.load import Bundle, load_current, release_pages
from engine.core.errors import BundleError
from engine.core.weights import transform_weights
from engine.serving import workers
from engine.serving.artists import ArtistFoldParams, ArtistSignals
from engine.serving.blend import Blend, UserBlend
from engine.serving.content import ColdStartWeights, ContentIndex, SeedScores
from engine.serving.explain import (
    als_explanations,
    cluster_of,
    content_explanation,
    recommendations_frame,
)
from engine.serving.foldin import FoldIn, contributions, one_blas_thread, solve_batch
from engine.serving.hybrid import factor_trust, similar_items
from engine.serving.listening import artist_weights_of
from engine.serving.lists import (
    BLENDED,
    FAMILIAR,
    NEW,
    ListRequest,
    ListScores,
    ListTables,
    ListWeights,
    artist_scores,
    artist_shares,
    blend_order,
    choose_lists,
    list_reasons,
)
from engine.serving.moments import ScoreMoments
from engine.serving.options import MAX_K, MAX_WEIGHT, Options, check_k, check_weights
from engine.serving.rerank import ItemArrays, Ranked, mask_positions, rerank
from engine.serving.results import (
    PATH_ALS,
    PATH_ARTISTS,
    PATH_POPULARITY,
    PATH_SEEDS,
    Explanation,
    ListStats,
    Reason,
    Recommendations,
    SimilarSongs,
    TasteLists,
)
from engine.serving.scan import ModelScores, Rescorer, Scan, factor_rows
from engine.serving.track_index import TrackIndex

__all__ = ["MAX_K", "MAX_WEIGHT", "Options", "Recommender", "Recommendations", "SimilarSongs", "Explanation"]

#: Bound on the score block of recommend_many (users × items float32), in elements.
_BLOCK_ELEMENTS = 1 << 24
#: The request of a bare ``recommend(history)``: 20 tracks, default re-ranking.
DEFAULT_OPTIONS = Options()


def _return_freed_memory() -> None:
    """Hand the memory freed by construction's temporaries back to the OS: Arrow's pool keeps
    its freed buffers and glibc its freed heap, which for a 600k catalogue left ~150 MiB of
    nothing counted in the serving process's RSS (measured with bench/serve.py)."""
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim this way
        pass


def _checked(options: Options) -> Options:
    """``options`` itself; a TypeError for anything else (e.g. a stale ``recommend(history, 20)``)."""
    if not isinstance(options, Options):
        raise TypeError(f"options must be an engine.serving.options.Options, got {type(options).__name__} "
                        f"(write recommend(history, Options(k=..., ...)))")
    return options


@dataclass(frozen=True)
class _History:
    """A validated history: known item indices with raw weights, split by ALS membership, and
    the artist-only weights by artist code."""

    als_items: np.ndarray
    als_weights: np.ndarray
    content_items: np.ndarray
    known_items: np.ndarray
    unknown: tuple[str, ...] = ()
    without_factors: tuple[str, ...] = ()
    known_weights: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    artist_codes: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    artist_values: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class _ScoredLists:
    """One request's two lists before they are explained, with the model terms behind them."""

    scored: ListScores
    model: ModelScores | None
    fold: FoldIn | None
    user: UserBlend | None
    path: str


def _interleave(picks: Sequence[tuple[Recommendations, int]], *, path: str, hist: _History) -> Recommendations:
    """A list made of entries of other lists: ``(list, position)`` pairs in order."""
    def take(values: Sequence[Any] | np.ndarray, dtype: Any) -> np.ndarray:
        return np.asarray(values, dtype=dtype)

    return Recommendations(
        track_ids=tuple(r.track_ids[j] for r, j in picks),
        scores=take([r.scores[j] for r, j in picks], np.float64),
        rank_scores=take([r.rank_scores[j] for r, j in picks], np.float64),
        explanations=tuple(r.explanations[j] for r, j in picks if r.explanations),
        path=path,
        unknown_ids=hist.unknown,
        without_factors=hist.without_factors,
        indices=take([r.indices[j] for r, j in picks], np.int64),
    )


class Recommender:
    """Serve one bundle; construction precomputes per-item arrays (a few seconds for 600k items).

    Thread-safe for concurrent requests (nothing is mutated after construction except lazily
    built lookup tables). One interface for every path: :meth:`recommend`, :meth:`similar`,
    :meth:`explain`.

    Parameters
    ----------
    bundle : Bundle
        A loaded bundle (``engine.bundle.load.load_bundle`` / ``load_current``).
    cold_start_weights : ColdStartWeights
        How the cold-start score mixes audio, genre, artist, cluster and popularity.
    similar_factor_weight : float
        β of the similar-songs blend (:mod:`engine.serving.similar_songs`).
    quantize : bool
        Serve from an int8 copy of the factors (:mod:`engine.serving.quantized`): the same
        lists, the model ranking from a pass over a quarter of the bytes, for ~150 MiB more
        RSS at 600k items (off by default). Needs non-negative weights on the model score
        (the pass bounds the scores from above only).
    """

    def __init__(
        self,
        bundle: Bundle,
        *,
        cold_start_weights: ColdStartWeights = ColdStartWeights(),
        similar_factor_weight: float = 0.7,
        list_weights: ListWeights = ListWeights(),
        quantize: bool = False,
    ) -> None:
        params = bundle.params
        for key in ("alpha", "reg_param"):
            if key not in params:
                raise BundleError(f"{bundle.path}: manifest params lack {key!r}; fold-in needs the training values")
        self.bundle = bundle
        self.alpha = float(params["alpha"])
        self.reg_param = float(params["reg_param"])
        self.transform = str(params.get("weight_transform", "raw"))
        self.epsilon = float(params.get("weight_epsilon", 1.0))
        self.clip = float(params.get("weight_clip", 100.0))
        self.cold_start_weights = cold_start_weights
        self.similar_factor_weight = float(similar_factor_weight)
        items = bundle.item_columns  # Arrow-backed: the object-backed bundle.items is never built here
        self._track_ids = items["track_id"].to_numpy(dtype=object)
        try:
            self._ids = TrackIndex(self._track_ids)  # its hash table is built now, not on the first request
        except ValueError as exc:
            raise BundleError(f"{bundle.path}: items.parquet has {exc}") from None
        self.arrays = ItemArrays.from_items(items, bundle.popularity)
        self.content = ContentIndex(items, np.asarray(bundle.audio_features), self.arrays, bundle.kmeans)
        self._gram = np.asarray(bundle.gram, dtype=np.float64)
        self._factors = np.asarray(bundle.item_factors)  # plain ndarray view of the memory map
        self._trust = factor_trust(self.arrays.has_factors, bundle.extra.get("item_listeners"))
        self._last = threading.local()  # the last listener solved per thread (see _listener)
        #: the request's steps beside each other on a helper thread, where that pays (workers)
        self._parallel = len(self._track_ids) >= workers.PARALLEL_FROM
        self.list_weights = list_weights
        self._setup_scan()
        self._setup_blend()
        self._setup_moments()
        self._setup_quantized(quantize)
        try:
            self.artists = ArtistSignals(
                self.arrays, items["genres"] if "genres" in items.columns else pd.Series([[]] * len(items)),
                extra=bundle.extra, rank=self._factors.shape[1],
                fold=ArtistFoldParams(self.alpha, self.reg_param, self.transform, self.epsilon, self.clip),
            )
        except ValueError as exc:
            raise BundleError(f"{bundle.path}: {exc}") from None
        # The lists' popularity is the catalogue's own (Spotify's 0-100): real, where the
        # bundle's prior may come from synthetic listeners.
        spotify_pop = pd.to_numeric(items["popularity"], errors="coerce").fillna(0).to_numpy(dtype=np.float64)
        self._catalog_popularity = np.clip(spotify_pop / 100.0, 0.0, 1.0)
        self._list_tables = ListTables(self.artists, self._catalog_popularity, list_weights)
        ranks = np.empty(len(spotify_pop))
        ranks[np.argsort(spotify_pop, kind="stable")] = np.arange(len(spotify_pop))
        self._popularity_pct = 100.0 * ranks / max(1, len(spotify_pop) - 1)
        if self.scan.quantized is not None:
            # Construction read every float32 row (the blend's sums, the int8 copy); serving
            # reads only the rows it re-scores (though the pages around them come back in time).
            release_pages(self._factors)
        _return_freed_memory()

    @property
    def track_ids(self) -> np.ndarray:
        """The track id of each bundle row (object array; read-only by convention)."""
        return self._track_ids

    @property
    def popularity_percentile(self) -> np.ndarray:
        """Each bundle row's percentile (0-100) of the catalogue's Spotify popularity, as the lists report it."""
        return self._popularity_pct

    def _setup_scan(self) -> None:
        """Choose the matrix the ``Y @ x`` pass scans (:class:`~engine.serving.scan.Scan`)."""
        self.scan = Scan.of(self._factors, self.arrays.has_factors)  # the int8 copy: _setup_quantized
        self._scan = self.scan.matrix
        self._pos2item = self.scan.pos2item
        self._item2pos = self.scan.item2pos
        self._require_factors = self.scan.require_factors

    def _setup_quantized(self, quantize: bool) -> None:
        """Add the int8 copy to the scan when ``quantize`` asks; a ValueError when a weight on
        the model score is negative (the pass's bounds would not hold)."""
        if not quantize:
            return
        negative = [name for name, w in (
            ("the blend's ALS weight", self._blend.weights.als if self._blend is not None else 1.0),
            ("ListWeights.familiar_model", self.list_weights.familiar_model),
            ("ListWeights.new_model", self.list_weights.new_model),
        ) if w < 0]
        if negative:
            raise ValueError(f"quantize=True needs non-negative weights on the model score: {', '.join(negative)} < 0")
        self.scan = self.scan.with_quantized()

    def _setup_blend(self) -> None:
        """The served blend (:mod:`engine.serving.blend`); None serves ALS alone (older bundles)."""
        try:
            self._blend = Blend.from_bundle_parts(
                self.bundle.params, self.bundle.extra, factors=self._factors, gram=self._gram,
                scored=self.arrays.has_factors,
            )
        except ValueError as exc:
            raise BundleError(f"{self.bundle.path}: {exc}") from None
        self._prior_scan: np.ndarray | None = None
        if self._blend is not None and self._blend.weights.popularity:
            prior = self._blend.prior if self._pos2item is None else self._blend.prior[self._pos2item]
            self._prior_scan = np.ascontiguousarray(prior, dtype=np.float32)

    def _setup_moments(self) -> None:
        """What the served scores' moments and size come from without a pass over them
        (:mod:`engine.serving.moments`, :meth:`_served_magnitude`); after the blend."""
        self._moments = ScoreMoments.of_bundle(
            self._factors, self._gram, self.arrays.has_factors,
            factor_sum=self._blend.factor_sum if self._blend is not None else None,
            prior=self._blend.prior if self._blend is not None and self._prior_scan is not None else None,
        )
        #: the largest item norm and prior part: the bound of the served scores' size
        self._max_norm = float(np.max(self.bundle.item_norms, initial=0.0))
        self._prior_max = float(np.max(np.abs(self._prior_scan), initial=0.0)) if self._prior_scan is not None else 0.0

    @property
    def blend(self) -> Blend | None:
        """The blend this bundle serves (None: ALS alone)."""
        return self._blend

    @classmethod
    def load(cls, models_dir: Path, *, fallback_dir: Path | None = None, **kwargs: Any) -> "Recommender":
        """The recommender of the serving bundle (``models/CURRENT``, else older, else fallback)."""
        return cls(load_current(models_dir, fallback_dir=fallback_dir), **kwargs)

    @property
    def version(self) -> str:
        """The bundle version being served."""
        return self.bundle.version

    @property
    def rank(self) -> int:
        """Number of latent factors."""
        return self.bundle.rank

    def index_of(self, track_ids: Sequence[str]) -> np.ndarray:
        """Item indices (rows of the items table) of ``track_ids``; -1 for unknown ids."""
        return self._ids.positions(track_ids)

    # -- fold-in ----------------------------------------------------------------------------

    def _parse(self, history: Mapping[str, float] | None) -> _History:
        if history is None:
            history = {}
        if not hasattr(history, "items"):
            raise TypeError(f"history must be a mapping track_id -> weight, got {type(history).__name__}")
        ids = [str(t) for t in history.keys()]
        weights = check_weights(ids, list(history.values()))
        idx = self._ids.positions(ids)
        known = idx >= 0
        unknown = tuple(t for t, ok in zip(ids, known) if not ok)
        idx, weights = idx[known], weights[known]
        has = self.arrays.has_factors[idx]
        codes, values = self._artist_history(artist_weights_of(history))
        return _History(
            idx[has], weights[has], idx[~has], idx, unknown, tuple(self._track_ids[idx[~has]].tolist()),
            known_weights=weights, artist_codes=codes, artist_values=values,
        )

    def _artist_history(self, artists: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Artist-only weights as (artist codes, raw weights); artists the bundle lacks are dropped."""
        if not artists:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        keys = [str(a) for a in artists]
        values = check_weights([f"artist {k}" for k in keys], list(artists.values()))
        groups = self.content.artist_code_lists(keys)  # a key naming several artists splits its weight
        counts = np.fromiter((len(g) for g in groups), dtype=np.int64, count=len(groups))
        codes = np.fromiter(itertools.chain.from_iterable(groups), dtype=np.int64, count=int(counts.sum()))
        return codes, np.repeat(values / np.maximum(counts, 1), counts)

    def _solve(self, histories: Sequence[_History]) -> list[FoldIn]:
        rows = [factor_rows(self._factors, h.als_items) for h in histories]
        conf = [
            1.0 + self.alpha * transform_weights(h.als_weights, self.transform, epsilon=self.epsilon, clip=self.clip)
            for h in histories
        ]
        return solve_batch(self._gram, rows, conf, reg_param=self.reg_param)

    def fold_in(self, history: Mapping[str, float]) -> np.ndarray:
        """The exact implicit-ALS user vector (float64 ``[rank]``) of ``history`` (track_id -> raw weight).

        Unknown ids and tracks without factors do not enter the solve; a history with none
        left gives the zero vector. Raises ``ValueError`` for a bad weight.
        """
        return self._solve([self._parse(history)])[0].x

    def fold_in_indices(self, indices: Sequence[int] | np.ndarray, weights: Sequence[float] | np.ndarray) -> np.ndarray:
        """:meth:`fold_in` for item indices (rows of the items table) and raw weights."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.ndim != 1 or len(idx) != len(weights):
            raise ValueError(f"indices and weights must be 1-D of equal length, got {idx.shape} and {len(weights)}")
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self._track_ids)):
            raise ValueError(f"item index out of range 0..{len(self._track_ids) - 1}")
        if len(np.unique(idx)) != len(idx):
            raise ValueError("duplicate item indices in the history; sum their weights first")
        w = check_weights([f"#{i}" for i in idx.tolist()], list(weights))
        has = self.arrays.has_factors[idx]
        return self._solve([_History(idx[has], w[has], idx[~has], idx)])[0].x

    def fold_in_many(self, histories: Sequence[Mapping[str, float]]) -> np.ndarray:
        """User vectors ``[len(histories), rank]`` from one batched solve (the values of fold_in)."""
        folds = self._solve([self._parse(h) for h in histories])
        return np.stack([f.x for f in folds]) if folds else np.zeros((0, self.rank))

    def score_items(self, histories: Sequence[Mapping[str, float]], rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Served scores ``[len(histories), len(rows)]`` of the bundle items ``rows``.

        The numbers :meth:`recommend` ranks by before re-ranking: ``Y @ x`` from the exact
        fold-in, plus the item-neighbour blend when the bundle serves one. For evaluating a
        bundle as it is served (the refresh quality gate); rows must have factors.
        """
        rows = np.asarray(rows, dtype=np.int64)
        hists = [self._parse(h) for h in histories]
        folds = self._solve(hists)
        x = np.stack([f.x for f in folds]) if folds else np.zeros((0, self.rank))
        out = x @ factor_rows(self._factors, rows).T
        if self._blend is not None and len(rows):
            item2pos = np.full(self._factors.shape[0], -1, dtype=np.int64)
            item2pos[rows] = np.arange(len(rows))
            prior = self._blend.prior[rows]
            for r, (fold, hist) in enumerate(zip(folds, hists)):
                user = self._user_blend(fold, hist)
                if user is not None:
                    self._blend.add_to(out[r], user, item2pos=item2pos, prior_scan=prior)
        return out

    # -- recommend --------------------------------------------------------------------------

    def recommend(
        self, history: Mapping[str, float] | None = None, options: Options = DEFAULT_OPTIONS
    ) -> Recommendations:
        """Recommend ``options.k`` tracks for a listener's ``history`` (track_id -> raw weight).

        Parameters
        ----------
        history : mapping, optional
            Raw weights (play counts, ...). Unknown ids come back in ``unknown_ids``.
        options : Options
            The request: k, filters, exclusions, re-ranking and seeds (see
            :class:`~engine.serving.options.Options`, which validates them when built).

        Returns
        -------
        Recommendations
            Fewer than ``k`` tracks only when the filters leave fewer. The list equals what a
            full pass over all items with the same filters and cap would return.

        Examples
        --------
        >>> out = rec.recommend({"4uLU6hMCjMI75M1A2tKUQC": 3.0}, Options(k=10, year_range=(1990, 2010)))
        >>> out.path, out.track_ids[0], out.explanations[0].because[0].track_id
        """
        opts = _checked(options)
        hist = self._parse(history)
        excluded = self._excluded(opts)
        if opts.discovery is not None:
            blended = self._blended(hist, opts, excluded, discovery=opts.discovery)
            if blended is not None:
                return blended
        return self._model_ranking(hist, opts, excluded)

    def lists(self, history: Mapping[str, float] | None = None, options: Options = DEFAULT_OPTIONS) -> TasteLists:
        """The two lists and their blend (:mod:`engine.serving.lists`) for one request.

        ``options.discovery`` is the dial of the blend (None counts as the default dial);
        ``lists(h, o).blended`` equals ``recommend(h, o)``. Each list comes with its
        :class:`~engine.serving.results.ListStats`. A history that names no artist of the
        bundle gets empty ``familiar`` / ``new`` lists and, as ``blended``, what :meth:`recommend`
        serves it: the model's ranking when the model knows one of its tracks, else the cold start.
        """
        opts = _checked(options)
        if opts.discovery is None:
            opts = dataclasses.replace(opts, discovery=DEFAULT_OPTIONS.discovery)
        hist = self._parse(history)
        excluded = self._excluded(opts)
        found = self._lists(hist, opts, excluded, discovery=float(opts.discovery))  # type: ignore[arg-type]
        if found is not None:
            return found
        blended = self._model_ranking(hist, opts, excluded)  # no artist of the bundle: what recommend() serves
        empty = self._result(Ranked(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)), (), blended.path, hist)
        return TasteLists(familiar=empty, new=empty, blended=blended, discovery=float(opts.discovery),  # type: ignore[arg-type]
                          stats={BLENDED: self.list_stats(blended.indices, np.zeros(self.artists.n_artists, dtype=bool))})

    def _model_ranking(self, hist: _History, opts: Options, excluded: np.ndarray) -> Recommendations:
        """The model's own ranking of ``hist`` (one pass, re-ranked, explained), or the cold
        start when the model knows none of its tracks."""
        if not len(hist.als_items):
            return self._cold_start(hist, opts, excluded)
        fold, user = self._listener(hist)
        return self._finish_als(self._nominating(fold, user), fold, hist, opts, excluded, user)

    def _nominating(self, fold: FoldIn, user: UserBlend | None) -> np.ndarray:
        """Served float32 scores that nominate candidates, to be re-scored exactly: the served
        pass (:meth:`_served_pass`), or the int8 pass's upper bounds with the blend added."""
        if self.scan.quantized is None:
            return self._served_pass(fold, user)
        upper = self.scan.quantized.upper(fold.x)
        self._add_blend(upper, user)
        return upper

    def list_stats(self, items: np.ndarray, own: np.ndarray) -> ListStats:
        """Share of new artists (no artist in ``own``) and median popularity percentile of ``items``."""
        items = np.asarray(items, dtype=np.int64)
        if not len(items):
            return ListStats(float("nan"), float("nan"))
        by_own = self.artists.item_max(own.astype(np.float64), fill=0.0, items=items) > 0
        return ListStats(float((~by_own).mean()), float(np.median(self._popularity_pct[items])))

    def served_scores(self, history: Mapping[str, float] | None) -> np.ndarray:
        """``[n_items]`` the served score of every item from one ``Y @ x`` pass (float32, as
        :meth:`recommend` nominates candidates; plus the item-neighbour blend when served); NaN
        for items without factors, and everywhere for a history without a fold-in."""
        model = self._model_scores(self._parse(history), exact_pass=True)[0]
        out = np.full(len(self._track_ids), np.nan, dtype=np.float32)
        if model is None:
            return out
        scan = model.scan
        if scan.pos2item is not None:  # a compact scan: positions are the items with factors
            out[scan.pos2item] = model.scores
        elif scan.require_factors:
            out[scan.has_factors] = model.scores[scan.has_factors]
        else:
            out[:] = model.scores
        return out

    def artist_weights(self, history: Mapping[str, float] | None) -> np.ndarray:
        """``[n_artists]`` the raw weight of each artist code in ``history``, as the lists read it:
        each known track's weight for every artist it credits, plus the artist-only matches."""
        return self._artist_weights(self._parse(history))

    def _artist_weights(self, hist: _History) -> np.ndarray:
        """The listener's raw weight per artist code: their known tracks' weights (every credited
        artist gets the track's weight) plus the artist-only matches."""
        weights = self.artists.track_weights(hist.known_items, hist.known_weights)  # zeros without tracks
        if len(hist.artist_codes):
            np.add.at(weights, hist.artist_codes, hist.artist_values)
        return weights

    def _model_scores(
        self, hist: _History, *, exact_pass: bool = False
    ) -> tuple[ModelScores | None, FoldIn | None, UserBlend | None]:
        """The served model scores of the scanned items (blend added in place) with their
        moments, and the fold-in behind them; None without a history the model knows.

        A quantized scan gives estimates, bounds and exact re-scoring (:class:`ModelScores`)
        unless ``exact_pass`` asks for the float32 pass's scores themselves."""
        if not len(hist.als_items):
            return None, None, None
        fold, user = self._listener(hist)  # kept per thread: "Why this?" reuses this solve
        if self.scan.quantized is None or exact_pass:
            scores = self._served_pass(fold, user)
            return ModelScores.of(scores, self.scan, moments=self._served_moments(fold, user, scores),
                                  magnitude=self._served_magnitude(fold, user)), fold, user
        estimate, upper = self.scan.quantized.scan(fold.x)
        self._add_blend(estimate, user)
        self._add_blend(upper, user)
        return ModelScores.of(estimate, self.scan, upper=upper, exact=self._rescorer(fold, user),
                              moments=self._served_moments(fold, user, estimate)), fold, user

    def _served_magnitude(self, fold: FoldIn, user: UserBlend | None) -> float:
        """An upper bound of the served scores' largest magnitude, without a pass: Cauchy–Schwarz
        on the ALS part (the largest item norm), plus the largest bonus and the prior's largest
        part; a relative 1e-5 more covers the float32 pass's rounding."""
        bound = float(np.linalg.norm(fold.x)) * self._max_norm
        if user is not None:
            bound = abs(user.als_weight) * bound + (float(np.abs(user.nb_values).max()) if len(user.nb_values) else 0.0)
            if self._prior_scan is not None:
                bound += abs(user.pop_coef) * self._prior_max
        return bound * (1.0 + 1e-5)

    def _served_moments(self, fold: FoldIn, user: UserBlend | None, scores: np.ndarray) -> tuple[float, float]:
        """Mean and std of the served scores over the items with factors, from the bundle's sums
        and the bonused items' ``scores`` (:mod:`engine.serving.moments`): no pass over them."""
        if user is None:
            return self._moments.of(fold.x)
        pos = self.scan.positions(user.nb_items)  # -1: an item without factors (not in the moments)
        ok = pos >= 0
        return self._moments.of(
            fold.x, als_weight=user.als_weight, prior_coef=user.pop_coef if self._prior_scan is not None else 0.0,
            bonuses=user.nb_values[ok], served=scores[pos[ok]],
        )

    def _served_pass(self, fold: FoldIn, user: UserBlend | None) -> np.ndarray:
        """The served float32 score at every scan position from the float32 pass: ``Y @ x``
        started from the blend's neighbour bonuses when it can (:meth:`Blend.start`), then
        the rest of the blend."""
        start = None
        if user is not None:
            start = self._blend.start(user, len(self._scan), item2pos=self._item2pos)  # type: ignore[union-attr]
        scores = self.scan.scores(fold.x, start=start)
        self._add_blend(scores, user, started=start is not None)
        return scores

    def _add_blend(self, scores: np.ndarray, user: UserBlend | None, *, started: bool = False) -> None:
        """The blend's terms added to a pass's scores in place (nothing serving ALS alone;
        ``started``: the pass began from the blend's :meth:`Blend.start`)."""
        if user is not None:
            self._blend.add_to(scores, user, item2pos=self._item2pos, prior_scan=self._prior_scan,  # type: ignore[union-attr]
                               started=started)

    def _rescorer(self, fold: FoldIn, user: UserBlend | None) -> Rescorer:
        """The exact (float64) served score at scan positions, from the float32 rows."""
        if user is None:
            return Rescorer(self.scan, fold.x)
        pos2item = self._pos2item
        return Rescorer(self.scan, fold.x, lambda als, pos: user.score(als, pos if pos2item is None else pos2item[pos]))

    def _scored_lists(self, hist: _History, opts: Options, excluded: np.ndarray) -> _ScoredLists | None:
        """Both lists of one request (re-ranked, not yet explained) and what explaining them
        needs, or None when the history names no artist of the bundle."""
        weights = self._artist_weights(hist)
        if not (weights > 0).any():
            return None
        # The new list's artist scores need no model: beside the fold-in (a helper thread on a
        # large catalogue).
        run = workers.beside if self._parallel else workers.inline
        share = artist_shares(weights)  # both lists' and the artist scores'
        scoring = run(artist_scores, self.artists, self._list_tables.weights, weights, share=share)
        model, fold, user = self._model_scores(hist)
        blocked = np.concatenate([hist.known_items, excluded]) if opts.exclude_known else excluded
        request = ListRequest(opts.k, opts.max_per_artist, opts.filters, opts.novelty, opts.freshness)
        with one_blas_thread():
            scored = choose_lists(self.artists, self._list_tables, model, weights, arrays=self.arrays,
                                  blocked=blocked, request=request, artist_score=scoring.result(), share=share,
                                  parallel=self._parallel)
        return _ScoredLists(scored, model, fold, user, PATH_ALS if fold is not None else PATH_ARTISTS)

    def _blended(self, hist: _History, opts: Options, excluded: np.ndarray, *, discovery: float) -> Recommendations | None:
        """``recommend``'s list: the blend of the two lists at ``discovery``, explained (its k
        tracks only: the two lists themselves are never turned into results), or None when
        the history names no artist of the bundle. Equals ``lists(...).blended``."""
        found = self._scored_lists(hist, opts, excluded)
        if found is None:
            return None
        scored = found.scored
        order = blend_order(scored.familiar, scored.new, k=opts.k, discovery=discovery)
        lists = {FAMILIAR: scored.familiar, NEW: scored.new}
        items = np.asarray([lists[name].items[j] for name, j in order], dtype=np.int64)
        rank_scores = np.asarray([lists[name].rank_scores[j] for name, j in order], dtype=np.float64)
        shown = Ranked(items, np.zeros(len(items)), rank_scores)
        with one_blas_thread():
            return self._list_result(shown, found.model, found.fold, found.user, hist, scored, opts, found.path)

    def _lists(self, hist: _History, opts: Options, excluded: np.ndarray, *, discovery: float) -> TasteLists | None:
        """The three lists, each explained, with their stats; None when the history names no
        artist of the bundle."""
        found = self._scored_lists(hist, opts, excluded)
        if found is None:
            return None
        scored, model, fold, user, path = found.scored, found.model, found.fold, found.user, found.path
        fam, new = scored.familiar, scored.new
        order = blend_order(fam, new, k=opts.k, discovery=discovery)
        with one_blas_thread():
            out = {name: self._list_result(r, model, fold, user, hist, scored, opts, path)
                   for name, r in ((FAMILIAR, fam), (NEW, new))}
        out[BLENDED] = _interleave([(out[name], j) for name, j in order], path=path, hist=hist)
        stats = {name: self.list_stats(r.indices, scored.own) for name, r in out.items()}
        return TasteLists(familiar=out[FAMILIAR], new=out[NEW], blended=out[BLENDED], discovery=discovery, stats=stats)

    def _list_result(
        self, ranked: Ranked, model: ModelScores | None, fold: FoldIn | None, user: UserBlend | None,
        hist: _History, scored: ListScores, opts: Options, path: str, *, explain: bool = True,
    ) -> Recommendations:
        """A list as :class:`Recommendations`: model scores (NaN without), list scores, reasons."""
        items = ranked.items
        values = model.at(items) if model is not None else np.full(len(items), np.nan)
        with_model = Ranked(items, values, ranked.rank_scores)
        explanations: tuple[Explanation, ...] = ()
        if explain and opts.explain and len(items):
            base = [Explanation(cluster=cluster_of(self.arrays, int(i))) for i in items.tolist()]
            factored = np.flatnonzero(self.arrays.has_factors[items])
            if fold is not None and len(factored):
                for at, e in zip(factored.tolist(), self._explain_als(fold, hist, items[factored], top=3, user=user)):
                    base[at] = e
            reasons = list_reasons(items, self.arrays, self.artists, scored)
            explanations = tuple(dataclasses.replace(e, reasons=tuple(r) + e.reasons) for e, r in zip(base, reasons))
        return self._result(with_model, explanations, path, hist)

    def recommend_many(
        self, histories: Sequence[Mapping[str, float] | None], options: Options = DEFAULT_OPTIONS
    ) -> list[Recommendations]:
        """:meth:`recommend` for many listeners: one batched fold-in, matrix-matrix scoring.

        Takes one :class:`~engine.serving.options.Options` (the same for every listener) and
        returns the lists the single calls would return.
        """
        opts = _checked(options)
        if opts.discovery is not None:  # the lists are per listener: one request each
            return [self.recommend(h, opts) for h in histories]
        parsed = [self._parse(h) for h in histories]
        excluded = self._excluded(opts)
        out: list[Recommendations | None] = [None] * len(parsed)
        warm = [u for u, h in enumerate(parsed) if len(h.als_items)]
        folds = dict(zip(warm, self._solve([parsed[u] for u in warm])))
        block = max(1, _BLOCK_ELEMENTS // max(1, self._scan.shape[0]))
        for start in range(0, len(warm), block):
            users = warm[start : start + block]
            scores = np.stack([folds[u].x for u in users]).astype(np.float32) @ self._scan.T  # [users, positions]
            for row, u in zip(scores, users):
                user = self._user_blend(folds[u], parsed[u])
                self._add_blend(row, user)
                out[u] = self._finish_als(row, folds[u], parsed[u], opts, excluded, user)
        for u, h in enumerate(parsed):
            if out[u] is None:
                out[u] = self._cold_start(h, opts, excluded)
        return out  # type: ignore[return-value]

    def _excluded(self, opts: Options) -> np.ndarray:
        """Item indices the request excludes by id or by artist."""
        parts = [np.zeros(0, dtype=np.int64)]
        if opts.exclude_ids:
            parts.append(self.index_of(opts.exclude_ids))
        if opts.exclude_artists:
            parts.append(self.content.items_of_artists(self.content.artist_codes(opts.exclude_artists)[0]))
        found = np.concatenate(parts).astype(np.int64)
        return found[found >= 0]

    def _rerank(self, scores: np.ndarray, opts: Options, **kwargs: Any) -> Ranked:
        return rerank(
            scores, self.arrays, k=opts.k, filters=opts.filters, max_per_artist=opts.max_per_artist,
            novelty=opts.novelty, freshness=opts.freshness, **kwargs,
        )

    def _finish_als(
        self, scores: np.ndarray, fold: FoldIn, hist: _History, opts: Options, excluded: np.ndarray,
        user: UserBlend | None,
    ) -> Recommendations:
        """Mask, re-rank and explain one listener's nominating scores (``scores``: the served
        float32 pass, or the int8 pass's upper bounds with the blend added; modified). The
        candidates are re-scored exactly."""
        # Masking writes only the listed positions: no full-size boolean pass.
        if opts.exclude_known:
            mask_positions(scores, hist.known_items, self._item2pos)
        mask_positions(scores, excluded, self._item2pos)
        rescore = self._rescorer(fold, user)
        with one_blas_thread():  # only small products from here on
            ranked = self._rerank(
                scores, opts, pos2item=self._pos2item, require_factors=self._require_factors, rescore=rescore,
            )
            explanations: tuple[Explanation, ...] = ()
            if opts.explain:
                rows = rescore.rows_at(self.scan.positions(ranked.items))  # the picks were re-scored
                explanations = self._explain_als(fold, hist, ranked.items, top=3, user=user, rows=rows)
        return self._result(ranked, explanations, PATH_ALS, hist)

    def _listener(self, hist: _History) -> tuple[FoldIn, UserBlend | None]:
        """The fold-in and blend terms of one history. The last ones are kept per thread, so a
        page that recommends and then explains every card ("Why this?") solves the history once;
        the key is the exact history, so a changed weight solves again."""
        key = (hist.als_items.tobytes(), hist.als_weights.tobytes())
        last = getattr(self._last, "entry", None)
        if last is not None and last[0] == key:
            return last[1], last[2]
        fold = self._solve([hist])[0]
        user = self._user_blend(fold, hist)
        self._last.entry = (key, fold, user)
        return fold, user

    def _user_blend(self, fold: FoldIn, hist: _History) -> UserBlend | None:
        if self._blend is None:
            return None
        weights = transform_weights(hist.als_weights, self.transform, epsilon=self.epsilon, clip=self.clip)
        return self._blend.for_user(fold.x, hist.als_items, weights)

    def _explain_als(
        self, fold: FoldIn, hist: _History, items: np.ndarray, *, top: int | None, user: UserBlend | None = None,
        rows: np.ndarray | None = None,
    ) -> tuple[Explanation, ...]:
        """Per-history-item contributions: ALS (Hu–Koren–Volinsky) plus, when blended, the
        neighbour part; a popularity prior's part becomes a ``popularity`` reason. ``rows``:
        the items' factor rows (float64), when read already."""
        contrib = self._contributions(fold, hist, items, user, rows=rows)
        out = als_explanations(contrib, self._track_ids[hist.als_items], items, self.arrays, top=top)
        if user is None or not user.pop_coef:
            return out
        prior = user.popularity_part(items)
        return tuple(
            dataclasses.replace(e, reasons=e.reasons + (Reason("popularity", f"{p:.3f}"),)) for e, p in zip(out, prior.tolist())
        )

    def _contributions(self, fold: FoldIn, hist: _History, items: np.ndarray, user: UserBlend | None, *,
                       rows: np.ndarray | None = None) -> np.ndarray:
        """``[len(items), len(hist.als_items)]``: each history item's part in each item's score
        (``rows``: the items' factor rows, float64, when read already)."""
        contrib = contributions(fold, factor_rows(self._factors, items) if rows is None else rows)
        if user is None:
            return contrib
        return user.als_weight * contrib + user.contributions(items, len(hist.als_items))

    def _cold_start(self, hist: _History, opts: Options, excluded: np.ndarray) -> Recommendations:
        seed_idx = self.index_of(opts.seed_tracks) if opts.seed_tracks else np.zeros(0, dtype=np.int64)
        unknown_seed_tracks = tuple(t for t, i in zip(opts.seed_tracks, seed_idx) if i < 0)
        chosen = np.unique(np.concatenate([hist.content_items, seed_idx[seed_idx >= 0]]).astype(np.int64))
        seeds = self.content.resolve_seeds(
            tracks=chosen, artists=opts.seed_artists, genres=opts.seed_genres, clusters=opts.seed_clusters,
        )
        seed_scores: SeedScores | None = None
        if seeds:
            seed_scores = self.content.seed_scores(seeds, self.cold_start_weights)
            scores, path = seed_scores.total, PATH_SEEDS
        else:
            scores, path = self.arrays.popularity.astype(np.float64), PATH_POPULARITY
        if opts.exclude_known:
            mask_positions(scores, np.concatenate([hist.known_items, chosen]), None)
        mask_positions(scores, excluded, None)
        ranked = self._rerank(scores, opts)
        explanations: tuple[Explanation, ...] = ()
        if opts.explain:
            explanations = tuple(
                content_explanation(i, seed_scores, self.arrays, self.content) for i in ranked.items.tolist()
            )
        return self._result(
            ranked, explanations, path, hist, unknown_extra=unknown_seed_tracks, unknown_seeds=seeds.unknown
        )

    def _result(
        self,
        ranked: Ranked,
        explanations: tuple[Explanation, ...],
        path: str,
        hist: _History,
        *,
        unknown_extra: tuple[str, ...] = (),
        unknown_seeds: tuple[str, ...] = (),
    ) -> Recommendations:
        return Recommendations(
            track_ids=tuple(self._track_ids[ranked.items].tolist()),
            scores=ranked.scores,
            rank_scores=ranked.rank_scores,
            explanations=explanations,
            path=path,
            unknown_ids=hist.unknown + unknown_extra,
            without_factors=hist.without_factors,
            unknown_seeds=unknown_seeds,
            indices=ranked.items,
        )

    # -- explain, similar, display -----------------------------------------------------------

    def explain(self, history: Mapping[str, float], track_id: str, *, top: int | None = None) -> Explanation:
        """Every history track's contribution to ``track_id``'s ALS score (all when ``top`` is None).

        ``sum(c.value for c in because) + rest`` equals ``y_iᵀx`` (for a blended bundle: the
        served score minus a popularity reason's part, see :mod:`engine.serving.blend`). Raises ``ValueError`` for an
        unknown track; a track without factors (or a history without any) gets no contributions.
        """
        return self.explain_many(history, [track_id], top=top)[0]

    def contributions(
        self, history: Mapping[str, float], track_ids: Sequence[str]
    ) -> tuple[tuple[str, ...], np.ndarray]:
        """Every history track's part in each of ``track_ids``' scores, from one fold-in.

        Returns the history track ids that enter the fold-in (known, with factors) and a float64
        matrix ``[len(track_ids), len(those ids)]`` whose rows sum to :meth:`explain`'s
        ``sum(because) + rest`` (rows of tracks without factors are 0). For callers that need
        all of them as numbers (``engine.serving.listens``) rather than as reasons.
        """
        items = np.array([self._lookup(t) for t in track_ids], dtype=np.int64)
        hist = self._parse(history)
        ids = tuple(self._track_ids[hist.als_items].tolist())
        out = np.zeros((len(items), len(ids)))
        scored = np.flatnonzero(self.arrays.has_factors[items]) if len(ids) else np.zeros(0, dtype=np.int64)
        if len(scored):
            fold, user = self._listener(hist)
            out[scored] = self._contributions(fold, hist, items[scored], user)
        return ids, out

    def explain_many(
        self, history: Mapping[str, float], track_ids: Sequence[str], *, top: int | None = None
    ) -> tuple[Explanation, ...]:
        """:meth:`explain` for several tracks with one fold-in (e.g. every card of a page)."""
        items = np.array([self._lookup(t) for t in track_ids], dtype=np.int64)
        hist = self._parse(history)
        out = [Explanation(cluster=cluster_of(self.arrays, int(i))) for i in items.tolist()]
        scored = np.flatnonzero(self.arrays.has_factors[items]) if len(hist.als_items) else np.zeros(0, dtype=np.int64)
        if len(scored):
            fold, user = self._listener(hist)
            found = self._explain_als(fold, hist, items[scored], top=top, user=user)
            for at, explanation in zip(scored.tolist(), found):
                out[at] = explanation
        return tuple(out)

    def similar(self, track_id: str, k: int = 10) -> SimilarSongs:
        """Tracks most similar to ``track_id``: factor cosine blended with audio cosine.

        See :mod:`engine.serving.similar_songs` for the blend. Raises ``ValueError`` for an unknown track.
        """
        k = check_k(k)
        q = self._lookup(track_id)
        found = similar_items(
            q, k, factors=self._factors, scan=self._scan, pos2item=self._pos2item,
            item_norms=self.bundle.item_norms, has_factors=self.arrays.has_factors, trust=self._trust,
            content=self.content, factor_weight=self.similar_factor_weight,
        )
        return SimilarSongs(
            query=str(track_id),
            track_ids=tuple(self._track_ids[found["items"]].tolist()),
            scores=found["scores"],
            signals=tuple("factors" if f else "audio" for f in found["by_factors"].tolist()),
            factor_sims=found["factor_sims"],
            audio_sims=found["audio_sims"],
            indices=found["items"],
        )

    def _lookup(self, track_id: str) -> int:
        idx = int(self._ids.positions([str(track_id)])[0])
        if idx < 0:
            raise ValueError(f"unknown track id {track_id!r}: not in model bundle {self.version}")
        return idx

    def frame(self, recs: Recommendations) -> pd.DataFrame:
        """Recommendations joined with the items table (see ``engine.serving.explain.recommendations_frame``)."""
        return recommendations_frame(self.bundle.item_columns, self._ids.index, recs)
