"""Item-item similarity on Spark: MinHash LSH over each track's listeners, plus the content models.

``python -m engine similarity`` fills the ``similar_tracks`` table (SQLite store, and the
serving bundle's ``tables/similar_tracks.parquet``) that the Similar songs page reads::

    interactions parquet (user_id, track_id, ...)
      -> distinct (user, track); tracks with >= MIN_LISTENERS listeners
      -> per track: the set of its listeners as a binary sparse vector (CountVectorizer)
      -> MinHashLSH(numHashTables) -> approxSimilarityJoin(self, Jaccard distance < 1)
      -> top-N other tracks per track by Jaccard           -> method "minhash"
    engine.content_models (TF-IDF, Word2Vec + BucketedRandomProjectionLSH, LDA topics)
                                                           -> methods "tfidf", "word2vec"; topics
    -> Store.replace_similar / Store.replace_topics, and a republished bundle with the tables
       and ``extra/item_listeners`` (listeners per item, read by the cold-track hybrid)

A "listener set" is the set of users (playlists, for playlist sources) that have the track;
Jaccard of two sets = shared / union. Spark's MinHash uses one hash function per table and a
pair becomes a candidate when any table collides (OR-amplification), so a pair with Jaccard
``J`` is found with probability ``1 - (1 - J)^H`` for ``H`` tables; every candidate's distance
is then computed exactly, so the scores written are exact Jaccard values.

Choosing numHashTables (``--measure`` prints this table). Demo data from ``python -m engine
prepare``: 1,500 synthetic listeners x 6,143 tracks, 56k interactions; 300 sampled query
tracks; recall@10 counts an LSH neighbour as a hit when its Jaccard reaches the exact 10th-best
value, so ties do not count against it. Times are wall-clock seconds for every track's top-10
on local[*] with 2 cores shared with other jobs (load average ~17), so treat them as rough::

    tables   recall@10   LSH time   exact time   speed-up (exact / LSH)
       5       0.832       29.0 s     34.5 s       1.19x
      10       0.946       37.9 s     34.5 s       0.91x
      20       0.994       41.8 s     34.5 s       0.82x
      40       1.000      141.4 s     34.5 s       0.24x

``DEFAULT_NUM_HASH_TABLES = 20``: the smallest setting with recall@10 above 0.99; 40 tables
buy the last 0.6 points for three times the time. The "exact" column is the brute-force Spark
self-join on the listener (every pair of a listener's tracks): on this small demo data it is
about as fast as LSH, because its cost grows with the sum over listeners of (tracks per
listener)^2 and demo listeners have ~38 tracks, while LSH's cost grows with tracks x tables.
LSH pays off with heavy listeners or long playlists (MPD playlists of up to 250 tracks, a
600k-track catalogue); re-measure the speed-up there with ``--measure``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from engine.config import Settings
from engine.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from engine.store import Store

METHOD_MINHASH = "minhash"
#: Chosen from the recall / time measurement in the module docstring.
DEFAULT_NUM_HASH_TABLES = 20
#: Neighbours kept per track and method.
DEFAULT_TOP_N = 20
#: Tracks with fewer listeners have no meaningful set to compare (a 1-listener track is
#: "similar" to everything that one person played).
MIN_LISTENERS = 2
#: Methods ``python -m engine similarity`` can run, in order.
ALL_METHODS: tuple[str, ...] = ("minhash", "word2vec", "tfidf", "lda")
SIMILAR_COLUMNS: tuple[str, ...] = ("track_id", "other_id", "score", "method")


@dataclass
class SimilarityReport:
    """What a similarity run wrote: rows per method, topics, timings, bundle version."""

    rows: dict[str, int] = field(default_factory=dict)
    tracks: dict[str, int] = field(default_factory=dict)
    topics: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for the bundle manifest)."""
        return asdict(self)


@dataclass(frozen=True)
class LshMeasurement:
    """Recall of MinHash LSH against exact Jaccard, and the time of both, for one setting."""

    num_hash_tables: int
    recall_at_10: float
    lsh_seconds: float
    exact_seconds: float
    n_queries: int

    @property
    def speedup(self) -> float:
        """exact time / LSH time (> 1: LSH is faster)."""
        return self.exact_seconds / self.lsh_seconds if self.lsh_seconds > 0 else float("nan")


# -- inputs ----------------------------------------------------------------------------------


