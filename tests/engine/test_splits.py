"""The evaluation splits follow the evaluation protocol: counts, no leakage, reproducible."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd
import pytest

from engine.evaluation.splits import (
    holdout_split,
    prepare_interactions,
    random_row_split,
    time_split,
    validation_split,
)


def _interactions(spark):
    """Listener u<n> has n items (n = 1..14); item 'solo' has one listener; one duplicate row."""
    rows = []
    t0 = datetime(2024, 1, 1)
    for n in range(1, 15):
        for j in range(n):
            rows.append((f"u{n}", f"i{j}", float(j + 1), t0 + timedelta(days=j)))
    rows.append(("u3", "solo", 5.0, t0))
    rows.append(("u3", "i0", 2.0, t0 + timedelta(days=30)))  # duplicate (user, item): summed
    return spark.createDataFrame(rows, "user_id string, track_id string, weight double, ts timestamp")


def _expected_hidden(n: int) -> int:
    return max(1, math.floor(0.2 * n + 0.5)) if n >= 5 else 0


@pytest.fixture(scope="module")
def prepared(spark):
    return prepare_interactions(_interactions(spark), item_col="track_id").cache()


def test_prepare_sums_duplicates_and_drops_single_listener_items(prepared) -> None:
    pdf = prepared.toPandas()
    assert "solo" not in set(pdf["track_id"])
    # i13 is played only by u14: fewer than 2 listeners.
    assert "i13" not in set(pdf["track_id"])
    row = pdf[(pdf.user_id == "u3") & (pdf.track_id == "i0")]
    assert len(row) == 1 and row["weight"].iloc[0] == pytest.approx(3.0)
    assert not pdf.duplicated(["user_id", "track_id"]).any()


def test_holdout_counts_and_no_leakage(prepared) -> None:
    split = holdout_split(prepared, item_col="track_id", seed=7)
    train, test = split.train.toPandas(), split.test.toPandas()
    all_rows = prepared.toPandas()
    n_per_user = all_rows.groupby("user_id").size()
    hidden = test.groupby("user_id").size().reindex(n_per_user.index, fill_value=0)
    for user, n in n_per_user.items():
        assert hidden[user] == _expected_hidden(n), user
    key = ["user_id", "track_id"]
    assert len(train.merge(test, on=key)) == 0  # no (user, item) on both sides
    assert len(train) + len(test) == len(all_rows)
    assert set(map(tuple, pd.concat([train, test])[key].to_numpy())) == set(map(tuple, all_rows[key].to_numpy()))


def test_holdout_reproducible_whatever_the_partitioning(prepared) -> None:
    a = holdout_split(prepared, item_col="track_id", seed=7).test.toPandas()
    b = holdout_split(prepared.repartition(5), item_col="track_id", seed=7).test.toPandas()
    c = holdout_split(prepared, item_col="track_id", seed=8).test.toPandas()
    key = lambda d: sorted(map(tuple, d[["user_id", "track_id"]].to_numpy()))  # noqa: E731
    assert key(a) == key(b)
    assert key(a) != key(c)


def test_time_split_hides_the_latest_items(prepared) -> None:
    split = time_split(prepared, item_col="track_id", seed=7)
    train, test = split.train.toPandas(), split.test.toPandas()
    for user, rows in test.groupby("user_id"):
        assert rows["ts"].min() >= train[train.user_id == user]["ts"].max()
    assert len(test) == sum(_expected_hidden(n) for n in prepared.toPandas().groupby("user_id").size())


def test_validation_split_is_carved_from_training(prepared) -> None:
    outer = holdout_split(prepared, item_col="track_id", seed=7)
    inner = validation_split(outer.train, item_col="track_id", seed=7)
    outer_train = outer.train.toPandas()
    vtrain, vtest = inner.train.toPandas(), inner.test.toPandas()
    key = ["user_id", "track_id"]
    assert len(vtrain) + len(vtest) == len(outer_train)
    assert len(vtest.merge(outer.test.toPandas(), on=key)) == 0
    n_per_user = outer_train.groupby("user_id").size()
    hidden = vtest.groupby("user_id").size().reindex(n_per_user.index, fill_value=0)
    assert all(hidden[u] == _expected_hidden(n) for u, n in n_per_user.items())


def test_random_row_split_is_disjoint(prepared) -> None:
    split = random_row_split(prepared, item_col="track_id", test_fraction=0.3, seed=1)
    train, test = split.train.toPandas(), split.test.toPandas()
    assert len(train) + len(test) == prepared.count()
    assert 0 < len(test) < len(train)
    assert len(train.merge(test, on=["user_id", "track_id"])) == 0
