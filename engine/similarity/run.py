"""Item-item similarity on Spark: MinHash LSH over each track's listeners, plus the content models.

``python -m engine similarity`` fills the ``similar_tracks`` table (SQLite store, and the
serving bundle's ``tables/similar_tracks.parquet``) that the Similar songs page reads::

    interactions parquet (user_id, track_id, ...)
      -> distinct (user, track); tracks with >= MIN_LISTENERS listeners
      -> per track: the set of its listeners as a binary sparse vector (CountVectorizer)
      -> MinHashLSH(numHashTables) -> approxSimilarityJoin(self, Jaccard distance < 1)
      -> top-N other tracks per track by Jaccard           -> method "minhash"
    engine.similarity.content_models (TF-IDF, Word2Vec + BucketedRandomProjectionLSH, LDA topics)
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

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from engine.bundle.load import load_current
from engine.bundle.publish import publish_bundle
from engine.core.errors import InputError
from engine.similarity import content_models as cm
from engine.similarity.common import check_columns
from engine.similarity.minhash import (
    DEFAULT_NUM_HASH_TABLES,
    DEFAULT_TOP_N,
    listener_pairs,
    listener_sets,
    minhash_neighbours,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from engine.state.store import Store

logger = logging.getLogger(__name__)

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
) -> tuple[SimilarityReport, dict[str, pd.DataFrame]]:
    """Compute the chosen ``methods`` and write them to ``store`` (each method replaced whole).

    Returns the report and the tables for the bundle: ``similar_tracks`` (all methods),
    ``topic_labels`` and ``track_topics`` (when ``lda`` ran) and ``item_listeners``
    (``track_id, listeners``).
    """


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
        logger.info(f"[similarity] {method}: {len(pdf):,} rows for {report.tracks[method]:,} tracks "
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
            logger.info(f"[similarity] lda: {report.topics} topics, e.g. {topics.labels['label'].iloc[0]!r}")
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