def check_columns(df: "DataFrame", columns: Sequence[str], what: str) -> None:
    """Raise :class:`InputError` naming the first missing column of ``df``."""
    for col in columns:
        if col not in df.columns:
            raise InputError(f"{what} lack required column {col!r} (have {', '.join(df.columns)})")


def listener_pairs(interactions: "DataFrame", *, item_col: str = "track_id", min_listeners: int = MIN_LISTENERS) -> "DataFrame":
    """Distinct ``(user_id, track_id)`` of tracks with at least ``min_listeners`` listeners."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    check_columns(interactions, ("user_id", item_col), "interactions")
    pairs = (
        interactions.where(F.col("user_id").isNotNull() & F.col(item_col).isNotNull())
        .select("user_id", F.col(item_col).alias("track_id"))
        .distinct()
    )
    counted = pairs.withColumn("n", F.count("*").over(Window.partitionBy("track_id")))
    return counted.where(F.col("n") >= min_listeners).drop("n")


def listener_sets(pairs: "DataFrame") -> "DataFrame":
    """``track_id, features``: each track's listeners as a binary sparse vector.

    ``CountVectorizer(binary=True)`` assigns one column per listener (vocabulary = all
    listeners), which is exactly the set representation ``MinHashLSH`` expects.
    """
    from pyspark.ml.feature import CountVectorizer
    from pyspark.sql import functions as F

    sets = pairs.groupBy("track_id").agg(F.collect_list("user_id").alias("users"))
    n_users = pairs.select("user_id").distinct().count()
    if n_users == 0:
        raise InputError("no track has enough listeners for MinHash (need at least 2 per track)")
    cv = CountVectorizer(inputCol="users", outputCol="features", binary=True, vocabSize=n_users, minDF=1.0)
    return cv.fit(sets).transform(sets).select("track_id", "features")


# -- neighbours ------------------------------------------------------------------------------


def top_n(pairs: "DataFrame", n: int) -> "DataFrame":
    """Keep each ``track_id``'s ``n`` best ``other_id`` by ``score`` (ties by ``other_id``)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy("track_id").orderBy(F.col("score").desc(), F.col("other_id"))
    return pairs.withColumn("r", F.row_number().over(w)).where(F.col("r") <= n).drop("r")


def minhash_neighbours(
    sets: "DataFrame", *, num_hash_tables: int = DEFAULT_NUM_HASH_TABLES, top: int = DEFAULT_TOP_N, seed: int = 42
) -> "DataFrame":
    """``track_id, other_id, score`` (Jaccard) of the top-``top`` LSH neighbours of each track.

    ``approxSimilarityJoin`` of ``sets`` with itself keeps candidate pairs whose Jaccard
    distance is below 1 (they share a listener); both orders of a pair are kept and the self
    pairs dropped, so every track gets its own neighbour list.
    """
    from pyspark.ml.feature import MinHashLSH
    from pyspark.sql import functions as F

    if num_hash_tables < 1:
        raise ValueError(f"num_hash_tables must be at least 1, got {num_hash_tables}")
    model = MinHashLSH(inputCol="features", outputCol="hashes", numHashTables=num_hash_tables, seed=seed).fit(sets)
    hashed = model.transform(sets)
    joined = model.approxSimilarityJoin(hashed, hashed, 1.0, distCol="distance")
    pairs = joined.select(
        F.col("datasetA.track_id").alias("track_id"),
        F.col("datasetB.track_id").alias("other_id"),
        (F.lit(1.0) - F.col("distance")).alias("score"),
    ).where(F.col("track_id") != F.col("other_id"))
    return top_n(pairs, top)


def exact_neighbours(pairs: "DataFrame", *, top: int = DEFAULT_TOP_N) -> "DataFrame":
    """Exact Jaccard top-``top`` by brute force: a self-join of ``pairs`` on the listener.

    The reference :func:`minhash_neighbours` is measured against; its cost grows with the sum
    over listeners of their number of tracks squared.
    """
    from pyspark.sql import functions as F

    a, b = pairs.alias("a"), pairs.alias("b")
    co = (
        a.join(b, F.col("a.user_id") == F.col("b.user_id"))
        .where(F.col("a.track_id") < F.col("b.track_id"))
        .groupBy(F.col("a.track_id").alias("x"), F.col("b.track_id").alias("y"))
        .agg(F.count("*").alias("co"))
    )
    sizes = pairs.groupBy("track_id").agg(F.count("*").alias("size"))
    sx = sizes.select(F.col("track_id").alias("x"), F.col("size").alias("nx"))
    sy = sizes.select(F.col("track_id").alias("y"), F.col("size").alias("ny"))
    jac = co.join(sx, "x").join(sy, "y").select(
        "x", "y", (F.col("co") / (F.col("nx") + F.col("ny") - F.col("co"))).alias("score")
    )
    both = jac.select(F.col("x").alias("track_id"), F.col("y").alias("other_id"), "score").unionByName(
        jac.select(F.col("y").alias("track_id"), F.col("x").alias("other_id"), "score")
    )
    return top_n(both, top)


