"""Training on Spark: implicit-feedback ALS and the audio-feature KMeans clusterer.

Data flow::

    interactions parquet (user_id, track_id, weight, source, ts)
      -> sum weights per (user, item) -> StringIndexer ids -> confidence transform (engine.weights)
      -> ALS(implicitPrefs=True) -> user/item factors
    tracks parquet (canonical catalogue)
      -> VectorAssembler -> StandardScaler -> KMeans(k), PCA(2) for the cluster map
    both -> items table (catalogue ∪ played tracks) -> engine.bundle.publish_bundle

Each stage prints a progress line with counts and elapsed time. Integer ids are assigned once
per run by ``StringIndexer`` (never hashed: collisions) and the id lists go into the bundle.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from engine.config import Settings
from engine.errors import InputError
from engine.schemas import CLUSTER_FEATURES
from engine.weights import transform_weights_col

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.ml.recommendation import ALSModel

    from engine.blend import BlendWeights
    from engine.neighbours import NeighbourParams
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class AlsParams:
    """Hyperparameters of implicit ALS and of the confidence transform (recorded in the bundle)."""

    rank: int = 64
    max_iter: int = 10
    reg_param: float = 0.1
    alpha: float = 10.0
    weight_transform: str = "log1p"
    weight_epsilon: float = 1.0
    weight_clip: float = 100.0
    seed: int = 42
    #: ALS blocks per side; None -> Spark's default parallelism (matched to cores).
    num_blocks: int | None = None
    checkpoint_interval: int = 10

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> "AlsParams":
        """Params from Settings (``ALS_*``), with keyword overrides (None values ignored)."""
        base = cls(
            rank=settings.als_rank,
            max_iter=settings.als_max_iter,
            reg_param=settings.als_reg_param,
            alpha=settings.als_alpha,
            weight_transform=settings.als_weight_transform,
            weight_epsilon=settings.als_weight_epsilon,
            weight_clip=settings.als_weight_clip,
            seed=settings.als_seed,
        )
        known = {f.name for f in fields(cls)}
        return cls(**{**asdict(base), **{k: v for k, v in overrides.items() if v is not None and k in known}})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for manifests and reports)."""
        return asdict(self)


@dataclass
class Indexed:
    """Interactions with integer ids: ``df`` has ``user_idx, item_idx`` (int) and raw ``weight``."""

    df: "DataFrame"
    user_ids: list[str]
    item_ids: list[str]


@dataclass
class TrainReport:
    """What a training run did; printed by the CLI and stored in the manifest's ``data``."""

    n_users: int = 0
    n_items_with_factors: int = 0
    n_catalog_tracks: int = 0
    n_items: int = 0
    n_interactions: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    version: str | None = None


class Progress:
    """Prints ``[train] stage: detail (elapsed)`` lines and records stage timings."""

    def __init__(self, prefix: str = "train", echo: Callable[[str], None] = print) -> None:
        self.prefix, self.echo = prefix, echo
        self.start = self.last = time.perf_counter()
        self.timings: dict[str, float] = {}

    def __call__(self, stage: str, detail: str = "") -> None:
        now = time.perf_counter()
        self.timings[stage] = round(now - self.last, 3)
        self.last = now
        self.echo(f"[{self.prefix}] {stage}: {detail} ({now - self.start:.1f}s)".replace(":  (", " ("))


# -- ALS -------------------------------------------------------------------------------------


def index_interactions(df: "DataFrame", *, item_col: str = "track_id") -> Indexed:
    """Sum weights per (user, item) and assign integer ids with ``StringIndexer``.

    Ids are ordered by frequency (ties alphabetical), so they are deterministic for a given
    input. Rows with null ids or a non-positive weight are dropped (readers already reject them).
    """
    from pyspark.ml.feature import StringIndexer
    from pyspark.sql import functions as F

    for col in ("user_id", item_col, "weight"):
        if col not in df.columns:
            raise InputError(f"interactions lack required column {col!r} (have {', '.join(df.columns)})")
    agg = (
        df.where(F.col("user_id").isNotNull() & F.col(item_col).isNotNull() & (F.col("weight") > 0))
        .groupBy("user_id", item_col)
        .agg(F.sum(F.col("weight").cast("double")).alias("weight"))
    )
    user_indexer = StringIndexer(inputCol="user_id", outputCol="user_idx_d", stringOrderType="frequencyDesc").fit(agg)
    item_indexer = StringIndexer(inputCol=item_col, outputCol="item_idx_d", stringOrderType="frequencyDesc").fit(agg)
    indexed = (
        item_indexer.transform(user_indexer.transform(agg))
        .select(
            F.col("user_idx_d").cast("int").alias("user_idx"),
            F.col("item_idx_d").cast("int").alias("item_idx"),
            "weight",
        )
    )
    return Indexed(indexed, list(user_indexer.labelsArray[0]), list(item_indexer.labelsArray[0]))


