"""``python -m engine evaluate``: is the model any good? ALS next to baselines, on one split.

Data flow (DESIGN.md §9)::

    interactions (hetrec | audioscrobbler | demo | a parquet path)
      -> one row per (user, item), items with < 2 listeners dropped      engine.splits
      -> integer ids (engine.train.index_interactions), per-listener holdout (or time split)
      -> [--grid: validation split carved from training -> ALS / EASE search]  engine.tuning
      -> ALS fitted with Spark on the training part (engine.train.fit_als)
      -> every model scored in numpy on the held-out part                  engine.scoring
      -> EvalReport -> JSON + markdown under --out, optionally the bundle manifest's metrics

Models: the served blend (ALS + item neighbours, engine.blend), ALS alone, most-popular,
random, EASE and item-kNN (engine.baselines), all on the same split and the same candidates.
The served model's neighbours are computed with Spark on the training part
(engine.neighbours), exactly as ``engine train`` computes them for a bundle. ``--reproduce-book`` adds the "Advanced Analytics with Spark" ch. 3
protocol (engine.reproduction).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from engine.baselines import Ease, FactorScorer, ItemKnn, MostPopular, RandomScores
from engine.blend import BlendScorer, BlendWeights
from engine.config import ROOT, WEIGHT_TRANSFORMS, Settings
from engine.errors import InputError
from engine.eval_report import EvalReport, params_text, store_in_current_bundle, write_report
from engine.neighbours import NeighbourParams
from engine.schemas import AUDIO_FEATURES, INT_AUDIO_FEATURES
from engine.scoring import build_eval_data, evaluate_model, to_csr
from engine.splits import has_timestamps, make_split, prepare_interactions

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from engine.train import AlsParams

SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))
#: Audio features used for intra-list diversity (continuous ones, standardized).
DIVERSITY_FEATURES = tuple(f for f in AUDIO_FEATURES if f not in INT_AUDIO_FEATURES)
BASELINES = ("most-popular", "random", "ease", "item-knn")
#: The row of the model the app serves.
SERVED = "served"


@dataclass
class Dataset:
    """Interactions to evaluate on, with the name of their item column."""

    name: str
    df: "DataFrame"
    item_col: str
    description: str
    features: "DataFrame | None" = None  # track_id + DIVERSITY_FEATURES, for track-level data


# -- data ------------------------------------------------------------------------------------


def load_dataset(
    spark: "SparkSession", settings: Settings, name: str, *, data_dir: Path | None = None
) -> Dataset:
    """Resolve ``--data``: ``hetrec``, ``audioscrobbler``, ``demo`` or a parquet path."""
    from engine.interactions import read_audioscrobbler, read_hetrec

    raw = _find_data_dir(settings, data_dir)
    if name == "hetrec":
        path = _need(raw / "hetrec2011_user_artists.dat.gz", raw / "hetrec2011_user_artists.dat")
        df, _, report = read_hetrec(spark, path, settings=settings)
        return Dataset("hetrec", df, "artist_id", f"Last.fm HetRec 2011 artist play counts ({path.name})")
    if name == "audioscrobbler":
        plays = _need(raw / "audioscrobbler_user_artist_data_small.txt.gz", raw / "user_artist_data.txt")
        alias = next((p for p in (raw / "audioscrobbler_artist_alias_small.txt.gz", raw / "artist_alias.txt") if p.is_file()), None)
        df, _, _ = read_audioscrobbler(spark, plays, alias_path=alias, settings=settings)
        what = "alias-corrected" if alias else "no alias file found"
        return Dataset("audioscrobbler", df, "artist_id", f"Audioscrobbler artist play counts, {plays.name} ({what})")
    if name == "demo":
        path = settings.parquet_dir / "interactions_demo"
        if not path.exists():
            raise InputError(f"demo interactions {path} not found: run `python -m engine prepare` first")
        return _parquet_dataset(spark, settings, path, "demo", "synthetic demo listeners")
    path = Path(name)
    if not path.exists():
        raise InputError(f"--data {name!r} is neither hetrec, audioscrobbler, demo nor an existing parquet path")
    return _parquet_dataset(spark, settings, path, path.name, f"interactions parquet {path}")


def _parquet_dataset(spark: "SparkSession", settings: Settings, path: Path, name: str, what: str) -> Dataset:
    try:
        df = spark.read.parquet(str(path))
    except Exception as exc:  # AnalysisException: not parquet / unreadable
        raise InputError(f"cannot read interactions parquet {path}: {str(exc).splitlines()[0]}") from None
    item_col = "track_id" if "track_id" in df.columns else "artist_id"
    for col in ("user_id", item_col, "weight"):
        if col not in df.columns:
            raise InputError(f"{path}: interactions lack column {col!r} (have {', '.join(df.columns)})")
    features = None
    tracks = settings.parquet_dir / "tracks"
    if item_col == "track_id" and tracks.exists():
        features = spark.read.parquet(str(tracks)).select("track_id", *DIVERSITY_FEATURES)
    return Dataset(name, df, item_col, what, features)


def _find_data_dir(settings: Settings, data_dir: Path | None) -> Path:
    for candidate in (data_dir, settings.data_dir / "raw", SHARED_DATA):
        if candidate is not None and Path(candidate).is_dir():
            return Path(candidate)
    return settings.data_dir / "raw"


def _need(*paths: Path) -> Path:
    for p in paths:
        if p.is_file():
            return p
    raise InputError(f"{paths[0]} not found (pass --data-dir, or set SHARED_DATA_DIR)")


def item_features(features: "DataFrame | None", item_ids: list[str]) -> np.ndarray | None:
    """Standardized audio features per item index (NaN rows for items without them)."""
    if features is None:
        return None
    # The catalogue's features are small (10 floats a track): collect them and standardize
    # over the whole catalogue, so distances mean the same whichever items were played.
    pdf = features.toPandas().drop_duplicates("track_id")
    vals = pdf[list(DIVERSITY_FEATURES)].to_numpy(dtype=np.float64)
    std = np.nanstd(vals, axis=0)
    vals = (vals - np.nanmean(vals, axis=0)) / np.where(std > 0, std, 1.0)
    row_of = {t: i for i, t in enumerate(pdf["track_id"])}
    out = np.full((len(item_ids), len(DIVERSITY_FEATURES)), np.nan)
    hits = [(i, row_of[t]) for i, t in enumerate(item_ids) if t in row_of]
    if not hits:
        return None
    idx, rows = (np.array(v) for v in zip(*hits))
    out[idx] = vals[rows]
    return out


# -- the evaluation --------------------------------------------------------------------------


@dataclass
class IndexedSplit:
    """A split in integer ids: Spark training frame for ALS, sparse matrices for numpy."""

    train_df: "DataFrame"
    train: Any
    test: Any
    user_ids: list[str]
    item_ids: list[str]


def index_split(train: "DataFrame", test: "DataFrame", *, user_ids: list[str], item_ids: list[str], item_col: str) -> IndexedSplit:
    """Give a string-id train/test pair the integer ids of a whole-data index."""
    train_idx = to_index(train, user_ids=user_ids, item_ids=item_ids, item_col=item_col).cache()
    test_idx = to_index(test, user_ids=user_ids, item_ids=item_ids, item_col=item_col)
    n_users, n_items = len(user_ids), len(item_ids)
    return IndexedSplit(
        train_df=train_idx,
        train=to_csr(train_idx.toPandas(), n_users=n_users, n_items=n_items),
        test=to_csr(test_idx.toPandas(), n_users=n_users, n_items=n_items),
        user_ids=user_ids,
        item_ids=item_ids,
    )


def to_index(df: "DataFrame", *, user_ids: list[str], item_ids: list[str], item_col: str) -> "DataFrame":
    """``user_id, <item_col>, weight`` -> ``user_idx, item_idx, weight`` with the given labels."""
    from pyspark.ml.feature import StringIndexerModel
    from pyspark.sql import functions as F

    users = StringIndexerModel.from_labels(user_ids, inputCol="user_id", outputCol="_u", handleInvalid="skip")
    items = StringIndexerModel.from_labels(item_ids, inputCol=item_col, outputCol="_i", handleInvalid="skip")
    return items.transform(users.transform(df)).select(
        F.col("_u").cast("int").alias("user_idx"), F.col("_i").cast("int").alias("item_idx"), "weight"
    )


def fit_als_scorer(train_df: "DataFrame", params: "AlsParams", *, n_users: int, n_items: int) -> FactorScorer:
    """Fit ALS with Spark and return its factors as a numpy scorer."""
    from engine.train import als_factors, fit_als

    model = fit_als(train_df, params)
    U, Y = als_factors(model, n_users, n_items)
    return FactorScorer(U, Y)


def evaluate(
    spark: "SparkSession",
    settings: Settings,
    *,
    dataset: Dataset,
    params: "AlsParams | None" = None,
    split: str = "holdout",
    seed: int = 42,
    k: int = 10,
    k_recall: int = 50,
    baselines: tuple[str, ...] = BASELINES,
    ease_lambda: float = 100.0,
    ease_max_items: int = 8000,
    knn_neighbours: int = 100,
    grid: "Any | None" = None,
    blend: BlendWeights | None = None,
    neighbour_params: NeighbourParams | None = None,
    served: bool = True,
    echo: Callable[[str], None] = print,
) -> EvalReport:
    """Evaluate the served blend, ALS and the baselines on one split of ``dataset`` (DESIGN.md §9).

    With ``grid`` (an ``engine.tuning.GridSpec``), ALS, blend and EASE hyperparameters are first
    chosen on a validation split carved from training, then refit on all training data; the
    table then also lists the best ALS of each weight transform. Without it the blend uses
    ``blend`` / ``neighbour_params`` (default: the engine.blend / engine.neighbours defaults).
    """
    from engine.train import AlsParams, index_interactions

    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str, detail: str) -> None:
        timings[stage] = round(time.perf_counter() - t0 - sum(timings.values()), 2)
        echo(f"[evaluate] {stage}: {detail} ({time.perf_counter() - t0:.1f}s)")

    params = params or AlsParams.from_settings(settings)
    if split == "time" and not has_timestamps(dataset.df):
        raise InputError(f"{dataset.name}: --split time needs timestamps (column ts), and these interactions have none")
    prepared = prepare_interactions(dataset.df, item_col=dataset.item_col).cache()
    n_rows = prepared.count()
    if n_rows == 0:
        raise InputError(f"{dataset.name}: no interactions left after dropping items with fewer than 2 listeners")
    indexed = index_interactions(prepared, item_col=dataset.item_col)
    sp_split = make_split(prepared, item_col=dataset.item_col, kind=split, seed=seed)
    train_s = sp_split.train.cache()
    data_split = index_split(
        train_s, sp_split.test, user_ids=indexed.user_ids, item_ids=indexed.item_ids, item_col=dataset.item_col
    )
    n_users, n_items = len(indexed.user_ids), len(indexed.item_ids)
    lap("split", f"{n_rows:,} interactions, {n_users:,} listeners x {n_items:,} items, {split} split")

    grid_result = None
    notes: list[str] = []
    if grid is not None:
        from engine.tuning import grid_search

        grid_result = grid_search(
            spark,
            train_s,
            item_col=dataset.item_col,
            user_ids=indexed.user_ids,
            item_ids=indexed.item_ids,
            base=params,
            spec=grid,
            split=split,
            seed=seed,
            k=k,
            k_recall=k_recall,
            ease_max_items=ease_max_items,
            echo=echo,
        )
        params = grid_result.best
        ease_lambda = grid_result.best_ease_lambda or ease_lambda
        blend = grid_result.best_blend or blend
        neighbour_params = grid_result.best_neighbours or neighbour_params
        notes += grid_result.warnings
        lap("grid", f"{len(grid_result.rows)} points, best {params_text(params.to_dict())}")

    data = build_eval_data(
        data_split.train, data_split.test, seed=seed, features=item_features(dataset.features, indexed.item_ids)
    )
    rows: list[dict[str, Any]] = []
    blend = blend or BlendWeights()
    neighbour_params = neighbour_params or NeighbourParams()
    fitted: dict[str, Any] = {}

    def run(name: str, fit: Callable[[], Any], model_params: dict[str, Any]) -> None:
        start = time.perf_counter()
        model = fitted[name] = fit()
        fit_s = time.perf_counter() - start
        row = {"model": name, **evaluate_model(model, data, k=k, k_recall=k_recall)}
        row.update(fit_seconds=round(fit_s, 2), params=model_params)
        rows.append(row)
        lap(name, f"ndcg@{k} {row[f'ndcg@{k}']:.3f}, recall@{k_recall} {row[f'recall@{k_recall}']:.3f}, "
                  f"coverage@{k} {row[f'coverage@{k}']:.3f}")

    def fit_served() -> BlendScorer:
        from engine.neighbours import item_neighbours

        als = fitted["als"]
        neighbours = item_neighbours(data_split.train_df, n_items, params=neighbour_params)
        return BlendScorer(
            als.U, als.Y, neighbours, data.train, weights=blend, transform=params.weight_transform,
            epsilon=params.weight_epsilon, clip=params.weight_clip,
        )

    als_variants = [("als", params)]
    if grid_result is not None:
        als_variants += [
            (f"als ({p.weight_transform})", p)
            for t, p in grid_result.best_by_transform.items()
            if t != params.weight_transform
        ]
    for name, p in als_variants:
        run(name, lambda p=p: fit_als_scorer(data_split.train_df, p, n_users=n_users, n_items=n_items), p.to_dict())
    if served:
        # The served row's fit time is the neighbour computation (ALS is the "als" row's).
        run(SERVED, fit_served, {**params.to_dict(), "blend": blend.to_dict(), "neighbours": neighbour_params.to_dict()})
        rows.insert(0, rows.pop())
    makers: dict[str, tuple[Callable[[], Any], dict[str, Any]]] = {
        "most-popular": (lambda: MostPopular().fit(data.train), {}),
        "random": (lambda: RandomScores(seed=seed).fit(data.train), {"seed": seed}),
        "ease": (
            lambda: Ease(lam=ease_lambda, max_items=ease_max_items).fit(data.train),
            {"lambda": ease_lambda, "max_items": min(ease_max_items, int(data.candidates.sum()))},
        ),
        "item-knn": (lambda: ItemKnn(neighbours=knn_neighbours).fit(data.train), {"neighbours": knn_neighbours}),
    }
    for name in baselines:
        fit, model_params = makers[name]
        run(name, fit, model_params)
    if "ease" in baselines and ease_max_items < int(data.candidates.sum()):
        notes.append(
            f"EASE ranks only the {ease_max_items:,} most-listened of {int(data.candidates.sum()):,} candidate items"
        )
    data_split.train_df.unpersist()
    train_s.unpersist()
    prepared.unpersist()
    report = EvalReport(
        dataset=dataset.name,
        description=dataset.description,
        protocol={
            "split": split,
            "seed": seed,
            "k": k,
            "k_recall": k_recall,
            "test_fraction": 0.2,
            "min_items_to_hide": 5,
            "min_listeners_per_item": 2,
            "auc_negatives": "as many as positives, sampled from the candidates",
            "candidates": "items with training interactions, minus the listener's training items",
        },
        data=data.stats,
        params={**params.to_dict(), "blend": blend.to_dict(), "neighbours": neighbour_params.to_dict()},
        rows=rows,
        grid=grid_result.to_dict() if grid_result is not None else None,
        notes=notes,
    )
    report.timings_s = {**timings, "total": round(time.perf_counter() - t0, 2)}
    return report


# -- CLI -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine evaluate``."""
    parser.add_argument("--data", default=None, help="hetrec | audioscrobbler | demo | PATH to interactions parquet "
                        "(default: data/parquet/interactions if present, else demo)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder of the raw datasets (default data/raw, then ../shared/data)")
    parser.add_argument("--split", choices=("holdout", "time"), default="holdout", help="per-listener random or time split")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--k", type=int, default=10, help="list length for NDCG/precision/MAP/coverage")
    parser.add_argument("--grid", action="store_true", help="tune ALS (+ EASE λ, KMeans k) on a validation split first")
    parser.add_argument("--max-widen", type=int, default=6, help="rounds of widening a grid whose best point is on its edge")
    parser.add_argument("--parallelism", type=int, default=1, help="grid points fitted at once")
    parser.add_argument("--kmeans-k", default="4:24:2", help="KMeans k range start:stop:step for the silhouette search")
    parser.add_argument("--reproduce-book", action="store_true", help="also run the Advanced Analytics with Spark ch. 3 protocol")
    parser.add_argument("--out", type=Path, default=None, help="report directory (default data/reports)")
    parser.add_argument("--store", action="store_true", help="store the summary in the current bundle's manifest")
    for flag, typ in (("--rank", int), ("--reg-param", float), ("--alpha", float), ("--max-iter", int)):
        parser.add_argument(flag, type=typ, default=None, help="ALS override")
    parser.add_argument("--weight-transform", choices=WEIGHT_TRANSFORMS, default=None, help="ALS override")
    parser.add_argument("--ease-lambda", type=float, default=100.0)
    parser.add_argument("--ease-items", type=int, default=8000, help="EASE's item subset size N")
    parser.add_argument("--neighbours", type=int, default=100, help="item-kNN neighbours per item")
    parser.add_argument("--blend-neighbours", type=float, default=None,
                        help="served blend: weight of the neighbour score (0: ALS alone); default: tuned or built in")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run the evaluation and write the report."""
    from engine.spark import get_spark
    from engine.train import AlsParams
    from engine import tuning

    spark = get_spark(settings, app_name="evaluate")
    name = args.data or (
        str(settings.parquet_dir / "interactions") if (settings.parquet_dir / "interactions").exists() else "demo"
    )
    dataset = load_dataset(spark, settings, name, data_dir=args.data_dir)
    saved = tuning.load_best_params(settings) or {}
    if saved.get("meta", {}).get("dataset") != dataset.name:
        saved = {}  # tuned on other data: start from the settings instead
    overrides = {k: getattr(args, k) for k in ("rank", "reg_param", "alpha", "max_iter", "weight_transform")}
    params = AlsParams.from_settings(settings, **{**saved, **{k: v for k, v in overrides.items() if v is not None}})
    try:
        blend = BlendWeights.from_dict(saved.get("blend"))
        neighbour_params = NeighbourParams.from_dict(saved.get("neighbours"))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{settings.models_dir / tuning.BEST_PARAMS_FILE}: {exc}") from None
    if args.blend_neighbours is not None:
        blend = BlendWeights(args.blend_neighbours, blend.neighbour_pop_exponent, blend.popularity)
    grid = tuning.GridSpec(max_widen=args.max_widen, parallelism=args.parallelism) if args.grid else None
    report = evaluate(
        spark,
        settings,
        dataset=dataset,
        params=params,
        split=args.split,
        seed=args.seed,
        k=args.k,
        ease_lambda=args.ease_lambda,
        ease_max_items=args.ease_items,
        knn_neighbours=args.neighbours,
        grid=grid,
        blend=blend,
        neighbour_params=neighbour_params,
    )
    if args.grid:
        kmeans = None
        tracks = settings.parquet_dir / "tracks"
        if tracks.exists():
            start, stop, step = (int(v) for v in args.kmeans_k.split(":"))
            kmeans = tuning.select_kmeans_k(spark.read.parquet(str(tracks)), k_values=range(start, stop + 1, step))
            tuning.save_kmeans_selection(settings, kmeans)
            report.kmeans = kmeans
        else:
            report.notes.append(f"KMeans k not searched: no tracks parquet at {tracks}")
        path = tuning.write_best_params(
            settings, als=report.params, kmeans_k=kmeans["best_k"] if kmeans else None,
            meta={"dataset": report.dataset, "split": report.protocol["split"], "metric": "ndcg@10"},
            blend=report.params["blend"], neighbours=report.params["neighbours"],
        )
        print(f"[evaluate] chosen parameters written to {path}")
    if args.reproduce_book:
        from engine.reproduction import reproduce_book

        report.book = reproduce_book(spark, settings, dataset=dataset, seed=args.seed)
    json_path, md_path = write_report(report, args.out or settings.data_dir / "reports")
    print(report.to_markdown())
    print(f"[evaluate] report written to {json_path} and {md_path}")
    if args.store:
        print(f"[evaluate] stored in bundle {store_in_current_bundle(settings, report)}")
    return 0