# -- measurement -------------------------------------------------------------------------------


def recall_at_k(approx: pd.DataFrame, exact: pd.DataFrame, queries: Sequence[str], k: int = 10) -> float:
    """Mean tie-aware recall@k of ``approx`` neighbour lists against ``exact`` ones.

    Both frames have ``track_id, other_id, score`` (exact Jaccard in both: LSH recomputes the
    distance of every candidate). A query's hits are its approximate top-``k`` whose score
    reaches the exact ``k``-th best score; recall = hits / min(k, exact neighbours). Queries
    without exact neighbours are skipped.
    """
    ex = exact.sort_values(["track_id", "score"], ascending=[True, False]).groupby("track_id")["score"]
    kth = ex.apply(lambda s: s.iloc[: k].min())
    count = ex.size().clip(upper=k)
    ap = approx.sort_values(["track_id", "score"], ascending=[True, False]).groupby("track_id").head(k)
    recalls = []
    for q in queries:
        if q not in kth.index:
            continue
        got = ap.loc[ap["track_id"] == q, "score"].to_numpy()
        recalls.append(min(1.0, float((got >= kth[q] - 1e-9).sum()) / float(count[q])))
    return float(np.mean(recalls)) if recalls else float("nan")


def measure_lsh(
    pairs: "DataFrame",
    *,
    tables: Sequence[int] = (5, 10, 20, 40),
    n_queries: int = 300,
    seed: int = 42,
    echo: Callable[[str], None] = print,
) -> list[LshMeasurement]:
    """Recall@10 of MinHash LSH vs exact Jaccard on ``n_queries`` sampled tracks, and both times.

    Times are wall-clock seconds of computing every track's top-10 (forced with ``count``) on
    cached listener sets, so the vectorization is outside both.
    """
    pairs = pairs.cache()
    sets = listener_sets(pairs).cache()
    sets.count()
    start = time.perf_counter()
    exact_df = exact_neighbours(pairs, top=10).cache()
    exact_df.count()
    exact_s = time.perf_counter() - start
    exact = exact_df.toPandas()
    ids = np.array(sorted(exact["track_id"].unique()))
    rng = np.random.default_rng(seed)
    queries = rng.choice(ids, size=min(n_queries, len(ids)), replace=False).tolist()
    out = []
    for h in tables:
        start = time.perf_counter()
        lsh_df = minhash_neighbours(sets, num_hash_tables=h, top=10, seed=seed).cache()
        lsh_df.count()
        lsh_s = time.perf_counter() - start
        approx = lsh_df.where(lsh_df.track_id.isin(queries)).toPandas()
        lsh_df.unpersist()
        m = LshMeasurement(h, recall_at_k(approx, exact, queries, 10), lsh_s, exact_s, len(queries))
        echo(f"[similarity] tables={h:3d}  recall@10={m.recall_at_10:.3f}  lsh {lsh_s:.1f}s  "
             f"exact {exact_s:.1f}s  speed-up {m.speedup:.2f}x")
        out.append(m)
    exact_df.unpersist()
    sets.unpersist()
    pairs.unpersist()
    return out


# -- the run ---------------------------------------------------------------------------------


