"""Reading the raw catalogue CSVs and writing parquet tables and rejects files (Spark).

Raw CSVs are read with every column as a string, so that a bad value is seen, counted and
written back verbatim to the rejects file instead of silently becoming null. The reader
follows RFC 4180 as the Kaggle files (written by pandas) use it: quoted fields may hold
commas, newlines and doubled quotes (``multiLine`` + ``escape='"'``). ``.gz`` is read
transparently (a gzip stream cannot be split, so one file is one read task; the parsing after
it is spread over all cores).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pyspark.errors import PythonException
from pyspark.sql import functions as F
from pyspark.sql import types as ST

from engine.core.errors import InputError
from engine.spark.io import replace_parquet

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

T = TypeVar("T")

#: Spark's name for the raw text of a row whose field count does not match the header.
CORRUPT = "_corrupt_record"
#: Column holding the file each row came from, and the row's order in the input.
SOURCE = "_source_file"
ROW = "_row"
#: Inputs larger than this are repartitioned after reading (see read_csv_strings).
SPLIT_BYTES = 16 * 1024 * 1024
CSV_OPTIONS = {"header": "true", "multiLine": "true", "quote": '"', "escape": '"', "encoding": "UTF-8"}


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _spark_message(exc: BaseException) -> str:
    """The first meaningful line of a Spark/Java error, short enough for one output line."""
    text = str(getattr(exc, "desc", None) or exc).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("at ", "JVM stacktrace", "Caused by")):
            return line[:200]
    return type(exc).__name__


def read_csv_strings(
    spark: "SparkSession", path: str | os.PathLike[str], *, kind: str, required: Sequence[str]
) -> "DataFrame":
    """Read a CSV(.gz) with every column a string, plus ``_corrupt_record``, source and row order.

    Parameters
    ----------
    spark : SparkSession
    path : str or path-like
        A file, directory or glob; local or any Hadoop filesystem URI.
    kind : str
        What the file is (``tracks``, ``artists``, ``genres``), for messages.
    required : sequence of str
        Columns the header must have.

    Raises
    ------
    InputError
        One line naming the file and the problem: missing, unreadable, empty, a missing
        required column, or a column name that appears twice (also as ``energy.1``, how
        pandas writes a repeated column): which of the two is meant cannot be told.
    """

    path = str(path)
    is_glob = any(ch in path for ch in "*?[")
    if _is_local(path) and not is_glob and not Path(path.removeprefix("file://")).exists():
        raise InputError(f"cannot read {kind} file {path}: no such file")
    try:
        # Only the first record is parsed here (no schema inference), as written: Spark's own
        # header handling would rename a repeated name and hide the repeat.
        first = spark.read.options(**{**CSV_OPTIONS, "header": "false"}).csv(path).first()
    except Exception as exc:  # Spark raises Java errors of many classes for unreadable input
        raise InputError(f"cannot read {kind} file {path}: {_spark_message(exc)}") from None
    if first is None:
        raise InputError(f"cannot read {kind} file {path}: it is empty (no header line)")
    # An unnamed header cell is "_c<i>", as Spark names it.
    names = [v if v else f"_c{i}" for i, v in enumerate(first)]
    header = [n.strip() for n in names]
    repeated = _repeated_column(header)
    if repeated is not None:
        name, again = repeated
        how = (
            "" if again == name
            else f" (also as {again!r})" if again.lower() == name.lower()
            else f" (also as {again!r}, how pandas writes a repeated column)"
        )
        raise InputError(f"{kind} file {path}: column {name!r} appears more than once{how}; keep one of them")
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"{kind} file {path}: missing required column {missing[0]!r} "
            f"(has: {', '.join(h or '<unnamed>' for h in header)})"
        )
    # Spark calls an unnamed header cell "_c0"; naming the schema field "" as in the file
    # avoids a header-mismatch warning per file, and toDF then gives it a usable name.
    schema = ST.StructType(
        [ST.StructField("" if n == f"_c{i}" else n, ST.StringType()) for i, n in enumerate(names)]
        + [ST.StructField(CORRUPT, ST.StringType())]
    )
    df = (
        spark.read.options(**CSV_OPTIONS, mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT)
        .schema(schema)
        .csv(path)
        .toDF(*header, CORRUPT)
    )
    # Row order is fixed here, in file order, before anything moves rows between partitions.
    df = df.select("*", F.col("_metadata.file_path").alias(SOURCE), F.monotonically_increasing_id().alias(ROW))
    # A multi-line CSV cannot be split, so a file is read by one task; spread big inputs over
    # the cores before parsing (the list-literal UDF is the costly part). Small ones stay put:
    # a shuffle costs more than it saves there.
    n_parts = min(spark.sparkContext.defaultParallelism * 2, _input_bytes(path) // SPLIT_BYTES)
    return df.repartition(int(n_parts)) if n_parts > 1 else df


def _repeated_column(header: Sequence[str]) -> tuple[str, str] | None:
    """The first name that repeats (case-insensitively, as Spark compares them), also in
    pandas' spelling ``name.1``: ``(name, its repeat)``, else None."""
    seen: dict[str, str] = {}
    for name in header:
        if name.lower() in seen:
            return seen[name.lower()], name
        seen[name.lower()] = name
    for name in header:
        base, dot, number = name.rpartition(".")
        if dot and number.isdigit() and base.lower() in seen:
            return seen[base.lower()], name
    return None


