"""engine.serving.taste: taste profile, cluster descriptions and the map sample on a synthetic bundle."""

from __future__ import annotations

import numpy as np
import pytest

from engine.serving.taste import describe_clusters, map_sample, raw_audio, taste_profile
from tests.factories import random_bundle_parts


@pytest.fixture(scope="module")
def parts() -> dict:
    return random_bundle_parts(n_items=120, n_groups=3, seed=1)


def test_profile_reflects_the_history(parts: dict) -> None:
    items = parts["items"]
    group0 = items.index[items["cluster"] == 0][:10]
    history = {items.at[i, "track_id"]: 2.0 for i in group0}
    history["not-in-catalogue"] = 5.0
    history[items.at[1, "track_id"]] = -1.0  # a skip: ignored
    profile = taste_profile(items, parts["audio_features"], parts["kmeans"], history, top=3)

    assert profile.n_tracks == 10
    mix = profile.clusters.set_index("cluster")["listener_share"]
    assert mix[0] == pytest.approx(1.0) and mix[1] == 0.0
    assert profile.clusters["catalogue_share"].sum() == pytest.approx(1.0)
    assert profile.top_genres["name"].tolist() == ["genre0"]
    assert len(profile.top_artists) == 3 and profile.top_artists["weight"].is_monotonic_decreasing
    assert profile.eras["listener_share"].sum() == pytest.approx(1.0)
    expected_decades = sorted({(items.at[i, "year"] // 10) * 10 for i in group0})
    assert profile.eras.loc[profile.eras["listener_share"] > 0, "decade"].tolist() == expected_decades
    # The radar compares the history's mean with the catalogue's (raw units, via the scaler).
    raw = raw_audio(parts["audio_features"], parts["kmeans"])
    energy = profile.radar.set_index("feature").loc["energy"]
    assert energy["listener"] == pytest.approx(raw.loc[group0, "energy"].mean())
    assert energy["catalogue"] == pytest.approx(raw["energy"].mean())


def test_empty_history_gives_empty_shares(parts: dict) -> None:
    profile = taste_profile(parts["items"], parts["audio_features"], parts["kmeans"], {})
    assert profile.n_tracks == 0 and profile.top_artists.empty
    assert profile.clusters["listener_share"].sum() == 0
    assert profile.radar["listener"].isna().all()


def test_describe_clusters_names_the_largest_deviations() -> None:
    kmeans = {
        "feature_names": ["energy", "acousticness", "tempo", "valence"],
        "centroids": [[1.5, -1.0, 0.1, 0.0], [0.0, 0.1, -0.9, 0.2], [0.1, 0.0, 0.0, -0.1]],
    }
    assert describe_clusters(kmeans) == {
        0: "high energy, low acousticness",
        1: "slow",
        2: "close to the catalogue average",
    }


def test_map_sample_keeps_highlights_and_is_seeded(parts: dict) -> None:
    items = parts["items"]
    yours, recs = [items.at[5, "track_id"]], [items.at[7, "track_id"], items.at[9, "track_id"]]
    a = map_sample(items, n=20, listener=yours, recommended=recs, seed=3)
    b = map_sample(items, n=20, listener=yours, recommended=recs, seed=3)
    assert a.equals(b)
    assert set(a.loc[a["role"] == "yours", "track_id"]) == set(yours)
    assert set(a.loc[a["role"] == "recommended", "track_id"]) == set(recs)
    assert 20 <= len(a) <= 23 and a["track_id"].is_unique
    assert np.isfinite(a[["x", "y"]].to_numpy()).all()
