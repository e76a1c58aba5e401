"""Spark schemas (``StructType``) of the canonical tracks, artists and interactions parquet.

Built from the column names in :mod:`engine.core.schemas` (the one home of the names, which the
app can import without pyspark): :func:`tracks_schema`, :func:`artists_schema` and
:func:`interactions_schema` (item column ``track_id``, or ``artist_id`` for artist-level
sources). Readers and the catalogue ingest write their output with these schemas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import types as T

from engine.core.schemas import AUDIO_FEATURES, INT_AUDIO_FEATURES

if TYPE_CHECKING:
    from pyspark.sql.types import StructType


def tracks_schema() -> "StructType":
    """Spark schema of the canonical tracks parquet."""

    audio = [
        T.StructField(name, T.IntegerType() if name in INT_AUDIO_FEATURES else T.DoubleType())
        for name in AUDIO_FEATURES
    ]
    return T.StructType(
        [
            T.StructField("track_id", T.StringType(), False),
            T.StructField("name", T.StringType()),
            T.StructField("artist_ids", T.ArrayType(T.StringType())),
            T.StructField("artist_names", T.ArrayType(T.StringType())),
            T.StructField("release_date", T.StringType()),
            T.StructField("release_year", T.IntegerType()),
            T.StructField("popularity", T.IntegerType()),
            T.StructField("duration_ms", T.LongType()),
            T.StructField("explicit", T.BooleanType()),
            *audio,
            T.StructField("genres", T.ArrayType(T.StringType())),
        ]
    )


def artists_schema() -> "StructType":
    """Spark schema of the canonical artists parquet."""

    return T.StructType(
        [
            T.StructField("artist_id", T.StringType(), False),
            T.StructField("name", T.StringType()),
            T.StructField("genres", T.ArrayType(T.StringType())),
            T.StructField("followers", T.LongType()),
            T.StructField("popularity", T.IntegerType()),
        ]
    )


def interactions_schema(item_col: str = "track_id") -> "StructType":
    """Spark schema of the canonical interactions parquet (``item_col`` track_id or artist_id)."""

    return T.StructType(
        [
            T.StructField("user_id", T.StringType(), False),
            T.StructField(item_col, T.StringType(), False),
            T.StructField("weight", T.DoubleType(), False),
            T.StructField("source", T.StringType(), False),
            T.StructField("ts", T.TimestampType()),
        ]
    )
