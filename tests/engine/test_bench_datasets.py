"""``load_dataset`` names for the playlist benchmark: ``playlists`` (synthetic) and ``hetrec-binary`` (real Spark)."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from engine.core.errors import InputError
from engine.evaluation.datasets import Dataset, load_dataset
from engine.ingest.playlists_synthetic import SOURCE_PLAYLISTS, make_playlists


def test_playlists_dataset_is_the_generator_output(spark, settings) -> None:
    ds = load_dataset(spark, settings, "playlists", n_playlists=200)
    assert isinstance(ds, Dataset)
    assert ds.name == "playlists" and ds.item_col == "track_id" and "synthetic" in ds.description
    assert ds.df.columns == ["user_id", "track_id", "weight", "source", "ts"]
    expected = make_playlists(n_playlists=200, seed=42)
    got = ds.df.agg(F.count("*").alias("n"), F.min("weight").alias("lo"), F.max("weight").alias("hi"),
                    F.collect_set("source").alias("sources")).first()
    assert got["n"] == len(expected) and got["lo"] == got["hi"] == 1.0 and got["sources"] == [SOURCE_PLAYLISTS]
    # nothing is written where train/refresh would pick it up as interactions
    assert not list(settings.parquet_dir.glob("interactions*"))


def test_hetrec_binary_sets_every_weight_to_one(spark, settings, shared_data) -> None:
    binary = load_dataset(spark, settings, "hetrec-binary", data_dir=shared_data)
    assert binary.name == "hetrec-binary" and binary.item_col == "artist_id" and "binary" in binary.description
    got = binary.df.agg(F.count("*").alias("n"), F.min("weight").alias("lo"), F.max("weight").alias("hi")).first()
    assert got["n"] > 90_000 and got["lo"] == got["hi"] == 1.0  # HetRec: 92,834 user-artist pairs
    plain = load_dataset(spark, settings, "hetrec", data_dir=shared_data)
    assert plain.df.agg(F.max("weight")).first()[0] > 1.0  # the plain name keeps the play counts


def test_unknown_name_lists_the_names(spark, settings) -> None:
    with pytest.raises(InputError, match="playlists"):
        load_dataset(spark, settings, "no-such-data")