def quoted(name: str) -> str:
    """``name`` as a Spark column reference taken literally (a dot would mean a struct field)."""
    return "`" + name.replace("`", "``") + "`"


def _input_bytes(path: str) -> int:
    """Size of a local input (0 when unknown: a glob or a remote filesystem)."""
    local = Path(path.removeprefix("file://"))
    if not _is_local(path) or not local.exists():
        return 0
    if local.is_dir():
        return sum(p.stat().st_size for p in local.rglob("*") if p.is_file())
    # gzip shrinks these CSVs about 3x
    return local.stat().st_size * (3 if local.suffix == ".gz" else 1)


def guard_read(kind: str, path: str | os.PathLike[str], action: Callable[[], T]) -> T:
    """Run the first Spark action on a freshly read file, turning read failures (a truncated
    gzip, a directory of non-CSV files) into a one-line :class:`InputError`.

    Errors raised inside Python UDFs are bugs, not bad input: they propagate unchanged.
    """

    try:
        return action()
    except (InputError, PythonException):
        raise
    except Exception as exc:  # Spark raises Java errors of many classes for unreadable input
        if "PythonException" in str(exc):
            raise
        raise InputError(f"cannot read {kind} file {path}: {_spark_message(exc)}") from None


def write_rejects(df: "DataFrame", path: Path) -> Path:
    """Write rejected rows as one CSV file at ``path`` (header, every field quoted, RFC 4180).

    Spark writes a directory of part files; the single part is moved into place so users get
    one file they can open.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    df.coalesce(1).write.options(header="true", quote='"', escape='"', quoteAll="true").csv(str(tmp))
    (part,) = tmp.glob("part-*")
    os.replace(part, path)
    shutil.rmtree(tmp, ignore_errors=True)
    return path


def write_parquet(
    df: "DataFrame", path: Path, *, schema: "StructType", order_by: Sequence[str] = ()
) -> Path:
    """Write ``df`` as a one-file parquet table with exactly ``schema``, replacing an earlier one.

    Rows are sorted by ``order_by`` (nulls last), then reconciled to ``schema`` (columns
    reordered, extra columns such as the sort key dropped, types checked). The table is
    written next to its final place and swapped in with renames, so readers never see a
    half-written table and a failed run leaves the previous one. One file: a catalogue
    (~600k rows, ~60 MB) reads fastest that way, with pandas/pyarrow too.
    """

    out = df.coalesce(1).sortWithinPartitions(*[F.asc_nulls_last(c) for c in order_by]).to(schema)
    return replace_parquet(out, path)
