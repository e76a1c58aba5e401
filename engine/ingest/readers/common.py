"""Shared machinery of the listening-data readers (gathered by :mod:`engine.ingest.interactions`).

Every reader parses its input into one Spark DataFrame that carries, per input record, either
the parsed fields or a ``reason`` why the record cannot be used, plus the source ``file`` and
the ``raw`` text. :func:`split_rejects` then counts records by reason, writes the rejected ones
(file, reason, raw) as JSON lines under ``settings.rejects_dir/<name>/``, and hands back the
good ones, so no record ever disappears without being counted.
"""

from __future__ import annotations

import reprlib
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.errors import PythonException
from pyspark.sql import functions as F

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.spark.io import unreadable_file
from engine.spark.schemas import interactions_schema

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


@dataclass
class ReadReport:
    """What a reader read, kept and rejected (counts are input records: lines, rows, entries).

    Attributes
    ----------
    source
        The ``source`` value of the interactions produced (``mpd``, ``playlists``...).
    files
        The input paths.
    read, kept
        Records read, and records that went into interactions.
    rejected
        reason -> count of records that could not be used (written to ``rejects_path``).
    ignored
        reason -> count of valid records that on purpose produce no interaction (e.g. app
        ``skip`` events); not written to the rejects file.
    matched, match_rate
        For readers that match names to a catalogue: records matched, and matched / valid.
    users, items, interactions
        Distinct users, distinct items, and rows of the output table (after summing).
    rejects_path
        Where the rejected records were written (``None`` when there were none).
    related
        Reports of side files read along (artist names, aliases).
    """

    source: str
    files: list[str] = field(default_factory=list)
    read: int = 0
    kept: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)
    matched: int | None = None
    match_rate: float | None = None
    users: int = 0
    items: int = 0
    interactions: int = 0
    rejects_path: Path | None = None
    related: list["ReadReport"] = field(default_factory=list)

    @property
    def n_rejected(self) -> int:
        """Total rejected records."""
        return sum(self.rejected.values())

    def summary(self) -> str:
        """One line, e.g. ``read 1,000, kept 990, rejected 10: bad count 10 -> 40 users ...``."""
        parts = [f"{self.source}: read {self.read:,}, kept {self.kept:,}, rejected {self.n_rejected:,}"]
        if self.rejected:
            parts[0] += ": " + ", ".join(f"{r} {n:,}" for r, n in sorted(self.rejected.items()))
        if self.ignored:
            parts.append("ignored " + ", ".join(f"{r} {n:,}" for r, n in sorted(self.ignored.items())))
        if self.match_rate is not None:
            parts.append(f"match rate {self.match_rate:.1%} ({self.matched:,} matched)")
        parts.append(
            f"-> {self.interactions:,} interactions, {self.users:,} users, {self.items:,} items"
        )
        if self.rejects_path is not None:
            parts.append(f"rejects in {self.rejects_path}")
        return "; ".join(parts)

    def summary_lines(self) -> list[str]:
        """:meth:`summary` of this report, then one line per related file."""
        lines = [self.summary()]
        for rel in self.related:
            line = f"{rel.source}: read {rel.read:,}, kept {rel.kept:,}, rejected {rel.n_rejected:,}"
            if rel.rejected:
                line += ": " + ", ".join(f"{r} {n:,}" for r, n in sorted(rel.rejected.items()))
            if rel.ignored:
                line += "; ignored " + ", ".join(f"{r} {n:,}" for r, n in sorted(rel.ignored.items()))
            if rel.rejects_path is not None:
                line += f"; rejects in {rel.rejects_path}"
            lines.append(line)
        return lines


def as_path_list(paths: str | Path | Iterable[str | Path]) -> list[str]:
    """One path or many, as a list of strings (raises InputError for an empty list)."""
    if isinstance(paths, (str, Path)):
        out = [str(paths)]
    else:
        out = [str(p) for p in paths]
    if not out:
        raise InputError("no input files given")
    return out


def check_local_paths(paths: Sequence[str]) -> None:
    """Raise InputError naming the first local path that does not exist or is unreadable.

    Remote paths (``s3a://``, ``hdfs://``...) are left for Spark to open.
    """
    for p in paths:
        if "://" in p and not p.startswith("file://"):
            continue
        local = Path(p.removeprefix("file://"))
        if not local.exists():
            raise InputError(f"{p}: no such file or directory")
        if local.is_file():
            try:
                with open(local, "rb") as fh:
                    fh.read(1)
            except OSError as exc:
                raise InputError(f"{p}: cannot be read ({exc.strerror or exc})") from None