def fit_als(indexed_df: "DataFrame", params: AlsParams) -> "ALSModel":
    """Fit ``ALS(implicitPrefs=True)`` on raw ``weight`` after the configured confidence transform.

    Spark's confidence is ``c = 1 + alpha * r'`` and it scales regParam by each user's/item's
    number of ratings — the fold-in in engine.recommender solves the same normal equations.
    """
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    spark = indexed_df.sparkSession
    blocks = params.num_blocks or max(1, spark.sparkContext.defaultParallelism)
    ratings = indexed_df.withColumn(
        "rating",
        transform_weights_col(
            F.col("weight"), params.weight_transform, epsilon=params.weight_epsilon, clip=params.weight_clip
        ),
    ).where(F.col("rating") > 0)
    als = ALS(
        rank=params.rank,
        maxIter=params.max_iter,
        regParam=params.reg_param,
        alpha=params.alpha,
        implicitPrefs=True,
        nonnegative=False,
        userCol="user_idx",
        itemCol="item_idx",
        ratingCol="rating",
        coldStartStrategy="drop",
        seed=params.seed,
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        checkpointInterval=params.checkpoint_interval if spark.sparkContext.getCheckpointDir() else -1,
    )
    return als.fit(ratings)


def als_factors(model: "ALSModel", n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Collect ALS factors into dense float32 arrays ``U [n_users, rank]``, ``Y [n_items, rank]``.

    Rows for ids that ALS dropped stay zero.
    """
    rank = model.rank
    out = []
    for frame, n in ((model.userFactors, n_users), (model.itemFactors, n_items)):
        pdf = frame.toPandas()
        arr = np.zeros((n, rank), dtype=np.float32)
        if len(pdf):
            arr[pdf["id"].to_numpy()] = np.asarray(pdf["features"].tolist(), dtype=np.float32)
        out.append(arr)
    return out[0], out[1]


# -- KMeans ----------------------------------------------------------------------------------


@dataclass
class KMeansResult:
    """Per-track cluster, 2-D PCA projection and standardized features, plus the model summary."""

    assignments: pd.DataFrame  # track_id, cluster, x, y, features (list[float])
    kmeans: dict[str, Any]


def fit_kmeans(tracks: "DataFrame", *, k: int, seed: int = 42) -> KMeansResult:
    """``VectorAssembler -> StandardScaler -> KMeans(k)`` over ``CLUSTER_FEATURES``, plus PCA(2).

    Tracks with a missing feature are skipped (no cluster); ``kmeans`` holds the centroids in
    standardized space, the scaler mean/std, feature names, cluster sizes and training cost.
    """
    from pyspark.ml import Pipeline
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.feature import PCA, StandardScaler, VectorAssembler
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    cols = [F.col(c).cast("double").alias(c) for c in CLUSTER_FEATURES]
    data = tracks.select("track_id", *cols).dropna()
    n = data.count()
    if n < k:
        raise InputError(f"KMeans needs at least k={k} tracks with audio features, found {n}")
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=list(CLUSTER_FEATURES), outputCol="raw_features"),
            StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True),
            KMeans(k=k, seed=seed, featuresCol="features", predictionCol="cluster"),
            PCA(k=2, inputCol="features", outputCol="pca"),
        ]
    )
    model = pipeline.fit(data)
    out = model.transform(data).select(
        "track_id",
        F.col("cluster").cast("int").alias("cluster"),
        vector_to_array("pca").alias("pca"),
        vector_to_array("features").alias("features"),
    )
    pdf = out.toPandas()
    pca = np.asarray(pdf.pop("pca").tolist(), dtype=np.float64)
    pdf["x"], pdf["y"] = pca[:, 0], pca[:, 1]
    scaler, km = model.stages[1], model.stages[2]
    sizes = np.bincount(pdf["cluster"].to_numpy(), minlength=k)
    summary = {
        "k": k,
        "feature_names": list(CLUSTER_FEATURES),
        "scaler_mean": [float(v) for v in scaler.mean],
        "scaler_std": [float(v) for v in scaler.std],
        "centroids": [[float(v) for v in c] for c in km.clusterCenters()],
        "sizes": sizes.tolist(),
        "training_cost": float(km.summary.trainingCost),
        "pca_components": np.asarray(model.stages[3].pc.toArray()).T.tolist(),
    }
    return KMeansResult(pdf, summary)


# -- the training run ------------------------------------------------------------------------


def read_interactions(spark: "SparkSession", paths: list[Path | str]) -> "DataFrame":
    """Union the canonical interactions parquet datasets at ``paths`` (missing paths named)."""
    from functools import reduce

    frames = []
    for path in paths:
        try:
            frames.append(spark.read.parquet(str(path)))
        except Exception as exc:  # AnalysisException: path does not exist / not parquet
            raise InputError(f"cannot read interactions parquet {path}: {str(exc).splitlines()[0]}") from None
    cols = ["user_id", "track_id", "weight", "source"]
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), [f.select(*cols) for f in frames])


def train(
    spark: "SparkSession",
    settings: Settings,
    *,
    interactions: "DataFrame",
    tracks: "DataFrame",
    params: AlsParams,
    k: int | None = None,
    publish_to: Path | None = None,
    metrics: dict[str, Any] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    blend: "BlendWeights | None" = None,
    neighbour_params: "NeighbourParams | None" = None,
    echo: Callable[[str], None] = print,
) -> tuple[TrainReport, dict[str, Any]]:
    """Train ALS + KMeans and assemble the bundle parts; publish them when ``publish_to`` is set.

    ``tables`` (small pandas tables, e.g. the demo listeners) are shipped inside the bundle.
    Item neighbours (engine.neighbours) are computed on the same interactions and shipped as
    ``extra`` arrays; ``blend`` (default: engine.blend.BlendWeights()) is recorded as
    ``params["blend"]``, which serving applies.

    Returns the report and the bundle parts (keyword arguments of ``engine.bundle.write_bundle``).
    """
    from pyspark.sql import functions as F

    from engine.blend import BlendWeights
    from engine.bundle import publish_bundle
    from engine.neighbours import NeighbourParams, item_neighbours

    blend = blend or BlendWeights()
    neighbour_params = neighbour_params or NeighbourParams()
    progress = Progress(echo=echo)
    report = TrainReport()
    interactions = interactions.cache()
    report.n_interactions = interactions.count()
    if report.n_interactions == 0:
        raise InputError("no interactions to train on")
    report.sources = {r["source"]: int(r["count"]) for r in interactions.groupBy("source").count().collect()}
    progress("read", f"{report.n_interactions:,} interactions from {', '.join(sorted(report.sources))}")

    indexed = index_interactions(interactions)
    indexed.df.cache()
    report.n_users, n_als_items = len(indexed.user_ids), len(indexed.item_ids)
    progress("index", f"{report.n_users:,} listeners x {n_als_items:,} tracks")

    model = fit_als(indexed.df, params)
    _, als_y = als_factors(model, report.n_users, n_als_items)
    progress("als", f"rank {params.rank}, {params.max_iter} iterations, {params.weight_transform} weights")

    neighbours = item_neighbours(indexed.df, n_als_items, params=neighbour_params)
    progress("neighbours", f"top {neighbour_params.top_n} for {n_als_items:,} tracks ({len(neighbours.indices):,} pairs)")

    km = fit_kmeans(tracks, k=k or settings.kmeans_k, seed=settings.kmeans_seed)
    progress("kmeans", f"k={km.kmeans['k']} over {len(km.assignments):,} tracks")

    listeners = (
        interactions.groupBy("track_id").agg(F.countDistinct("user_id").alias("listeners")).toPandas()
    )
    catalog = tracks.select(
        "track_id", "name", "artist_names", "artist_ids", "release_year", "popularity", "explicit", "energy", "genres"
    ).toPandas()
    report.n_catalog_tracks = len(catalog)
    parts = assemble_items(
        catalog=catalog, als_item_ids=indexed.item_ids, als_item_factors=als_y, kmeans=km, listeners=listeners
    )
    report.n_items = len(parts["items"])
    row_of = pd.Series(np.arange(report.n_items), index=parts["items"]["track_id"])
    parts["extra"] = neighbours.remap(row_of.loc[indexed.item_ids].to_numpy(), report.n_items).to_extra()
    report.n_items_with_factors = int(parts["items"]["has_factors"].sum())
    progress("assemble", f"{report.n_items:,} items ({report.n_items_with_factors:,} with factors)")
    report.timings_s = dict(progress.timings)
    parts.update(
        params={
            **params.to_dict(), "kmeans_k": km.kmeans["k"], "item_kind": "track",
            "blend": blend.to_dict(), "neighbours": neighbour_params.to_dict(),
        },
        data_stats={k: v for k, v in asdict(report).items() if k not in ("version", "timings_s")},
        metrics=metrics or {},
        tables=tables or {},
    )
    if publish_to is not None:
        report.version = publish_bundle(publish_to, keep=settings.keep_versions, **parts)
        progress("publish", f"version {report.version} in {publish_to}")
    indexed.df.unpersist()
    interactions.unpersist()
    return report, parts


def assemble_items(
    *,
    catalog: pd.DataFrame,
    als_item_ids: list[str],
    als_item_factors: np.ndarray,
    kmeans: KMeansResult,
    listeners: pd.DataFrame,
) -> dict[str, Any]:
    """Build the bundle's item rows: every catalogue track plus every played track.

    Played tracks the catalogue lacks are kept (name unknown, no audio features, no cluster);
    catalogue tracks nobody played have zero factors (``has_factors`` false) but keep their
    audio features, so the content path can still recommend them.
    """
    extra_ids = sorted(set(als_item_ids) - set(catalog["track_id"]))
    extra = pd.DataFrame({"track_id": extra_ids, "name": extra_ids})
    items = pd.concat([catalog, extra], ignore_index=True)
    items = items.rename(columns={"artist_names": "artists", "release_year": "year"})
    for col in ("artists", "artist_ids", "genres"):
        items[col] = items[col].apply(lambda v: list(v) if isinstance(v, (list, np.ndarray)) else [])
    items["year"] = items["year"].fillna(0).astype("int32")
    items["popularity"] = items["popularity"].fillna(0).astype("int32")
    items["explicit"] = items["explicit"].astype("boolean").fillna(False).astype(bool)
    items["energy"] = items["energy"].astype("float64")
    row_of = pd.Series(np.arange(len(items)), index=items["track_id"])

    rank = als_item_factors.shape[1]
    factors = np.zeros((len(items), rank), dtype=np.float32)
    rows = row_of.loc[als_item_ids].to_numpy()
    factors[rows] = als_item_factors
    has_factors = np.zeros(len(items), dtype=bool)
    has_factors[rows] = np.abs(als_item_factors).sum(axis=1) > 0

    assign = kmeans.assignments
    a_rows = row_of.loc[assign["track_id"]].to_numpy()
    cluster = np.full(len(items), -1, dtype=np.int32)
    cluster[a_rows] = assign["cluster"].to_numpy()
    x = np.full(len(items), np.nan)
    y = np.full(len(items), np.nan)
    x[a_rows], y[a_rows] = assign["x"].to_numpy(), assign["y"].to_numpy()
    audio = np.zeros((len(items), len(CLUSTER_FEATURES)), dtype=np.float32)
    audio[a_rows] = np.asarray(assign["features"].tolist(), dtype=np.float32)
    has_audio = np.zeros(len(items), dtype=bool)
    has_audio[a_rows] = True
    items["cluster"], items["x"], items["y"] = cluster, x, y
    items["has_factors"], items["has_audio"] = has_factors, has_audio

    # Popularity prior for cold start: share of listeners, with the catalogue's own popularity
    # as a small tie-breaker so unplayed catalogue tracks are still ordered sensibly.
    counts = np.zeros(len(items))
    counts[row_of.loc[listeners["track_id"]].to_numpy()] = listeners["listeners"].to_numpy()
    popularity = 0.9 * counts / max(1.0, counts.max()) + 0.1 * items["popularity"].to_numpy() / 100.0
    return {
        "items": items,
        "item_factors": factors,
        "popularity": popularity.astype(np.float32),
        "audio_features": audio,
        "kmeans": kmeans.kmeans,
    }


# -- CLI -------------------------------------------------------------------------------------


def default_interaction_paths(settings: Settings) -> list[Path]:
    """Every ``interactions*`` parquet dataset under ``settings.parquet_dir``."""
    return sorted(p for p in settings.parquet_dir.glob("interactions*") if p.is_dir())


def resolve_params(settings: Settings, *, params_file: Path | None = None, **flags: Any) -> AlsParams:
    """ALS params: flags > ``params_file`` (e.g. ``models/best_params.json`` from
    ``evaluate --grid``) > Settings."""
    saved = read_params_file(params_file)
    # evaluate --grid writes AlsParams fields at the top level; an older layout nested them.
    chosen = {**saved, **(saved.get("als") or {})}
    return AlsParams.from_settings(settings, **{**chosen, **{k: v for k, v in flags.items() if v is not None}})


def read_params_file(params_file: Path | None) -> dict[str, Any]:
    """The JSON object in ``params_file`` ({} when there is none); a clear error when unreadable."""
    import json

    if params_file is None or not Path(params_file).is_file():
        return {}
    try:
        data = json.loads(Path(params_file).read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{params_file}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{params_file}: expected a JSON object, got {type(data).__name__}")
    return data


def resolve_blend(params_file: Path | None) -> tuple["BlendWeights", "NeighbourParams"]:
    """Blend weights and neighbour parameters: ``params_file``'s ``blend`` / ``neighbours``
    blocks (written by ``evaluate --grid``), else the defaults of engine.blend / engine.neighbours."""
    from engine.blend import BlendWeights
    from engine.neighbours import NeighbourParams

    saved = read_params_file(params_file)
    try:
        return BlendWeights.from_dict(saved.get("blend")), NeighbourParams.from_dict(saved.get("neighbours"))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{params_file}: {exc}") from None


def add_arguments(parser: Any) -> None:
    """Arguments of ``python -m engine train``."""
    # Plain strings, not Path: pathlib would fold s3a://bucket/x into s3a:/bucket/x.
    parser.add_argument("--interactions", nargs="+", help="interactions parquet dataset(s) (local, hdfs://, s3a://); default: data/parquet/interactions*")
    parser.add_argument("--tracks", help="canonical tracks parquet (local, hdfs://, s3a://); default: data/parquet/tracks")
    parser.add_argument("--rank", type=int)
    parser.add_argument("--max-iter", type=int)
    parser.add_argument("--reg-param", type=float)
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--weight-transform", choices=("raw", "log1p", "binary", "clip"))
    parser.add_argument("--k", type=int, help="KMeans clusters (default KMEANS_K)")
    parser.add_argument("--params-file", type=Path, help="JSON with chosen params (default models/best_params.json when present)")
    parser.add_argument("--models-dir", type=Path, help="publish here instead of MODELS_DIR")
    parser.add_argument("--no-publish", action="store_true", help="train and report, publish nothing")


def main(args: Any, settings: Settings) -> int:
    """Run ``python -m engine train``."""
    from engine.spark import get_spark

    paths = args.interactions or default_interaction_paths(settings)
    if not paths:
        raise InputError(f"no interactions parquet under {settings.parquet_dir} (run `python -m engine prepare`)")
    tracks_path = args.tracks or settings.parquet_dir / "tracks"
    params_file = args.params_file or settings.models_dir / "best_params.json"
    blend, neighbour_params = resolve_blend(params_file)
    params = resolve_params(
        settings,
        params_file=params_file,
        rank=args.rank, max_iter=args.max_iter, reg_param=args.reg_param, alpha=args.alpha,
        weight_transform=args.weight_transform,
    )
    spark = get_spark(settings, app_name="train")
    try:
        tracks = spark.read.parquet(str(tracks_path))
    except Exception as exc:
        raise InputError(f"cannot read tracks parquet {tracks_path}: {str(exc).splitlines()[0]}") from None
    report, _ = train(
        spark, settings, interactions=read_interactions(spark, paths), tracks=tracks, params=params,
        k=args.k, publish_to=None if args.no_publish else (args.models_dir or settings.models_dir),
        blend=blend, neighbour_params=neighbour_params,
    )
    print(
        f"trained on {report.n_interactions:,} interactions: {report.n_users:,} listeners, "
        f"{report.n_items:,} items ({report.n_items_with_factors:,} with factors)"
        + (f"; published {report.version}" if report.version else "")
    )
    return 0
