"""Forget me reaches the engine: tombstoned listeners' ingested rows never train a model."""

from __future__ import annotations

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
