"""A similarity run: every method's neighbours into the store and, republished, into the bundle.

:func:`run_similarity` (``python -m engine similarity``) fills the ``similar_tracks`` table of
the SQLite store, which the Similar songs page reads::

    interactions parquet (user_id, track_id, ...)
      -> engine.similarity.minhash (MinHash LSH over listener sets)        -> method "minhash"
      -> engine.similarity.content_models (TF-IDF, Word2Vec + BucketedRandomProjectionLSH, LDA topics)
                                                           -> methods "tfidf", "word2vec"; topics
    -> Store.replace_similar / Store.replace_topics (each method replaced whole: written in
       chunks into a staging table and swapped in by a rename, so the app's writes never wait
       for more than one chunk)
    -> listeners per track (``item_listeners``, read by the cold-track hybrid)

:func:`republish_with_tables` then publishes a copy of the serving bundle with those results as
arrays aligned with its items (memory-mapped when served, so they scale with the catalogue):
``extra/item_listeners.npy``, and per method ``extra/similar_<method>.npy`` (int32 item rows,
-1 padded) and ``extra/similar_<method>_score.npy`` (float32), built by
:func:`neighbour_arrays`; the topic tables go to ``tables/``. Factors and everything else are
copied unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
            # Sorted by the table's key, the chunked write appends pages (~4x faster than unsorted).
            ordered = pdf.sort_values(["track_id", "other_id"], kind="stable")
            store.replace_similar(ordered[["track_id", "other_id", "score"]].itertuples(index=False, name=None), method=method)
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
                    topics.track_topics.sort_values("track_id")[["track_id", "topic", "weight"]]
                    .itertuples(index=False, name=None),
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