def run_similarity(
    spark: "SparkSession",
    *,
    interactions: "DataFrame",
    tracks: "DataFrame | None",
    store: "Store | None",
    methods: Sequence[str] = ALL_METHODS,
    num_hash_tables: int = DEFAULT_NUM_HASH_TABLES,
    top: int = DEFAULT_TOP_N,
    seed: int = 42,
    echo: Callable[[str], None] = print,
) -> tuple[SimilarityReport, dict[str, pd.DataFrame]]:
    """Compute the chosen ``methods`` and write them to ``store`` (each method replaced whole).

    Returns the report and the tables for the bundle: ``similar_tracks`` (all methods),
    ``topic_labels`` and ``track_topics`` (when ``lda`` ran) and ``item_listeners``
    (``track_id, listeners``).
    """
    from pyspark.sql import functions as F

    from engine import content_models as cm

    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        raise InputError(f"unknown similarity method {unknown[0]!r} (choose from {', '.join(ALL_METHODS)})")
    if any(m in ("tfidf", "lda") for m in methods) and tracks is None:
        raise InputError("the tfidf and lda methods need the tracks parquet (--tracks)")
    report = SimilarityReport()
    frames: list[pd.DataFrame] = []
    tables: dict[str, pd.DataFrame] = {}
    check_columns(interactions, ("user_id", "track_id"), "interactions")
    interactions = interactions.cache()
    listeners = interactions.groupBy("track_id").agg(F.countDistinct("user_id").alias("listeners")).toPandas()
    tables["item_listeners"] = listeners

    def finish(method: str, df: "DataFrame", started: float) -> None:
        pdf = df.select("track_id", "other_id", F.col("score").cast("double").alias("score")).toPandas()
        pdf["method"] = method
        frames.append(pdf)
        report.rows[method] = len(pdf)
        report.tracks[method] = int(pdf["track_id"].nunique())
        if store is not None:
            store.replace_similar(pdf[["track_id", "other_id", "score"]].itertuples(index=False, name=None), method=method)
        report.timings_s[method] = round(time.perf_counter() - started, 2)
        echo(f"[similarity] {method}: {len(pdf):,} rows for {report.tracks[method]:,} tracks "
             f"({report.timings_s[method]:.1f}s)")

    for method in methods:
        started = time.perf_counter()
        if method == "minhash":
            sets = listener_sets(listener_pairs(interactions))
            finish(method, minhash_neighbours(sets, num_hash_tables=num_hash_tables, top=top, seed=seed), started)
        elif method == "word2vec":
            emb = cm.word2vec_embeddings(cm.listening_sentences(interactions), seed=seed)
            finish(method, cm.lsh_cosine_neighbours(emb, top=top, seed=seed), started)
        elif method == "tfidf":
            vec = cm.tfidf_vectors(tracks)
            finish(method, cm.lsh_cosine_neighbours(vec, top=top, seed=seed), started)
        elif method == "lda":
            topics = cm.lda_topics(tracks, seed=seed)
            tables["topic_labels"], tables["track_topics"] = topics.labels, topics.track_topics
            report.topics = len(topics.labels)
            if store is not None:
                store.replace_topics(
                    topics.labels[["topic", "label"]].itertuples(index=False, name=None),
                    topics.track_topics[["track_id", "topic", "weight"]].itertuples(index=False, name=None),
                )
            report.timings_s[method] = round(time.perf_counter() - started, 2)
            echo(f"[similarity] lda: {report.topics} topics, e.g. {topics.labels['label'].iloc[0]!r}")
    interactions.unpersist()
    if frames:
        tables["similar_tracks"] = pd.concat(frames, ignore_index=True)[list(SIMILAR_COLUMNS)]
    return report, tables


def republish_with_tables(models_dir: Path, tables: dict[str, pd.DataFrame], *, keep: int, note: dict[str, Any]) -> str:
    """Publish a copy of the serving bundle with ``tables`` added; return the new version.

    Arrays aligned with the bundle's items (memory-mapped when served, so they scale with the
    catalogue where a table of ids would not): ``item_listeners`` becomes
    ``extra/item_listeners.npy`` (0 for items without interactions); ``similar_tracks``
    becomes ``extra/similar_<method>.npy`` (int32 item rows, -1 padded) and
    ``extra/similar_<method>_score.npy`` (float32). Other tables replace same-named ones.
    Factors and everything else are copied unchanged.
    """
    from engine.bundle import load_current, publish_bundle

    bundle = load_current(models_dir)
    extra = {k: np.asarray(v) for k, v in bundle.extra.items()}
    out_tables = dict(bundle.tables)
    ids = bundle.items["track_id"].astype(str)
    for name, table in tables.items():
        if name == "item_listeners":
            counts = pd.Series(table["listeners"].to_numpy(), index=table["track_id"].astype(str))
            extra["item_listeners"] = counts.reindex(ids).fillna(0).to_numpy().astype(np.int32)
        elif name == "similar_tracks":
            for method, rows in table.groupby("method"):
                extra[f"similar_{method}"], extra[f"similar_{method}_score"] = neighbour_arrays(rows, ids)
        else:
            out_tables[name] = table
    return publish_bundle(
        models_dir,
        keep=keep,
        items=bundle.items,
        item_factors=np.asarray(bundle.item_factors),
        popularity=np.asarray(bundle.popularity),
        audio_features=np.asarray(bundle.audio_features),
        kmeans=bundle.kmeans,
        params=bundle.params,
        data_stats={**bundle.manifest.get("data", {}), "similarity": note},
        metrics=bundle.manifest.get("metrics", {}),
        extra=extra,
        tables=out_tables,
    )


