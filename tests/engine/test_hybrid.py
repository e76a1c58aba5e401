"""The cold-track hybrid (engine.serving.hybrid) and its serving path (engine.serving.similar_songs, Recommender.similar)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.bundle.publish import publish_bundle
from engine.core.errors import InputError
from engine.evaluation.cold_items import (
    cold_split,
    content_for_items,
    evaluate_cold_items,
    fit_split_factors,
)
from engine.serving.hybrid import HybridWeights
from engine.serving.recommender import Recommender
from engine.serving.similar_songs import merge_neighbours
from engine.training.als import AlsParams
from tests.factories import random_bundle_parts

N_GROUPS, PER_GROUP, N_USERS = 4, 30, 240


def planted(seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Listeners stay inside one group of items; audio, genres and artists follow the group."""
    rng = np.random.default_rng(seed)
    n = N_GROUPS * PER_GROUP
    group = np.arange(n) // PER_GROUP
    items = pd.DataFrame({
        "track_id": [f"t{i}" for i in range(n)],
        "artists": [[f"A{i // 3}"] for i in range(n)],
        "artist_ids": [[f"a{i // 3}"] for i in range(n)],
        "genres": [[f"g{g}", f"g{g}x"] if i % 3 else [] for i, g in enumerate(group)],
        "has_audio": True,
    })
    audio = (rng.normal(size=(N_GROUPS, 6))[group] + 0.4 * rng.normal(size=(n, 6))).astype(np.float32)
    rows = [(u, int(i)) for u in range(N_USERS)
            for i in rng.choice(np.flatnonzero(group == u % N_GROUPS), size=10, replace=False)]
    return pd.DataFrame(rows, columns=["user", "item"]), items, audio


def test_hybrid_improves_recall_on_cold_items(spark) -> None:
    pairs, items, audio = planted()
    split = cold_split(pairs, n_cold=48, few=2, min_listeners=8, seed=3)
    assert not set(split.heldout) - set(split.kept)
    kept = split.train[split.train["item"].isin(list(split.kept))].groupby("item").size()
    assert kept.max() <= 2 and sum(v == 0 for v in split.kept.values()) == 24
    factors, has = fit_split_factors(spark, split, len(items), AlsParams(rank=8, max_iter=5, reg_param=0.1, alpha=10.0, weight_transform="binary"))
    grid = [HybridWeights(factor_weight=b, shrink=s) for b in (0.5, 0.9) for s in (5.0, 20.0)]
    report = evaluate_cold_items(split, factors=factors, has_factors=has, content=content_for_items(items, audio),
                                 n_users=N_USERS, grid=grid)
    new, few = report.recall["new"], report.recall["few"]
    assert report.n_test["new"] > 5 and report.n_test["few"] > 5
    assert new["als"] == 0.0  # no factors for a brand-new track: ALS alone finds nothing
    assert new["hybrid"] > 0.4
    assert few["hybrid"] >= few["als"]
    assert (new["hybrid"] + few["hybrid"]) > (new["als"] + few["als"]) + 0.3
    assert "hybrid" in report.table()


def test_cold_split_refuses_tiny_data() -> None:
    with pytest.raises(InputError, match="8"):
        cold_split(pd.DataFrame({"user": [0, 1], "item": [0, 0]}))


def test_similar_reaches_tracks_without_factors_by_content(tmp_path) -> None:
    parts = random_bundle_parts(n_items=60, rank=4, n_groups=3, n_without_factors=6, seed=2)
    n = len(parts["items"])
    # Listener counts: items 0..2 are well played, item 3 has one listener.
    listeners = np.full(n, 50, dtype=np.int32)
    listeners[3] = 1
    listeners[~parts["items"]["has_factors"].to_numpy()] = 0
    parts["extra"] = {"item_listeners": listeners}
    publish_bundle(tmp_path, **parts)
    rec = Recommender.load(tmp_path)
    group = parts["items"]["cluster"].to_numpy()
    cold = int(np.flatnonzero(~parts["items"]["has_factors"].to_numpy())[0])
    out = rec.similar(parts["items"]["track_id"][cold], k=5)
    assert len(out) == 5 and set(out.signals) == {"audio"}  # judged by content alone
    assert (group[out.indices] == group[cold]).all()
    warm = rec.similar(parts["items"]["track_id"][0], k=5)
    assert "factors" in warm.signals and (group[warm.indices] == group[0]).all()
    # The one-listener track leans on content more than a well-played one does.
    few = rec.similar(parts["items"]["track_id"][3], k=5)
    assert few.signals.count("audio") >= warm.signals.count("audio")


def test_merge_interleaves_methods_and_keeps_every_finder() -> None:
    lists = {"tfidf": [("x", 0.9), ("y", 0.8)], "minhash": [("y", 0.5), ("z", 0.4), ("q", 0.1)],
             "hybrid": [("x", 0.7), ("q", 0.6)]}
    merged = merge_neighbours(lists, 3, exclude=["q"])
    assert [m.track_id for m in merged] == ["x", "y", "z"]
    assert merged[0].methods == ("hybrid", "tfidf") and merged[0].score == 0.7
    assert merged[1].methods == ("minhash", "tfidf")
