"""Parquet IO with one error message: a path Spark cannot read becomes one :class:`InputError` line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.core.errors import InputError, one_line

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def read_parquet(spark: SparkSession, path: Path | str, what: str) -> DataFrame:
    """``spark.read.parquet(path)``; a missing or unreadable dataset raises
    ``InputError("cannot read <what> parquet <path>: <Spark's first line>")``."""
    try:
        return spark.read.parquet(str(path))
    except Exception as exc:  # AnalysisException: no such path, not parquet, unreadable
        raise InputError(f"cannot read {what} parquet {path}: {one_line(exc)}") from None