def neighbour_arrays(rows: pd.DataFrame, item_ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(ids int32 [n_items, width], scores float32)``: each item's neighbours as item rows,
    best first, -1 / NaN padded (neighbours outside ``item_ids`` are dropped)."""
    row_of = pd.Series(np.arange(len(item_ids)), index=item_ids.to_numpy())
    rows = rows[rows["track_id"].isin(row_of.index) & rows["other_id"].isin(row_of.index)]
    rows = rows.sort_values(["track_id", "score", "other_id"], ascending=[True, False, True])
    q = row_of.loc[rows["track_id"]].to_numpy()
    o = row_of.loc[rows["other_id"]].to_numpy()
    pos = rows.groupby("track_id").cumcount().to_numpy()
    width = int(pos.max()) + 1 if len(pos) else 1
    ids = np.full((len(item_ids), width), -1, dtype=np.int32)
    scores = np.full((len(item_ids), width), np.nan, dtype=np.float32)
    ids[q, pos], scores[q, pos] = o, rows["score"].to_numpy(dtype=np.float32)
    return ids, scores


# -- CLI -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine similarity``."""
    parser.add_argument("--interactions", nargs="+", type=Path, help="interactions parquet dataset(s); default: data/parquet/interactions*")
    parser.add_argument("--tracks", type=Path, help="canonical tracks parquet; default: data/parquet/tracks")
    parser.add_argument("--methods", default=",".join(ALL_METHODS), help=f"comma-separated subset of {','.join(ALL_METHODS)}")
    parser.add_argument("--tables", type=int, default=DEFAULT_NUM_HASH_TABLES, help="MinHash numHashTables")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP_N, help="neighbours kept per track and method")
    parser.add_argument("--measure", action="store_true", help="measure LSH recall@10 and speed-up vs exact Jaccard, write nothing")
    parser.add_argument("--no-publish", action="store_true", help="write the SQLite store only, not a new bundle version")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``python -m engine similarity``."""
    from engine.spark import get_spark
    from engine.store import Store
    from engine.train import default_interaction_paths, read_interactions

    paths = args.interactions or default_interaction_paths(settings)
    if not paths:
        raise InputError(f"no interactions parquet under {settings.parquet_dir} (run `python -m engine prepare`)")
    if args.top < 1:
        raise InputError(f"--top must be at least 1, got {args.top}")
    spark = get_spark(settings, app_name="similarity")
    interactions = read_interactions(spark, paths)
    if args.measure:
        measure_lsh(listener_pairs(interactions))  # prints one line per setting
        return 0
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    tracks = None
    tracks_path = args.tracks or settings.parquet_dir / "tracks"
    if any(m in ("tfidf", "lda") for m in methods):
        try:
            tracks = spark.read.parquet(str(tracks_path))
        except Exception as exc:
            raise InputError(f"cannot read tracks parquet {tracks_path}: {str(exc).splitlines()[0]}") from None
    store = Store(settings.store_path)
    report, tables = run_similarity(
        spark, interactions=interactions, tracks=tracks, store=store, methods=methods,
        num_hash_tables=args.tables, top=args.top,
    )
    if not args.no_publish:
        from engine.bundle import current_version

        if current_version(settings.models_dir):
            report.version = republish_with_tables(
                settings.models_dir, tables, keep=settings.keep_versions, note=report.to_dict()
            )
            print(f"[similarity] published {report.version} with tables {', '.join(sorted(tables))}")
        else:
            print(f"[similarity] no bundle in {settings.models_dir}: wrote the SQLite store only")
    print(f"similar_tracks in {settings.store_path}: " + ", ".join(f"{m} {n:,}" for m, n in report.rows.items()))
    return 0
