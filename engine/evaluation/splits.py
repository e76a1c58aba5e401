"""Train/test splits of interactions for evaluation, on Spark DataFrames.

Protocol: sum duplicate (user, item) rows, drop items with fewer than 2 listeners **once**,
then per listener: with n ≥ 5 items hide ``max(1, round(0.2·n))`` of them; listeners with fewer
items stay in training only. The validation split used for tuning is carved from the training
part the same way (another seed), without dropping items again.

Which items a listener hides is decided by a hash of ``(seed, user, item)``, not by
``rand(seed)``: Spark seeds ``rand`` per partition, so its values change with the number of
cores or input files, while the hash gives the same split on a laptop and on a cluster.
``round`` is half-up (Spark's); with the default fraction 0.2 no count lands on a half.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyspark.sql import Window
from pyspark.sql import functions as F

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

MIN_LISTENERS = 2
MIN_ITEMS = 5
TEST_FRACTION = 0.2


@dataclass
class Split:
    """A train/test pair of interaction DataFrames (same columns as the input)."""

    train: "DataFrame"
    test: "DataFrame"
    kind: str
    seed: int


def prepare_interactions(df: "DataFrame", *, item_col: str, min_listeners: int = MIN_LISTENERS) -> "DataFrame":
    """One row per (user_id, item): weights summed, latest ``ts`` kept (when present); items
    with fewer than ``min_listeners`` distinct listeners dropped.

    Returns ``user_id, <item_col>, weight[, ts]``.
    """

    aggs = [F.sum(F.col("weight").cast("double")).alias("weight")]
    if "ts" in df.columns:
        aggs.append(F.max("ts").alias("ts"))
    agg = (
        df.where(F.col("user_id").isNotNull() & F.col(item_col).isNotNull() & (F.col("weight") > 0))
        .groupBy("user_id", item_col)
        .agg(*aggs)
    )
    keep = agg.groupBy(item_col).agg(F.count("*").alias("_listeners")).where(F.col("_listeners") >= min_listeners)
    return agg.join(keep.select(item_col), on=item_col, how="left_semi").select("user_id", item_col, *agg.columns[2:])


def _split_by(
    df: "DataFrame",
    order: list["Column"],
    *,
    user_col: str,
    fraction: float,
    min_items: int,
) -> tuple["DataFrame", "DataFrame"]:
    """Rank each user's rows by ``order``; the first ``max(1, round(fraction·n))`` go to test
    when the user has at least ``min_items`` rows."""

    by_user = Window.partitionBy(user_col)
    n = F.count(F.lit(1)).over(by_user)
    n_test = F.when(n >= min_items, F.greatest(F.lit(1), F.round(n * F.lit(fraction)).cast("int"))).otherwise(0)
    flagged = df.withColumn("_test", F.row_number().over(by_user.orderBy(*order)) <= n_test)
    cols = df.columns
    return flagged.where(~F.col("_test")).select(*cols), flagged.where(F.col("_test")).select(*cols)


def holdout_split(
    df: "DataFrame",
    *,
    item_col: str,
    user_col: str = "user_id",
    seed: int = 42,
    fraction: float = TEST_FRACTION,
    min_items: int = MIN_ITEMS,
) -> Split:
    """Per-listener random holdout: each listener with ≥ ``min_items`` rows hides
    ``max(1, round(fraction·n))`` of them, chosen by a hash of ``(seed, user, item)``.

    ``df`` must hold one row per (user, item) — use :func:`prepare_interactions` first.
    The same input and seed always give the same split, whatever the partitioning.
    """

    key = F.xxhash64(F.lit(int(seed)), F.col(user_col).cast("string"), F.col(item_col).cast("string"))
    train, test = _split_by(
        df, [key, F.col(item_col)], user_col=user_col, fraction=fraction, min_items=min_items
    )
    return Split(train, test, "holdout", seed)


def time_split(
    df: "DataFrame",
    *,
    item_col: str,
    user_col: str = "user_id",
    ts_col: str = "ts",
    seed: int = 42,
    fraction: float = TEST_FRACTION,
    min_items: int = MIN_ITEMS,
) -> Split:
    """Per-listener time split: each listener with ≥ ``min_items`` rows hides their most recent
    ``max(1, round(fraction·n))`` items. Rows without a timestamp count as the oldest; equal
    timestamps are ordered by the same hash as :func:`holdout_split`."""

    if ts_col not in df.columns:
        raise ValueError(f"time split needs a {ts_col!r} column (have {', '.join(df.columns)})")
    key = F.xxhash64(F.lit(int(seed)), F.col(user_col).cast("string"), F.col(item_col).cast("string"))
    order = [F.col(ts_col).desc_nulls_last(), key, F.col(item_col)]
    train, test = _split_by(df, order, user_col=user_col, fraction=fraction, min_items=min_items)
    return Split(train, test, "time", seed)


def has_timestamps(df: "DataFrame", *, ts_col: str = "ts") -> bool:
    """True when ``df`` has a ``ts`` column with at least one non-null value."""

    return ts_col in df.columns and df.where(F.col(ts_col).isNotNull()).limit(1).count() > 0


def make_split(df: "DataFrame", *, item_col: str, kind: str = "holdout", seed: int = 42) -> Split:
    """:func:`holdout_split` or :func:`time_split` by name (``kind`` in {holdout, time})."""
    if kind == "holdout":
        return holdout_split(df, item_col=item_col, seed=seed)
    if kind == "time":
        return time_split(df, item_col=item_col, seed=seed)
    raise ValueError(f"unknown split {kind!r}; expected holdout or time")


def validation_split(train: "DataFrame", *, item_col: str, kind: str = "holdout", seed: int = 42) -> Split:
    """The tuning split, carved from a training part the same way (seed + 1, items not re-filtered)."""
    return make_split(train, item_col=item_col, kind=kind, seed=seed + 1)


def random_row_split(df: "DataFrame", *, item_col: str, test_fraction: float = 0.1, seed: int = 42) -> Split:
    """The book's split ("Advanced Analytics with Spark" ch. 3): a random ``test_fraction`` of
    all (user, item) rows, regardless of listener (hash-based for reproducibility)."""

    key = F.xxhash64(F.lit(int(seed)), F.col("user_id").cast("string"), F.col(item_col).cast("string"))
    # Map the 64-bit hash to [0, 1): pmod keeps it non-negative; 2^31-1 buckets are plenty.
    u = F.pmod(key, F.lit(2147483647)) / F.lit(2147483647.0)
    return Split(df.where(u >= test_fraction), df.where(u < test_fraction), "random-rows", seed)
