"""Helpers shared by the similarity methods (Spark and pandas).

:func:`check_columns` raises :class:`~engine.core.errors.InputError` naming a missing input
column; :func:`top_n` keeps each ``track_id``'s ``n`` best ``other_id`` by ``score`` (a Spark
window, ties by ``other_id``); :func:`lsh_recall` measures an approximate neighbour list
against the exact one, tie-aware: a query's hit is an approximate top-``k`` neighbour whose
score reaches the exact ``k``-th best score, and recall = hits / min(k, exact neighbours).
Used by :mod:`engine.similarity.minhash` and :mod:`engine.similarity.content_models`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

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
