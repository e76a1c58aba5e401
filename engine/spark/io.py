"""Parquet IO with one error message, and files Spark cannot read named in one line.

- :func:`read_parquet`: a path Spark cannot read becomes one :class:`InputError` line.
- :func:`replace_parquet`: write a table next to its place and swap it in by renames, so a
  reader never sees half a table, a failed or refused write leaves the previous one, and a
  table can be rewritten from itself.
- :func:`unreadable_file`: the :class:`InputError` for a Spark job that failed reading one
  input file (a truncated ``.gz``, a file that is not in the expected format), naming it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from engine.core.errors import InputError, one_line

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Spark's FAILED_READ_FILE message names the file: "… while reading file file:///x.json.gz. …".
_FAILED_FILE = re.compile(r"while reading file (\S+?)\.?(?:\s|$)")
_CAUSE = re.compile(r"^\s*Caused by: (\S+: .+)$", re.MULTILINE)


def read_parquet(spark: SparkSession, path: Path | str, what: str) -> DataFrame:
    """``spark.read.parquet(path)``; a missing or unreadable dataset raises
    ``InputError("cannot read <what> parquet <path>: <Spark's first line>")``."""
    try:
        return spark.read.parquet(str(path))
    except Exception as exc:  # AnalysisException: no such path, not parquet, unreadable
        raise InputError(f"cannot read {what} parquet {path}: {one_line(exc)}") from None


def replace_parquet(df: DataFrame, path: Path) -> Path:
    """Write ``df`` as parquet at ``path`` (a local directory), replacing what is there.

    Spark writes ``.<name>.tmp`` beside it; only a complete write is renamed into place (the
    old table is moved aside to ``.<name>.old`` for the instant of the swap, then deleted). A
    failure leaves the previous table as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        df.write.mode("overwrite").parquet(str(tmp))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    swap_in(tmp, path)
    return path


def swap_in(tmp: Path, path: Path) -> None:
    """Move the complete directory ``tmp`` to ``path``, replacing an earlier ``path``."""
    old = path.parent / f".{path.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def unreadable_file(exc: BaseException, paths: Sequence[str]) -> InputError | None:
    """``InputError("<file>: cannot be read (<cause>)")`` when ``exc`` is Spark failing to read
    one input file, else None (the caller re-raises: a bug is not bad input).

    The file is the one of ``paths`` Spark names (as given by the user), else Spark's own path.
    """
    text = str(getattr(exc, "desc", None) or exc)
    found = _FAILED_FILE.search(text)
    if found is None:
        return None
    named = unquote(found.group(1).removeprefix("file:")).lstrip("/")
    shown = next((p for p in paths if os.path.abspath(p.removeprefix("file://")).lstrip("/") == named), None)
    causes = _CAUSE.findall(text)
    cause = causes[-1].strip() if causes else one_line(exc)
    if "EOFException" in cause or "ZipException" in cause or "gzip" in cause.lower():
        cause += "; is the file truncated or not really compressed?"
    return InputError(f"{shown or '/' + named}: cannot be read ({cause[:240]})")
