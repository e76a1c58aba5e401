"""Item–item neighbour lists for a bundle, on Spark: co-occurrence (cosine, item-kNN with shrinkage,
RP3beta; :func:`item_neighbours`) and EASE (:func:`component_neighbours`).

Data flow::

    training interactions (user_idx, item_idx, weight > 0)
      -> binary: one row per (user, item); a listener's items capped at ``max_user_items``
         (their highest weights), because a listener with n items makes n²/2 pairs
      -> self-join on the listener, i < j  -> per item pair: shared listeners (>= min_common) and
         co(i, j) = Σ_u |I_u|^(−γ) over them
      -> s(i, j) = co / (n_i^a · n_j^b + h), both directions (n_i = listeners of i)
      -> top ``top_n`` per item (ties: lower neighbour index first)
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
import scipy.sparse as sp
from pyspark.sql import Window
from pyspark.sql import functions as F

from engine.serving.neighbours import ItemNeighbours, NeighbourParams
from engine.spark.session import sql_conf
from engine.training.ease import ease_neighbours

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
    """Top-N co-occurrence neighbours of every item, computed with Spark (see the module docstring).

    Parameters
    ----------
    interactions : pyspark.sql.DataFrame
        Integer ``user_idx``, ``item_idx`` (0 ≤ item < ``n_items``) and ``weight``; rows with a
        non-positive weight are ignored, duplicates count once (binary data).
    n_items : int
        Number of item rows of the result.
    params : NeighbourParams
        top-N, the per-listener cap, the minimum of shared listeners.

    Returns
    -------
    ItemNeighbours
        Rows sorted by similarity (ties: lower index first); items nobody played have empty rows.
    """

    x = binary_capped(interactions, max_user_items=params.max_user_items, user_col=user_col, item_col=item_col).cache()
    both, listeners = cooccurrence_pairs(x, params)
    indptr, indices, scores = collect_top_rows(both, n_items, top_n=params.top_n)
    counts = listeners.toPandas()
    x.unpersist()
    listeners_arr = np.zeros(n_items, dtype=np.float32)
    listeners_arr[counts["i"].to_numpy(dtype=np.int64)] = counts["n"].to_numpy(dtype=np.float32)
    return ItemNeighbours(indptr, indices, scores, listeners_arr)


def collect_top_rows(pairs: "DataFrame", n_rows: int, *, top_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``top_n`` best ``j`` of every ``i`` of ``pairs`` ``(i, j, s)``, chosen inside Spark (a
    window) and collected as CSR arrays: int64 indptr ``[n_rows + 1]``, int32 indices, float32
    scores, each row best first (ties: lower ``j`` first); rows without pairs are empty."""
    by_row = Window.partitionBy("i").orderBy(F.desc("s"), F.asc("j"))
    top = pairs.withColumn("_r", F.row_number().over(by_row)).where(F.col("_r") <= top_n)
    # Without adaptive execution: it runs each shuffle stage of these deep plans as a job of its
    # own, and the similar-artist blend (three parts, their joins, the union and the window)
    # made ~100 jobs for the demo data's 8.5k artists. Planned once, the same arrays came out
    # faster: bench/artists.py 78 -> 55 s, --full 315 -> 254 s (README, "The artist model").
    with sql_conf(pairs.sparkSession, {"spark.sql.adaptive.enabled": "false"}):
        pdf = top.select("i", "j", "s").toPandas()
    i = pdf["i"].to_numpy(dtype=np.int64)
    j = pdf["j"].to_numpy(dtype=np.int64)
    s = pdf["s"].to_numpy(dtype=np.float64)
    if len(i) and (i.max() >= n_rows or j.max() >= n_rows or min(i.min(), j.min()) < 0):
        raise ValueError(f"indices outside 0..{n_rows - 1} in the neighbour input")
    order = np.lexsort((j, -s, i))  # by row, then best first, ties by lower neighbour index
    i, j, s = i[order], j[order], s[order]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(i, minlength=n_rows), out=indptr[1:])
    return indptr, j.astype(np.int32), s.astype(np.float32)


def binary_capped(
    interactions: "DataFrame", *, max_user_items: int, user_col: str = "user_idx", item_col: str = "item_idx"
) -> "DataFrame":
    """One row ``(u, i)`` per listener and item with a positive summed weight, each listener keeping
    only their ``max_user_items`` highest-weighted items (ties: lower item index; 0 keeps all)."""
    for col in (user_col, item_col, "weight"):
        if col not in interactions.columns:
            raise ValueError(f"neighbour input lacks column {col!r} (have {', '.join(interactions.columns)})")
    x = (
        interactions.where(F.col("weight") > 0)
        .groupBy(F.col(user_col).alias("u"), F.col(item_col).alias("i"))
        .agg(F.sum("weight").alias("w"))
    )
    if max_user_items:
        by_user = Window.partitionBy("u").orderBy(F.desc("w"), F.asc("i"))
        x = x.withColumn("_r", F.row_number().over(by_user)).where(F.col("_r") <= max_user_items)
    return x.select("u", "i")


