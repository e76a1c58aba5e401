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

from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
from pyspark.sql import Window
from pyspark.sql import functions as F

from engine.core.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame



# -- inputs ----------------------------------------------------------------------------------


def check_columns(df: "DataFrame", columns: Sequence[str], what: str) -> None:
    """Raise :class:`InputError` naming the first missing column of ``df``."""
    for col in columns:
        if col not in df.columns:
            raise InputError(f"{what} lack required column {col!r} (have {', '.join(df.columns)})")


# -- neighbours ------------------------------------------------------------------------------


def top_n(pairs: "DataFrame", n: int) -> "DataFrame":
    """Keep each ``track_id``'s ``n`` best ``other_id`` by ``score`` (ties by ``other_id``)."""

    w = Window.partitionBy("track_id").orderBy(F.col("score").desc(), F.col("other_id"))
    return pairs.withColumn("r", F.row_number().over(w)).where(F.col("r") <= n).drop("r")


# -- measurement -------------------------------------------------------------------------------


def lsh_recall(approx: pd.DataFrame, exact: pd.DataFrame, queries: Sequence[str], k: int = 10) -> float:
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
