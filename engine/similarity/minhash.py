"""Item-item similarity by MinHash LSH over each track's listeners (method ``"minhash"``).

Data flow::

    interactions (user_id, track_id, ...)
      -> distinct (user, track); tracks with >= MIN_LISTENERS listeners        listener_pairs
      -> per track: the set of its listeners as a binary sparse vector (CountVectorizer)   listener_sets
      -> MinHashLSH(numHashTables) -> approxSimilarityJoin(self, Jaccard distance < 1)
      -> top-N other tracks per track by Jaccard                               minhash_neighbours

A "listener set" is the set of users (playlists, for playlist sources) that have the track;
Jaccard of two sets = shared / union. Spark's MinHash uses one hash function per table and a
pair becomes a candidate when any table collides (OR-amplification), so a pair with Jaccard
``J`` is found with probability ``1 - (1 - J)^H`` for ``H`` tables; every candidate's distance
is then computed exactly, so the scores written are exact Jaccard values.
:func:`exact_neighbours` is the brute-force reference and :func:`measure_lsh` compares the two.

Choosing numHashTables (``python -m engine similarity --measure`` prints this table). Demo data
from ``python -m engine prepare``: 1,500 synthetic listeners x 6,143 tracks, 56k interactions;
300 sampled query tracks; recall@10 counts an LSH neighbour as a hit when its Jaccard reaches
the exact 10th-best value, so ties do not count against it
(:func:`engine.similarity.common.lsh_recall`). Times are wall-clock seconds for every track's
top-10 on local[*] with 2 cores shared with other jobs (load average ~17), so treat them as rough::

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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pyspark.ml.feature import CountVectorizer, MinHashLSH
from pyspark.sql import Window
from pyspark.sql import functions as F

from engine.core.errors import InputError
from engine.similarity.common import check_columns, lsh_recall, top_n

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)


METHOD_MINHASH = "minhash"
#: Chosen from the recall / time measurement in the module docstring.
DEFAULT_NUM_HASH_TABLES = 20
#: Neighbours kept per track and method.
DEFAULT_TOP_N = 20
#: Tracks with fewer listeners have no meaningful set to compare (a 1-listener track is
#: "similar" to everything that one person played).
MIN_LISTENERS = 2


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


def listener_pairs(interactions: "DataFrame", *, item_col: str = "track_id", min_listeners: int = MIN_LISTENERS) -> "DataFrame":
    """Distinct ``(user_id, track_id)`` of tracks with at least ``min_listeners`` listeners."""

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

    sets = pairs.groupBy("track_id").agg(F.collect_list("user_id").alias("users"))
    n_users = pairs.select("user_id").distinct().count()
    if n_users == 0:
        raise InputError("no track has enough listeners for MinHash (need at least 2 per track)")
    cv = CountVectorizer(inputCol="users", outputCol="features", binary=True, vocabSize=n_users, minDF=1.0)
    return cv.fit(sets).transform(sets).select("track_id", "features")


def minhash_neighbours(
    sets: "DataFrame", *, num_hash_tables: int = DEFAULT_NUM_HASH_TABLES, top: int = DEFAULT_TOP_N, seed: int = 42
) -> "DataFrame":
    """``track_id, other_id, score`` (Jaccard) of the top-``top`` LSH neighbours of each track.

    ``approxSimilarityJoin`` of ``sets`` with itself keeps candidate pairs whose Jaccard
    distance is below 1 (they share a listener); both orders of a pair are kept and the self
    pairs dropped, so every track gets its own neighbour list.
    """

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


def measure_lsh(
    pairs: "DataFrame",
    *,
    tables: Sequence[int] = (5, 10, 20, 40),
    n_queries: int = 300,
    seed: int = 42,
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
        m = LshMeasurement(h, lsh_recall(approx, exact, queries, 10), lsh_s, exact_s, len(queries))
        logger.info(f"[similarity] tables={h:3d}  recall@10={m.recall_at_10:.3f}  lsh {lsh_s:.1f}s  "
                    f"exact {exact_s:.1f}s  speed-up {m.speedup:.2f}x")
        out.append(m)
    exact_df.unpersist()
    sets.unpersist()
    pairs.unpersist()
    return out