_SHOWN = reprlib.Repr()
_SHOWN.maxstring = 200


def shown(text: str) -> str:
    """``repr(text)`` cut to at most 200 characters (its middle elided): a file's first line
    can be the whole file when it has no line breaks, and an error must stay one short line."""
    return _SHOWN.repr(text)


def file_col() -> "Column":
    """The input file of each row (Spark's hidden ``_metadata.file_path``)."""

    return F.col("_metadata.file_path")


def first_line(spark: "SparkSession", path: str) -> str:
    """The first line of a text file (gzip ok), CR stripped; InputError when empty/unreadable."""
    try:
        row = spark.read.text(path).first()
    except Exception as exc:  # Spark wraps I/O errors in many classes; report the message.
        raise InputError(f"{path}: cannot be read ({_short(exc)})") from None
    if row is None:
        raise InputError(f"{path}: file is empty")
    return str(row[0]).rstrip("\r")


def split_rejects(
    parsed: "DataFrame",
    *,
    report: ReadReport,
    settings: Settings,
    name: str,
    raw_col: str = "raw",
) -> "DataFrame":
    """Count ``parsed`` by ``reason``, write the rejects, and return the good rows (cached).

    ``parsed`` has a nullable ``reason`` column (null = usable), a ``file`` column and
    ``raw_col``. Adds to ``report.read``, ``report.rejected`` and sets ``report.rejects_path``;
    the reader fills ``kept`` itself (some usable records are ignored on purpose). The
    rejects replace those of an earlier run of the same reader (``name``).
    """

    parsed = parsed.cache()
    try:  # the first Spark job over the input: where a truncated .gz or a broken file shows
        counts = {row["reason"]: int(row["count"]) for row in parsed.groupBy("reason").count().collect()}
    except PythonException:
        raise  # an error inside a Python UDF is a bug, not bad input
    except Exception as exc:  # Spark raises Java errors of many classes
        error = unreadable_file(exc, report.files)
        if error is None:
            raise
        raise error from None
    report.read += sum(counts.values())
    bad = {reason: n for reason, n in counts.items() if reason is not None}
    for reason, n in bad.items():
        report.rejected[reason] = report.rejected.get(reason, 0) + n
    out = settings.rejects_dir / name
    if not bad and out.is_dir():
        shutil.rmtree(out)  # rejects of an earlier run of this reader would mislead
    if bad:
        (
            parsed.where(F.col("reason").isNotNull())
            .select("file", "reason", F.col(raw_col).cast("string").alias("raw"))
            .coalesce(1)
            .write.mode("overwrite")
            .json(str(out))
        )
        report.rejects_path = out
    return parsed.where(F.col("reason").isNull()).drop("reason")


def conform_interactions(df: "DataFrame", *, item_col: str = "track_id") -> "DataFrame":
    """``df`` with exactly the columns, types and nullability of ``interactions_schema``.

    Readers have already rejected rows with a null user, item or weight; the ``coalesce``
    with a literal only tells Spark so (a non-null literal makes the column non-nullable).
    """


    schema = interactions_schema(item_col)
    cols = []
    for f in schema.fields:
        col = F.col(f.name).cast(f.dataType)
        if not f.nullable:
            col = F.coalesce(col, F.lit("" if f.dataType.typeName() == "string" else 0).cast(f.dataType))
        cols.append(col.alias(f.name))
    return df.select(*cols).to(schema)


def finish_report(df: "DataFrame", report: ReadReport, *, item_col: str) -> "DataFrame":
    """Cache the final interactions, fill users/items/interactions in ``report``, return it."""

    df = conform_interactions(df, item_col=item_col).cache()
    row = df.agg(
        F.count(F.lit(1)).alias("n"),
        F.countDistinct("user_id").alias("users"),
        F.countDistinct(item_col).alias("items"),
    ).first()
    report.interactions, report.users, report.items = int(row["n"]), int(row["users"]), int(row["items"])
    return df


def require_usable(report: ReadReport, what: str) -> None:
    """Raise InputError when nothing usable is left (the CLI then exits non-zero)."""
    if report.kept == 0:
        detail = ", ".join(f"{r} {n:,}" for r, n in sorted(report.rejected.items())) or "no records"
        raise InputError(f"{what}: nothing usable (read {report.read:,}; {detail})")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
