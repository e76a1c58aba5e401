"""The app's listening events (JSON lines) as interactions with ``source = "app"``.

One event per line: ``{"event_id", "user_id", "track_id", "kind", "weight", "ts"}``. ``ts`` is
an ISO-8601 string or epoch seconds (milliseconds when > 1e11); ``weight`` is optional.

How kinds map to interaction weights (documented here, used by the app and the refresh):

====================  ===========================================================
kind                  interaction
====================  ===========================================================
``play``              ``weight`` if given (> 0), else 1.0
``save``              ``weight`` if given (> 0), else 2.0
``like``              ``weight`` if given (> 0), else 3.0
``skip``              none (ignored, counted)
``recommended``       none: being shown a track is not a signal of taste
``dislike``           none, and it cancels the (user, track) pair when it is the latest
                      event of that pair (events without ``ts`` count as earliest)
====================  ===========================================================

Positive weights of a (user, track) pair are summed; ``ts`` is the latest positive event's.
Events repeating an ``event_id`` already seen (an at-least-once writer) count once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.config import Settings
from engine.errors import InputError
from engine.readers_common import (
    ReadReport,
    check_local_paths,
    file_col,
    finish_report,
    split_rejects,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame, SparkSession

SOURCE_APP = "app"
#: Default weight of each positive kind when the event carries none.
POSITIVE_KINDS: dict[str, float] = {"play": 1.0, "save": 2.0, "like": 3.0}
#: Kinds that never produce an interaction.
NON_POSITIVE_KINDS: tuple[str, ...] = ("skip", "dislike", "recommended")
_FIELDS = ("event_id", "user_id", "track_id", "kind", "weight", "ts")


def _parse_ts(col: "Column") -> "Column":
    """ISO-8601 text or epoch seconds/milliseconds -> timestamp (null when unparseable)."""
    from pyspark.sql import functions as F

    number = F.trim(col).try_cast("double")
    seconds = F.when(number > 1e11, number / 1000).otherwise(number)
    return F.when(number.isNotNull(), F.timestamp_seconds(seconds.cast("long"))).otherwise(
        F.try_to_timestamp(F.trim(col))
    )


def read_app_events(
    spark: "SparkSession", path_or_dir: str | Path, *, settings: Settings
) -> tuple["DataFrame", ReadReport]:
    """Read app listening events (a JSON-lines file or a directory of them).

    Parameters
    ----------
    spark
        The session.
    path_or_dir
        A file, or a directory whose files are all event files (names starting with ``.`` or
        ``_`` are skipped, so a writer can use them for files in progress).
    settings
        For ``rejects_dir``.

    Returns
    -------
    (interactions, report)
        ``report.kept`` counts events that produced a positive weight; ``report.ignored``
        counts skips, dislikes, recommendations, duplicates and cancelled pairs' events.
        Rejected: ``invalid JSON``, ``missing user_id``, ``missing track_id``, ``unknown
        kind``, ``bad weight``, ``bad ts``.

    Raises
    ------
    InputError
        The path is missing, or it holds events and none of them is valid.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
    from pyspark.sql.window import Window

    path = str(path_or_dir)
    check_local_paths([path])
    report = ReadReport(source=SOURCE_APP, files=[path])
    schema = T.StructType(
        [T.StructField(f, T.StringType()) for f in _FIELDS] + [T.StructField("_corrupt_record", T.StringType())]
    )
    rows = (
        spark.read.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .json(path)
        .select("*", file_col().alias("file"))
    )
    kind = F.lower(F.trim("kind"))
    weight_given = F.trim("weight")
    weight = weight_given.try_cast("double")
    ts = _parse_ts(F.col("ts"))
    track_id = F.regexp_replace(F.trim("track_id"), r"^spotify:track:", "")
    known = F.lit(list(POSITIVE_KINDS) + list(NON_POSITIVE_KINDS))
    default_weight = F.create_map(*[x for k, w in POSITIVE_KINDS.items() for x in (F.lit(k), F.lit(w))])
    parsed = rows.select(
        "file",
        F.coalesce("_corrupt_record", F.to_json(F.struct(*_FIELDS))).alias("raw"),
        F.trim("event_id").alias("event_id"),
        F.trim("user_id").alias("user_id"),
        track_id.alias("track_id"),
        kind.alias("kind"),
        F.coalesce(weight, default_weight[kind]).alias("weight"),
        ts.alias("ts"),
        F.when(F.col("_corrupt_record").isNotNull(), "invalid JSON")
        .when(F.col("user_id").isNull() | (F.trim("user_id") == ""), "missing user_id")
        .when(F.col("track_id").isNull() | (track_id == ""), "missing track_id")
        .when(kind.isNull() | ~F.array_contains(known, kind), "unknown kind")
        .when(
            weight_given.isNotNull()
            & (weight.isNull() | F.isnan(weight) | ((weight <= 0) & kind.isin(*POSITIVE_KINDS))),
            "bad weight",
        )
        .when(F.col("ts").isNotNull() & ts.isNull(), "bad ts")
        .alias("reason"),
    )
    good = split_rejects(parsed, report=report, settings=settings, name="app_events")
    if report.read > 0 and report.n_rejected == report.read:
        detail = ", ".join(f"{r} {n:,}" for r, n in sorted(report.rejected.items()))
        raise InputError(f"{path}: no valid event (read {report.read:,}; {detail})")

    # At-least-once writers may repeat an event; keep the first copy of each event_id.
    first = Window.partitionBy("event_id").orderBy(F.col("ts").asc_nulls_first(), "file")
    with_id = good.where(F.col("event_id").isNotNull())
    deduped = with_id.withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n")
    events = deduped.unionByName(good.where(F.col("event_id").isNull())).cache()

    by_kind = {r["kind"]: int(r["count"]) for r in events.groupBy("kind").count().collect()}
    duplicates = report.read - report.n_rejected - sum(by_kind.values())
    if duplicates:
        report.ignored["duplicate event_id"] = duplicates
    for k in NON_POSITIVE_KINDS:
        if by_kind.get(k):
            report.ignored[k] = by_kind[k]

    epoch = F.timestamp_seconds(F.lit(0))
    positive = F.col("kind").isin(*POSITIVE_KINDS)
    pairs = events.groupBy("user_id", "track_id").agg(
        F.sum(F.when(positive, F.col("weight"))).alias("weight"),
        F.count(F.when(positive, F.lit(1))).alias("n_positive"),
        F.max(F.when(positive, F.coalesce("ts", epoch))).alias("last_positive"),
        F.max(F.when(positive, F.col("ts"))).alias("ts"),
        F.max(F.when(F.col("kind") == "dislike", F.coalesce("ts", epoch))).alias("last_dislike"),
    )
    cancelled = F.col("last_dislike").isNotNull() & (F.col("last_dislike") >= F.col("last_positive"))
    pairs = pairs.where(F.col("n_positive") > 0).withColumn("cancelled", cancelled).cache()
    stats = pairs.groupBy("cancelled").agg(F.sum("n_positive").alias("n")).collect()
    n_cancelled = sum(int(r["n"]) for r in stats if r["cancelled"])
    report.kept = sum(int(r["n"]) for r in stats if not r["cancelled"])
    if n_cancelled:
        report.ignored["cancelled by a later dislike"] = n_cancelled
    interactions = pairs.where(~F.col("cancelled")).select(
        "user_id", "track_id", "weight", F.lit(SOURCE_APP).alias("source"), "ts"
    )
    return finish_report(interactions, report, item_col="track_id"), report
