"""Computing the item–item cosine neighbours on Spark (:func:`item_neighbours`).

Data flow::

    training interactions (user_idx, item_idx, weight > 0)
      -> binary: one row per (user, item); a listener's items capped at ``max_user_items``
         (their highest weights), because a listener with n items makes n²/2 pairs
      -> self-join on the listener, i < j  -> co-occurrence count per item pair (>= min_common)
      -> cosine = co(i, j) / (sqrt(n_i) · sqrt(n_j)),  n_i = listeners of i
      -> both directions, top ``top_n`` per item (ties: lower neighbour index first)
      -> collected into CSR arrays (engine.serving.neighbours.ItemNeighbours)

Why a self-join rather than ``RowMatrix.columnSimilarities`` (DIMSUM): the DataFrame version is
exact, caps heavy listeners explicitly, keeps the top-N per item inside Spark (a window), and
needs no RDD API; DIMSUM's sampling only pays off for dense columns, which listening data lacks.

Used by training (:mod:`engine.training.run`, which remaps the rows to the bundle's items and
ships them as ``extra`` arrays) and by the evaluation's served-model row and blend search
(:mod:`engine.evaluation.protocol`, :mod:`engine.evaluation.tuning`). The storage format is
:mod:`engine.serving.neighbours`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pyspark.sql import Window
from pyspark.sql import functions as F

from engine.serving.neighbours import ItemNeighbours, NeighbourParams

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def item_neighbours(
    interactions: "DataFrame",
    n_items: int,
    *,
    params: NeighbourParams = NeighbourParams(),
    user_col: str = "user_idx",
    item_col: str = "item_idx",
) -> ItemNeighbours:
    """Top-N cosine neighbours of every item, computed with Spark (see the module docstring).

    Parameters
    ----------
    interactions : pyspark.sql.DataFrame
        Integer ``user_idx``, ``item_idx`` (0 ≤ item < ``n_items``) and ``weight``; rows with a
        non-positive weight are ignored, duplicates count once (cosine on binary data).
    n_items : int
        Number of item rows of the result.
    params : NeighbourParams
        top-N, the per-listener cap, the minimum of shared listeners.

    Returns
    -------
    ItemNeighbours
        Rows sorted by cosine (ties: lower index first); items nobody played have empty rows.
    """

    for col in (user_col, item_col, "weight"):
        if col not in interactions.columns:
            raise ValueError(f"neighbour input lacks column {col!r} (have {', '.join(interactions.columns)})")
    x = (
        interactions.where(F.col("weight") > 0)
        .groupBy(F.col(user_col).alias("u"), F.col(item_col).alias("i"))
        .agg(F.sum("weight").alias("w"))
    )
    if params.max_user_items:
        by_user = Window.partitionBy("u").orderBy(F.desc("w"), F.asc("i"))
        x = x.withColumn("_r", F.row_number().over(by_user)).where(F.col("_r") <= params.max_user_items)
    x = x.select("u", "i").cache()
    listeners = x.groupBy("i").agg(F.count("*").alias("n"))
    left = x.alias("a")
    right = x.select("u", F.col("i").alias("j"))
    pairs = (
        left.join(right, on="u")
        .where(F.col("i") < F.col("j"))
        .groupBy("i", "j")
        .agg(F.count("*").alias("co"))
        .where(F.col("co") >= params.min_common)
    )
    norms_i = listeners.select("i", F.sqrt(F.col("n").cast("double")).alias("ni"))
    norms_j = listeners.select(F.col("i").alias("j"), F.sqrt(F.col("n").cast("double")).alias("nj"))
    sims = (
        pairs.join(F.broadcast(norms_i), on="i")
        .join(F.broadcast(norms_j), on="j")
        .select("i", "j", (F.col("co").cast("double") / (F.col("ni") * F.col("nj"))).alias("s"))
    )
    both = sims.unionByName(sims.select(F.col("j").alias("i"), F.col("i").alias("j"), "s"))
    by_item = Window.partitionBy("i").orderBy(F.desc("s"), F.asc("j"))
    top = both.withColumn("_r", F.row_number().over(by_item)).where(F.col("_r") <= params.top_n)
    pdf = top.select("i", "j", "s").toPandas()
    counts = listeners.toPandas()
    x.unpersist()

    i = pdf["i"].to_numpy(dtype=np.int64)
    j = pdf["j"].to_numpy(dtype=np.int64)
    s = pdf["s"].to_numpy(dtype=np.float64)
    if len(i) and (i.max() >= n_items or j.max() >= n_items or min(i.min(), j.min()) < 0):
        raise ValueError(f"item indices outside 0..{n_items - 1} in the neighbour input")
    order = np.lexsort((j, -s, i))  # by item, then best first, ties by lower neighbour index
    i, j, s = i[order], j[order], s[order]
    indptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(np.bincount(i, minlength=n_items), out=indptr[1:])
    listeners_arr = np.zeros(n_items, dtype=np.float32)
    listeners_arr[counts["i"].to_numpy(dtype=np.int64)] = counts["n"].to_numpy(dtype=np.float32)
    return ItemNeighbours(indptr, j.astype(np.int32), s.astype(np.float32), listeners_arr)