#: Listener pairs (rows of the self-join) one task makes on average at most. Each task's partial
#: aggregation holds the distinct item pairs it has seen in a hash map (~50 bytes each), which
#: Spark spills too late for local mode's shared heap: at 1M interactions over a 600k catalogue,
#: 8 tasks of ~7M pairs ran a 4 GB driver out of heap (bench/artists.py).
PAIRS_PER_TASK = 2_000_000


def _spread_for_pairs(x: "DataFrame", users: "DataFrame") -> "DataFrame":
    """``x`` (listener rows) hash-partitioned by listener into enough partitions that the
    self-join's tasks make about :data:`PAIRS_PER_TASK` pairs each (unchanged when the shuffle
    partitions suffice). Both sides of the self-join are taken from the result, so they share
    its partitioning and the join adds no shuffle of its own."""
    pairs = users.agg(F.sum(F.col("n_u") * (F.col("n_u") - 1) / 2)).first()[0] or 0
    wanted = int(np.ceil(pairs / PAIRS_PER_TASK))
    if wanted <= int(x.sparkSession.conf.get("spark.sql.shuffle.partitions") or 1):
        return x
    return x.repartition(wanted, "u")


def cooccurrence_pairs(x: "DataFrame", params: NeighbourParams) -> tuple["DataFrame", "DataFrame"]:
    """Every directed pair ``(i, j, s)`` with ``s(i, j) = Σ_u |I_u|^(−γ) / (n_i^a · n_j^b + h)`` over
    the listeners both have (at least ``min_common``), before any top-N, and the listeners per item
    ``(i, n)``. ``x`` is :func:`binary_capped`'s output (cache it: it is read four times)."""
    listeners = x.groupBy("i").agg(F.count("*").alias("n"))
    # a listener's weight |I_u|^(-γ) (1 for cosine / item-kNN)
    users = x.groupBy("u").agg(
        F.pow(F.count("*").cast("double"), -float(params.user_exponent)).alias("wu"), F.count("*").alias("n_u")
    )
    weighted = _spread_for_pairs(x.join(users.select("u", "wu"), on="u"), users)
    left = weighted.alias("a")
    right = weighted.select("u", F.col("i").alias("j"))
    pairs = (
        left.join(right, on="u")
        .where(F.col("i") < F.col("j"))
        .groupBy("i", "j")
        .agg(F.count("*").alias("common"), F.sum("wu").alias("co"))
        .where(F.col("common") >= params.min_common)
    )
    n_i = listeners.select("i", F.col("n").cast("double").alias("ni"))
    n_j = listeners.select(F.col("i").alias("j"), F.col("n").cast("double").alias("nj"))
    sized = pairs.join(F.broadcast(n_i), on="i").join(F.broadcast(n_j), on="j")
    a, b, h = float(params.source_exponent), float(params.target_exponent), float(params.shrink)

    def directed(src: str, dst: str, n_src: str, n_dst: str) -> "DataFrame":
        s = F.col("co") / (F.pow(F.col(n_src), a) * F.pow(F.col(n_dst), b) + h)
        return sized.select(F.col(src).alias("i"), F.col(dst).alias("j"), s.alias("s"))

    # s(i, j) normalises by the source's and the target's listeners with different exponents,
    # so the two directions of a pair are two rows with (in general) different scores
    return directed("i", "j", "ni", "nj").unionByName(directed("j", "i", "nj", "ni")), listeners


def component_neighbours(
    interactions: "DataFrame",
    n_items: int,
    *,
    params: NeighbourParams,
    user_col: str = "user_idx",
    item_col: str = "item_idx",
) -> ItemNeighbours:
    """The lists of one served component: co-occurrence on Spark (:func:`item_neighbours`), or
    EASE on the driver (the listener × item pairs are collected: EASE's item subset is dense
    anyway, and the pairs of a dataset that fits EASE fit in memory)."""
    if params.kind == "cooccurrence":
        return item_neighbours(interactions, n_items, params=params, user_col=user_col, item_col=item_col)
    pdf = (
        interactions.where(F.col("weight") > 0).select(F.col(user_col).alias("u"), F.col(item_col).alias("i"))
        .distinct().toPandas()
    )
    n_users = int(pdf["u"].max()) + 1 if len(pdf) else 0
    B = sp.csr_matrix((np.ones(len(pdf)), (pdf["u"].to_numpy(), pdf["i"].to_numpy())), shape=(n_users, n_items))
    return ease_neighbours(B, lam=params.ease_lambda, max_items=params.ease_items, top_n=params.top_n)
