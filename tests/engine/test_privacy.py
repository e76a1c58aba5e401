"""Forget me reaches the engine: tombstoned listeners' ingested rows never train a model."""

from __future__ import annotations

import sqlite3

import pandas as pd

from engine.state.store import Store
from engine.training.inputs import drop_forgotten, forgotten_keys


def test_forget_leaves_a_tombstone_and_training_input_drops_the_listener(spark, settings) -> None:
    assert forgotten_keys(settings) == set()  # no store yet: nothing to drop, nothing created
    assert not settings.store_path.exists()
    rows = spark.createDataFrame(
        [("key-a", "t1", 1.0), ("key-a", "t2", 2.0), ("key-b", "t1", 3.0), ("key-c", "t3", 1.0)],
        ["user_id", "track_id", "weight"],
    )
    same, n = drop_forgotten(rows, settings)
    assert n == 0 and same.count() == 4

    store = Store(settings.store_path)
    store.forget("key-a")
    store.forget("key-c")
    store.forget("key-a")  # twice: one tombstone
    assert store.forgotten_keys() == {"key-a", "key-c"}
    kept, n = drop_forgotten(rows, settings)
    assert n == 2
    assert sorted(tuple(r) for r in kept.collect()) == [("key-b", "t1", 3.0)]


FORGOTTEN = ("u0", "u1")
#: Tracks only the forgotten listeners played: with them, each has two listeners (enough for
#: MinHash neighbours and ALS factors); without them, no command may know these tracks.
THEIRS = [f"forgotten{i:013d}" for i in range(4)]


def _plant(spark, settings) -> None:
    from engine.spark.schemas import tracks_schema
    from tests.engine.test_train import tiny_interactions, tiny_tracks

    rows = tiny_interactions()
    rows = rows[~rows["user_id"].isin(FORGOTTEN)]
    theirs = pd.DataFrame([(u, t, 5.0, "app") for u in FORGOTTEN for t in THEIRS], columns=rows.columns)
    spark.createDataFrame(pd.concat([rows, theirs])).write.parquet(str(settings.parquet_dir / "interactions_app"))
    spark.createDataFrame(tiny_tracks(), schema=tracks_schema()).write.parquet(str(settings.parquet_dir / "tracks"))
    store = Store(settings.store_path)
    for key in FORGOTTEN:
        store.forget(key)


def _run(command: str, settings, argv: list[str]) -> int:
    import argparse
    import importlib

    module = importlib.import_module(f"engine.commands.{command}")
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return module.main(parser.parse_args(argv), settings)


def test_every_command_that_reads_training_input_leaves_forgotten_listeners_out(spark, settings) -> None:
    from engine.bundle.load import load_current
    from engine.evaluation.datasets import load_dataset

    _plant(spark, settings)

    # evaluate: the dataset it splits and scores
    dataset = load_dataset(spark, settings, str(settings.parquet_dir / "interactions_app"))
    users = {r.user_id for r in dataset.df.select("user_id").distinct().collect()}
    assert users and not users & set(FORGOTTEN)

    # train: the published bundle knows none of their tracks
    assert _run("train", settings, ["--rank", "4", "--max-iter", "3", "--k", "3"]) == 0
    items = set(load_current(settings.models_dir).items["track_id"])
    assert len(items) >= 60  # the catalogue is there
    assert not items & set(THEIRS)

    # similarity: no neighbour list in the store names their tracks
    assert _run("similarity", settings, ["--methods", "minhash", "--no-publish"]) == 0
    with sqlite3.connect(settings.store_path) as db:
        rows = db.execute("SELECT track_id, other_id FROM similar_tracks").fetchall()
    assert rows, "minhash wrote no neighbours at all: the check below would prove nothing"
    assert not {t for row in rows for t in row} & set(THEIRS)
