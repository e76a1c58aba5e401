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
``exclude``           as ``dislike``: a history track the listener unticked in the app
====================  ===========================================================

Positive weights of a (user, track) pair are summed; ``ts`` is the latest positive event's.
Events repeating an ``event_id`` already seen (an at-least-once writer) count once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.ingest.readers.common import (
    ReadReport,
    check_local_paths,
    file_col,
    finish_report,
    split_rejects,
)
from engine.state.events import EVENT_FIELDS

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

SOURCE_APP = "app"
#: Default weight of each positive kind when the event carries none.
POSITIVE_KINDS: dict[str, float] = {"play": 1.0, "save": 2.0, "like": 3.0}
#: Kinds that never produce an interaction.
NON_POSITIVE_KINDS: tuple[str, ...] = ("skip", "dislike", "recommended", "exclude")
#: Kinds that cancel their (user, track) pair when they are its latest event.
CANCELLING_KINDS: tuple[str, ...] = ("dislike", "exclude")
#: Past-tense spellings (written by early app builds) -> the kinds above.
KIND_ALIASES: dict[str, str] = {"played": "play", "liked": "like", "saved": "save", "disliked": "dislike", "skipped": "skip"}


def parse_ts(col: "Column") -> "Column":
    """ISO-8601 text or epoch seconds/milliseconds -> timestamp (null when unparseable)."""

    number = F.trim(col).try_cast("double")
    seconds = F.when(number > 1e11, number / 1000).otherwise(number)
    return F.when(number.isNotNull(), F.timestamp_seconds(seconds.cast("long"))).otherwise(
        F.try_to_timestamp(F.trim(col))
    )


def raw_event_schema() -> Any:
    """Every event field as text (types are checked by :func:`parse_events`), plus the corrupt record."""

    return T.StructType(
        [T.StructField(f, T.StringType()) for f in EVENT_FIELDS] + [T.StructField("_corrupt_record", T.StringType())]
    )


def _lookup(key: "Column", mapping: dict[str, Any]) -> "Column":
    """``CASE key WHEN k THEN v ... END`` (null for other keys): no map subscript, which
    raises on a missing key under ANSI mode."""

    (k0, v0), *rest = mapping.items()
    expr = F.when(key == k0, F.lit(v0))
    for k, v in rest:
        expr = expr.when(key == k, F.lit(v))
    return expr


def parse_events(raw: "DataFrame") -> "DataFrame":
    """Raw lines (``value``, ``origin``) -> one row per non-blank line with the parsed event or a ``reason``.

    The one definition of a valid event, used by :func:`read_app_events` and by the stream
    (``engine.streaming.stream``); reasons: ``invalid JSON``, ``missing user_id``, ``missing track_id``,
    ``unknown kind``, ``bad weight``, ``bad ts``. Applied per line, so it works on a stream. ``weight`` is the effective evidence: the given
    or default weight for positive kinds, 0 for the others.
    """

    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record"}
    # Three projections: parse once, compute each field once, then judge the fields.
    rows = (
        raw.where(F.trim("value") != "")
        .select("origin", F.col("value").alias("raw"), F.from_json("value", raw_event_schema(), options).alias("j"))
        .select("origin", "raw", "j.*")
    )
    lowered = F.lower(F.trim("kind"))
    fields = rows.select(
        "origin",
        "raw",
        F.col("_corrupt_record").isNotNull().alias("_corrupt"),
        F.coalesce(F.nullif(F.trim("event_id"), F.lit("")), F.concat(F.lit("sha:"), F.sha2("raw", 256))).alias("event_id"),
        F.trim("user_id").alias("user_id"),
        F.regexp_replace(F.trim("track_id"), r"^spotify:track:", "").alias("track_id"),
        F.coalesce(_lookup(lowered, KIND_ALIASES), lowered).alias("kind"),
        F.trim("weight").alias("_weight_given"),
        F.trim("weight").try_cast("double").alias("_weight"),
        F.col("ts").isNotNull().alias("_ts_given"),
        parse_ts(F.col("ts")).alias("ts"),
    )
    positive = F.col("kind").isin(*POSITIVE_KINDS)
    weight, given = F.col("_weight"), F.col("_weight_given")
    return fields.select(
        "origin",
        "raw",
        "event_id",
        "user_id",
        "track_id",
        "kind",
        F.when(positive, F.coalesce(weight, _lookup(F.col("kind"), POSITIVE_KINDS))).otherwise(F.lit(0.0))
        .cast("double").alias("weight"),
        "ts",
        F.when(F.col("_corrupt"), "invalid JSON")
        .when(F.col("user_id").isNull() | (F.col("user_id") == ""), "missing user_id")
        .when(F.col("track_id").isNull() | (F.col("track_id") == ""), "missing track_id")
        .when(F.col("kind").isNull() | ~F.col("kind").isin(*POSITIVE_KINDS, *NON_POSITIVE_KINDS), "unknown kind")
        .when(given.isNotNull() & (weight.isNull() | F.isnan(weight) | ((weight <= 0) & positive)), "bad weight")
        .when(F.col("_ts_given") & F.col("ts").isNull(), "bad ts")
        .alias("reason"),
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

    path = str(path_or_dir)
    check_local_paths([path])
    report = ReadReport(source=SOURCE_APP, files=[path])
    # The same per-line rules as the stream (parse_events), so both paths agree on every event.
    raw = spark.read.text(path).select("value", file_col().alias("origin"))
    parsed = parse_events(raw).withColumnRenamed("origin", "file")
    good = split_rejects(parsed, report=report, settings=settings, name="app_events")
    if report.read > 0 and report.n_rejected == report.read:
        detail = ", ".join(f"{r} {n:,}" for r, n in sorted(report.rejected.items()))
        raise InputError(f"{path}: no valid event (read {report.read:,}; {detail})")

    # At-least-once writers may repeat an event; keep the first copy of each event_id (an event
    # without one is keyed by a hash of its line, as in the stream).
    first = Window.partitionBy("event_id").orderBy(F.col("ts").asc_nulls_first(), "file")
    events = good.withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n").cache()

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
        F.max(F.when(F.col("kind").isin(*CANCELLING_KINDS), F.coalesce("ts", epoch))).alias("last_dislike"),
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
