"""Playlist continuation, evaluated as the RecSys Challenge 2018 does (``engine evaluate --continuation``).

The protocol, the same for every model:

1. **Data as playlists** (:func:`load_playlists`), each an ordered list of items:
   ``playlists`` — the **synthetic** playlist-shaped benchmark
   (:mod:`engine.ingest.playlists_synthetic`), in list order; ``hetrec`` — Last.fm HetRec 2011,
   each user's artists as a playlist (items are artists; HetRec has no order, so a seeded
   shuffle); ``demo`` — the **synthetic** demo listeners, each history in time order (the only
   data whose items are catalogue tracks with artists, sounds and years). Membership is binary;
   items in fewer than 2 playlists are dropped first, as ``engine evaluate`` does.
2. **Split by playlist** (:func:`split_playlists`): two disjoint seeded sets of playlists with at
   least ``max(seeds) + MIN_HIDDEN`` items — *validation* (chooses the fit weights) and *test*
   (reported), each ``min(n_test, 15%)`` — are left out of training entirely, as the challenge's
   playlists are absent from the Million Playlist Dataset. Everything else trains.
3. **Train** the served model with the project's own train stage
   (:func:`engine.training.run.train` on Spark, the ALS, neighbour, artist and KMeans steps of
   ``python -m engine train``) on the training playlists, write the bundle to a scratch folder
   and serve it with :class:`~engine.serving.recommender.Recommender`.
4. **Seed and hide**: for each seed size k (default 5, 10, 25) a test playlist's first k items
   are the seed (folded in; never recommended) and the rest are hidden (:func:`seed_split`).
5. **Score 500 recommendations** per playlist and seed from each model: the served
   continuation (:mod:`engine.serving.continuation`, with its default weights, with the weights
   chosen on validation, and the model's ranking alone), item-kNN (cosine, 100 neighbours per
   item, :class:`~engine.evaluation.baselines.ItemKnn`; items no seed item votes for follow by
   popularity) and most popular — both fitted on the same training playlists.
6. **Metrics** (the challenge's, track level): R-precision, NDCG over the 500, and recommended
   songs clicks (:mod:`engine.evaluation.metrics`), averaged over test playlists.

numpy/pandas except the training step; the report goes to ``continuation.json`` / ``.md``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from engine.bundle.load import load_bundle
from engine.bundle.publish import write_bundle
from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.files import atomic_write_text
from engine.core.progress import Progress
from engine.evaluation import metrics as M
from engine.evaluation.baselines import ItemKnn, MostPopular
from engine.evaluation.datasets import need_raw, raw_data_dirs
from engine.ingest.playlists_synthetic import make_playlists
from engine.serving.continuation import (
    DEFAULT_WEIGHTS,
    MODEL_ONLY,
    FitTerms,
    FitWeights,
    Playlist,
    combine,
    fit_terms,
    model_scores,
)
from engine.serving.recommender import Recommender
from engine.spark.schemas import interactions_schema
from engine.training.als import AlsParams
from engine.training.params import ServedChoice
from engine.training.run import train

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: ``--data`` names of the continuation evaluation.
CONTINUATION_DATA = ("playlists", "hetrec", "demo")
SEEDS = (5, 10, 25)
#: Recommendations scored per playlist (the challenge's list length).
N_RECOMMEND = 500
#: A test playlist hides at least this many items at the largest seed size.
MIN_HIDDEN = 5
#: Validation and test playlists, each: at most this many, and at most TEST_SHARE of the playlists.
N_TEST = 500
TEST_SHARE = 0.15
#: Size of the synthetic benchmark here (smaller than ``--data playlists``' 7,000: a bundle is trained).
DEFAULT_PLAYLISTS = 3000
#: The fit-weight grid searched on validation (only where items have artists, sounds or years).
GRID: dict[str, tuple[float, ...]] = {"artist": (0.0, 1.0, 2.0, 4.0, 8.0), "sound": (0.0, 0.5, 1.0, 2.0, 4.0),
                                      "era": (0.0, 0.5, 1.0, 2.0), "recent": (1.0, 2.0, 4.0)}
SERVED, SERVED_TUNED, MODEL_RANKING, ITEM_KNN, MOST_POPULAR = (
    "served continuation", "served, weights chosen on validation", "served model's ranking alone",
    "item-kNN", "most popular")
METRICS = ("r_precision", "ndcg", "clicks")


# -- data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaylistData:
    """Playlists of one source: ``rows`` (``user_id, track_id``, one row per item, in each
    playlist's order), what they are, and how their order was made."""

    name: str
    description: str
    rows: pd.DataFrame
    order: str


def load_playlists(name: str, settings: Settings, *, data_dir: Path | None = None,
                   n_playlists: int = DEFAULT_PLAYLISTS, seed: int = 42) -> PlaylistData:
    """One of :data:`CONTINUATION_DATA` as ordered playlists (InputError naming a missing file)."""
    if name == "playlists":
        frame = make_playlists(n_playlists=n_playlists, seed=seed).sort_values(["user_id", "ts"], kind="stable")
        return PlaylistData(name, f"synthetic playlists: {n_playlists:,} lists (engine.ingest.playlists_synthetic, "
                            f"seed {seed})", frame[["user_id", "track_id"]], "list order")
    if name == "hetrec":
        path = need_raw(raw_data_dirs(settings, data_dir), "hetrec2011_user_artists.dat.gz", "user_artists.dat")
        raw = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        raw.columns = [c.strip() for c in raw.columns]
        for col in ("userID", "artistID"):
            if col not in raw.columns:
                raise InputError(f"{path}: no column {col!r} (has {', '.join(raw.columns)})")
        frame = pd.DataFrame({"user_id": "hetrec:" + raw["userID"], "track_id": "hetrec:a" + raw["artistID"]})
        # No order in HetRec: a seeded shuffle per user (a hash of seed, user, item, like the splits).
        key = pd.util.hash_pandas_object(frame["user_id"] + "|" + frame["track_id"] + f"|{seed}", index=False)
        frame = frame.assign(_k=key.to_numpy()).sort_values(["user_id", "_k"], kind="stable")
        return PlaylistData(name, f"Last.fm HetRec 2011: each user's artists as a playlist ({path.name})",
                            frame[["user_id", "track_id"]], "seeded shuffle (HetRec has no order)")
    if name == "demo":
        path = settings.parquet_dir / "interactions_demo"
        if not path.exists():
            raise InputError(f"demo interactions {path} not found: run `python -m engine prepare` first")
        frame = pd.read_parquet(path, columns=["user_id", "track_id", "ts"])
        frame = frame.sort_values(["user_id", "ts", "track_id"], kind="stable")
        return PlaylistData(name, "synthetic demo listeners: each history as a playlist", frame[["user_id", "track_id"]],
                            "time order")
    raise InputError(f"--data {name!r}: the continuation evaluation takes {', '.join(CONTINUATION_DATA)}")


def ordered_playlists(rows: pd.DataFrame, *, min_playlists: int = 2) -> dict[str, list[str]]:
    """Playlist id -> its items in order (each once, at its first place), items in fewer than
    ``min_playlists`` playlists dropped."""
    rows = rows.drop_duplicates(["user_id", "track_id"])
    counts = rows["track_id"].map(rows["track_id"].value_counts())
    rows = rows[counts.to_numpy() >= min_playlists]
    return {str(u): list(g) for u, g in rows.groupby("user_id", sort=True)["track_id"]}


@dataclass(frozen=True)
class ContinuationSplit:
    """Playlist ids that train, and the validation and test playlists (id -> items in order)."""

    train: tuple[str, ...]
    validation: Mapping[str, list[str]]
    test: Mapping[str, list[str]]


def split_playlists(playlists: Mapping[str, list[str]], *, seeds: Sequence[int] = SEEDS, n_test: int = N_TEST,
                    seed: int = 42) -> ContinuationSplit:
    """Two disjoint seeded sets of long enough playlists (validation, test) and the rest (train)."""
    need = max(seeds) + MIN_HIDDEN
    ids = sorted(playlists)
    eligible = [p for p in ids if len(playlists[p]) >= need]
    n = min(n_test, int(TEST_SHARE * len(ids)), len(eligible) // 2)
    if n < 1:
        raise InputError(f"no playlist has the {need} items a seed of {max(seeds)} needs "
                         f"({len(ids):,} playlists, {len(eligible):,} long enough)")
    order = np.random.default_rng(seed).permutation(len(eligible))
    chosen = [eligible[i] for i in order[: 2 * n]]
    held = set(chosen)
    return ContinuationSplit(
        train=tuple(p for p in ids if p not in held),
        validation={p: playlists[p] for p in chosen[:n]},
        test={p: playlists[p] for p in chosen[n:]},
    )


def seed_split(items: Sequence[str], k: int) -> tuple[list[str], list[str]]:
    """The challenge's seed: the first ``k`` items; the rest are hidden."""
    return list(items[:k]), list(items[k:])


# -- scoring ----------------------------------------------------------------------------------


def score_lists(ranked: Sequence[Sequence[str]], hidden: Sequence[Sequence[str]]) -> dict[str, float]:
    """The challenge's metrics averaged over playlists: R-precision, NDCG@500, clicks."""
    values: dict[str, list[float]] = {m: [] for m in METRICS}
    for r, h in zip(ranked, hidden):
        # Integer codes (hidden items 0..g-1, anything else -1): the metrics compare ints, not strings.
        code = {t: i for i, t in enumerate(dict.fromkeys(h))}
        r_arr = np.fromiter((code.get(t, -1) for t in r), dtype=np.int64)
        h_arr = np.arange(len(code), dtype=np.int64)
        values["r_precision"].append(M.r_precision(r_arr, h_arr))
        values["ndcg"].append(M.ndcg_at_k(r_arr, h_arr, N_RECOMMEND))
        values["clicks"].append(M.songs_clicks(r_arr, h_arr, max_n=N_RECOMMEND))
    return {m: M.mean_over_users(v) for m, v in values.items()}


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` largest finite scores, best first (ties: the lower position)."""
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite) > n:
        finite = finite[np.argpartition(-scores[finite], n - 1)[:n]]
    return finite[np.lexsort((finite, -scores[finite]))]


@dataclass
class _Cases:
    """Seeds and hidden items of a set of playlists, for every seed size."""

    seeds: dict[int, list[list[str]]]
    hidden: dict[int, list[list[str]]]

    @classmethod
    def of(cls, playlists: Mapping[str, list[str]], seed_sizes: Sequence[int]) -> "_Cases":
        ordered = [playlists[p] for p in sorted(playlists)]
        return cls({k: [seed_split(t, k)[0] for t in ordered] for k in seed_sizes},
                   {k: [seed_split(t, k)[1] for t in ordered] for k in seed_sizes})


class PlaylistBaselines:
    """Item-kNN and most popular on the training playlists (binary), over their own item index."""

    def __init__(self, train: Mapping[str, list[str]], *, neighbours: int = 100) -> None:
        self.items = np.array(sorted({t for ts in train.values() for t in ts}), dtype=object)
        self.col = pd.Index(self.items)
        rows = [np.full(len(ts), u) for u, ts in enumerate(train.values())]
        cols = [self.col.get_indexer(ts) for ts in train.values()]
        X = sp.csr_matrix((np.ones(sum(map(len, cols))), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(len(train), len(self.items)))
        self.knn = ItemKnn(neighbours=neighbours).fit(X)
        self.popular = MostPopular().fit(X).popularity
        # Item-kNN ranks what no seed item votes for by popularity: a tie-break far below any vote.
        self._fill = 1e-9 * self.popular / max(1.0, float(self.popular.max()))

    def _seed_rows(self, seeds: Sequence[list[str]]) -> sp.csr_matrix:
        idx = [self.col.get_indexer(s) for s in seeds]
        idx = [i[i >= 0] for i in idx]
        rows = np.concatenate([np.full(len(i), r) for r, i in enumerate(idx)]) if idx else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64)
        return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(seeds), len(self.items)))

    def rank(self, name: str, seeds: Sequence[list[str]]) -> list[list[str]]:
        """500 items per seed, the seed's own items left out (most popular: by training playlists)."""
        S = self._seed_rows(seeds)
        out = []
        for start in range(0, len(seeds), 256):
            block = S[start:start + 256]
            scores = np.broadcast_to(self._fill, (block.shape[0], len(self.items))).astype(np.float64)
            if name == ITEM_KNN:  # the neighbours' votes, then (as usual for this baseline) the popular items
                scores += np.asarray((block @ self.knn.S).toarray())
            for r in range(block.shape[0]):
                row = scores[r]
                row[block.indices[block.indptr[r]:block.indptr[r + 1]]] = -np.inf
                out.append(self.items[_top(row, N_RECOMMEND)].tolist())
        return out


class _Served:
    """The served continuation over a trained bundle: the model's scores once per seed set and
    ``recent`` weight, the fit terms once, any weights combined from them."""

    def __init__(self, rec: Recommender) -> None:
        self.rec = rec
        self.ids = rec.bundle.items["track_id"].to_numpy(dtype=object)
        a, scored = rec.arrays, rec.arrays.has_factors
        #: The fit terms are 0 when the items the model scores have no artists, sounds or years.
        self.has_metadata = bool((a.cluster[scored] >= 0).any() or (a.year[scored] > 0).any()
                                 or (np.diff(a.artist_ptr)[scored] > 0).any())
        self._cache: dict[tuple[int, int, float], tuple[np.ndarray, list[FitTerms]]] = {}

    def _parts(self, key: int, seeds: Sequence[list[str]], weights: FitWeights) -> tuple[np.ndarray, list[FitTerms]]:
        cache_key = (key, len(seeds), weights.recent)
        if cache_key not in self._cache:
            playlists = [Playlist(tuple(s)) for s in seeds]
            model = np.vstack([model_scores(self.rec, playlists[i:i + 64], weights)[0].astype(np.float32)
                               for i in range(0, len(playlists), 64)])
            if self.has_metadata:
                terms = [fit_terms(self.rec, p, weights) for p in playlists]
            else:  # every term is 0: keep only the rows to leave out
                empty = np.zeros(0, dtype=np.float32)
                terms = [FitTerms(empty, empty, empty, _known(self.rec, p)) for p in playlists]
            self._cache[cache_key] = (model, terms)
        return self._cache[cache_key]

    def rank(self, key: int, seeds: Sequence[list[str]], weights: FitWeights) -> list[list[str]]:
        """500 bundle items per seed (``key`` names the seed set in the cache)."""
        model, terms = self._parts(key, seeds, weights if self.has_metadata else MODEL_ONLY)
        w = weights if self.has_metadata else MODEL_ONLY
        return [self.ids[_top(combine(m, t, w), N_RECOMMEND)].tolist() for m, t in zip(model, terms)]

    def forget(self) -> None:
        self._cache.clear()


def _known(rec: Recommender, playlist: Playlist) -> np.ndarray:
    rows = rec.index_of(list(playlist.tracks))
    return rows[rows >= 0].astype(np.int64)


def grid_weights() -> list[FitWeights]:
    """Every point of :data:`GRID`."""
    out = [FitWeights(artist=a, sound=s, era=e, recent=r)
           for a in GRID["artist"] for s in GRID["sound"] for e in GRID["era"] for r in GRID["recent"]]
    return out


def choose_weights(rank: Callable[[FitWeights], dict[int, list[list[str]]]], hidden: Mapping[int, list[list[str]]],
                   candidates: Sequence[FitWeights]) -> tuple[FitWeights, list[dict[str, Any]]]:
    """The candidate with the best mean NDCG over the seed sizes (ties: the earlier one), and every score."""
    table = []
    for w in candidates:
        ranked = rank(w)
        scores = [score_lists(ranked[k], hidden[k])["ndcg"] for k in hidden]
        table.append({**asdict(w), "ndcg": float(np.mean(scores))})
    best = max(range(len(table)), key=lambda i: (table[i]["ndcg"], -i))
    return candidates[best], table


# -- the run ----------------------------------------------------------------------------------


@dataclass
class ContinuationReport:
    """One dataset's table: per seed size and model, the mean R-precision, NDCG and clicks."""

    dataset: str
    description: str
    order: str
    protocol: dict[str, Any]
    data: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    weights: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN as null)."""
        return json.loads(json.dumps(asdict(self), default=str).replace("NaN", "null"))

    def to_markdown(self) -> str:
        """The report as the README shows it."""
        lines = [f"### {self.dataset}: {self.description}", "",
                 f"{self.data['n_test']:,} test playlists (seed = first k items, {self.order}), "
                 f"{self.data['n_train']:,} training playlists, {self.data['n_items']:,} items; "
                 f"{self.timings_s.get('total', 0):.0f} s in all.", "",
                 "| seed k | model | R-precision | NDCG | clicks |", "|---:|---|---:|---:|---:|"]
        for row in self.rows:
            lines.append(f"| {row['seed']} | {row['model']} | {_num(row['r_precision'])} | {_num(row['ndcg'])} | "
                         f"{_num(row['clicks'], 2)} |")
        lines += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def evaluate_continuation(
    spark: "SparkSession",
    settings: Settings,
    data: PlaylistData,
    *,
    params: AlsParams,
    served: ServedChoice | None = None,
    seeds: Sequence[int] = SEEDS,
    n_test: int = N_TEST,
    seed: int = 42,
    tune: bool = True,
) -> ContinuationReport:
    """Run the protocol of the module doc on ``data`` and return its table."""
    progress = Progress("continuation")
    served = served or ServedChoice()
    seeds = tuple(sorted(set(int(k) for k in seeds)))
    playlists = ordered_playlists(data.rows)
    split = split_playlists(playlists, seeds=seeds, n_test=n_test, seed=seed)
    train_lists = {p: playlists[p] for p in split.train}
    n_pairs = sum(map(len, train_lists.values()))
    progress("split", f"{data.name}: {len(split.train):,} training playlists ({n_pairs:,} items), "
                      f"{len(split.validation):,} validation, {len(split.test):,} test")
    tracks_path = settings.parquet_dir / "tracks"
    if not tracks_path.exists():
        raise InputError(f"the catalogue {tracks_path} is missing (the train stage needs it): "
                         "run `python -m engine prepare` first")
    frame = pd.DataFrame({"user_id": [u for u, ts in train_lists.items() for _ in ts],
                          "track_id": [t for ts in train_lists.values() for t in ts]})
    frame = frame.assign(weight=1.0, source=f"continuation-{data.name}", ts=pd.NaT)
    interactions = spark.createDataFrame(frame, schema=interactions_schema("track_id"))
    _, parts = train(spark, settings, interactions=interactions, tracks=spark.read.parquet(str(tracks_path)),
                     params=params, blend=served.blend, neighbour_params=served.neighbours,
                     components=served.components)
    progress("train", f"bundle of {len(parts['items']):,} items ({int(parts['items']['has_factors'].sum()):,} with factors)")
    with tempfile.TemporaryDirectory(prefix="continuation-") as tmp:
        write_bundle(Path(tmp) / "bundle", **parts)
        rec = Recommender(load_bundle(Path(tmp) / "bundle"))
        report = score_bundle(rec, data, split, train_lists, seeds=seeds, tune=tune, progress=progress)
    report.protocol.update(seed=seed, n_test=n_test, params=params.to_dict(), blend=served.blend.to_dict())
    report.timings_s = {**{k: round(v, 1) for k, v in progress.timings.items()}, "total": round(progress.elapsed, 1)}
    return report


def score_bundle(rec: Recommender, data: PlaylistData, split: ContinuationSplit, train_lists: Mapping[str, list[str]],
           *, seeds: Sequence[int], tune: bool, progress: Progress) -> ContinuationReport:
    """Every model's table on the test playlists of a trained bundle (the weights chosen on validation)."""
    test, validation = _Cases.of(split.test, seeds), _Cases.of(split.validation, seeds)
    baselines = PlaylistBaselines(train_lists)
    model = _Served(rec)
    report = ContinuationReport(
        dataset=data.name, description=data.description, order=data.order,
        protocol={"seeds": list(seeds), "n_recommend": N_RECOMMEND, "min_hidden": MIN_HIDDEN,
                  "min_playlists_per_item": 2, "metrics": "RecSys Challenge 2018, track level"},
        data={"n_train": len(split.train), "n_validation": len(split.validation), "n_test": len(split.test),
              "n_items": len(baselines.items), "n_train_items": int(sum(map(len, train_lists.values())))},
    )
    weights = {SERVED: DEFAULT_WEIGHTS, MODEL_RANKING: MODEL_ONLY}
    if tune and model.has_metadata:
        start = time.perf_counter()

        def rank_validation(w: FitWeights) -> dict[int, list[list[str]]]:
            return {k: model.rank(1000 + k, validation.seeds[k], w) for k in seeds}

        best, table = choose_weights(rank_validation, validation.hidden, grid_weights())
        model.forget()
        weights[SERVED_TUNED] = best
        report.weights = {"chosen": asdict(best), "default": asdict(DEFAULT_WEIGHTS), "grid": table}
        progress("tune", f"{len(table)} weightings on {len(split.validation):,} validation playlists "
                         f"in {time.perf_counter() - start:.0f} s: best {asdict(best)}")
    elif not model.has_metadata:
        report.notes.append("items carry no artists, sounds or years here, so the fit terms are 0 and the served "
                            "continuation is the served model's ranking")
        weights = {SERVED: DEFAULT_WEIGHTS}
    for k in seeds:
        rows = {name: model.rank(k, test.seeds[k], w) for name, w in weights.items()}
        rows[ITEM_KNN] = baselines.rank(ITEM_KNN, test.seeds[k])
        rows[MOST_POPULAR] = baselines.rank(MOST_POPULAR, test.seeds[k])
        model.forget()  # one seed size's scores at a time: [playlists, items] each
        for name, ranked in rows.items():
            report.rows.append({"seed": k, "model": name, **score_lists(ranked, test.hidden[k])})
        progress(f"seed {k}", ", ".join(f"{r['model']} ndcg {r['ndcg']:.3f}" for r in report.rows if r["seed"] == k))
    report.weights.setdefault("default", asdict(DEFAULT_WEIGHTS))
    return report


def write_continuation_reports(reports: Sequence[ContinuationReport], out_dir: Path) -> tuple[Path, Path]:
    """``continuation.json`` and ``continuation.md`` in ``out_dir`` (replaced atomically)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "continuation.json", out_dir / "continuation.md"
    atomic_write_text(json_path, json.dumps([r.to_dict() for r in reports], indent=2))
    atomic_write_text(md_path, "\n".join(r.to_markdown() for r in reports))
    return json_path, md_path
