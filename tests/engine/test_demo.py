"""Demo listeners (deterministic, clustered) and the synthetic catalogue / interactions."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.commands.demo import add_arguments, main
from engine.core.schemas import INTERACTION_COLUMNS, SYNTHETIC_ID_PREFIX
from engine.ingest.demo_listeners import _taste_space, make_demo_listeners
from engine.ingest.synthetic import (
    KAGGLE_TRACK_COLUMNS,
    make_synthetic_interactions,
    synthesize_catalog,
)
from engine.spark.schemas import interactions_schema

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="module")
def kaggle_sample() -> pd.DataFrame:
    """The real 10k-track sample shipped with the repo, in the Kaggle format."""
    return pd.read_csv(SAMPLE / "tracks.csv.gz", index_col=0)


@pytest.fixture(scope="module")
def tracks(kaggle_sample) -> pd.DataFrame:
    """The sample in the canonical tracks columns the demo reads (genres by first artist)."""
    genres = pd.read_csv(SAMPLE / "genres.csv.gz")
    by_artist = dict(zip(genres["artists"], genres["genres"].map(ast.literal_eval)))
    t = kaggle_sample.rename(columns={"id": "track_id"})
    t["artist_names"] = t["artists"].map(ast.literal_eval)
    t["artist_ids"] = t["id_artists"].map(ast.literal_eval)
    t["release_year"] = t["release_date"].str[:4].astype(int)
    t["genres"] = t["artist_names"].map(lambda names: by_artist.get(names[0], []) if names else [])
    return t.drop(columns=["artists", "id_artists"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def listeners(tracks):
    return make_demo_listeners(tracks, n_listeners=300, seed=42)


def test_demo_listeners_shape(listeners):
    inter, people = listeners
    assert list(inter.columns) == list(INTERACTION_COLUMNS)
    assert people["user_id"].tolist()[:2] == ["demo:001", "demo:002"] and len(people) == 300
    assert set(inter["user_id"]) == set(people["user_id"])
    assert not inter.duplicated(["user_id", "track_id"]).any()
    assert (inter["weight"] >= 1).all() and (inter["source"] == "demo").all()
    assert people["display_name"].is_unique
    assert people["description"].str.startswith("Synthetic demo listener").all()
    assert people["centres"].map(len).between(2, 3).all()
    per_user = inter.groupby("user_id").size()
    assert per_user.min() >= 10 and 25 <= per_user.mean() <= 60
    # heavy-tailed play counts
    assert inter["weight"].max() > 10 * inter["weight"].median()


def test_demo_listeners_deterministic(tracks, listeners):
    shuffled = tracks.sample(frac=1.0, random_state=7)  # input row order must not matter
    again = make_demo_listeners(shuffled, n_listeners=300, seed=42)
    pd.testing.assert_frame_equal(again[0], listeners[0])
    pd.testing.assert_frame_equal(again[1], listeners[1])
    other = make_demo_listeners(tracks, n_listeners=300, seed=43)[0]
    assert not other.equals(listeners[0])


def test_demo_listeners_have_clustered_tastes(tracks, listeners):
    """A listener's held-out plays sit closer to its other plays than random tracks do."""
    inter, _ = listeners
    ordered = tracks.sort_values("track_id").reset_index(drop=True)
    x = _taste_space(ordered)
    row = pd.Series(np.arange(len(ordered)), index=ordered["track_id"])
    rng = np.random.default_rng(0)
    held_d, rand_d = [], []
    for _, plays in inter.groupby("user_id"):
        rows = row[plays["track_id"]].to_numpy()
        rng.shuffle(rows)
        n_held = max(1, len(rows) // 5)
        held, train = rows[:n_held], rows[n_held:]
        random_rows = rng.integers(0, len(ordered), size=n_held)

        def nearest(rs, train=train):
            return np.sqrt(((x[rs, None, :] - x[None, train, :]) ** 2).sum(axis=2)).min(axis=1)

        held_d.append(nearest(held).mean())
        rand_d.append(nearest(random_rows).mean())
    held_d, rand_d = np.array(held_d), np.array(rand_d)
    assert held_d.mean() < 0.7 * rand_d.mean()
    assert (held_d < rand_d).mean() > 0.8


def test_demo_listeners_prefer_popular_tracks(tracks, listeners):
    inter, _ = listeners
    pop = tracks.set_index("track_id")["popularity"]
    assert pop[inter["track_id"]].mean() > pop.mean() + 5


def test_synthetic_catalogue_follows_reference(kaggle_sample):
    cat = synthesize_catalog(kaggle_sample, 120_000, seed=1)
    assert list(cat.columns) == list(KAGGLE_TRACK_COLUMNS) and len(cat) == 120_000
    assert cat["id"].str.startswith(SYNTHETIC_ID_PREFIX).all() and cat["id"].is_unique
    assert (cat["id"].str.len() == len(SYNTHETIC_ID_PREFIX) + 22).all()
    for column in ("energy", "danceability", "acousticness", "valence"):
        assert abs(cat[column].mean() - kaggle_sample[column].mean()) < 0.02, column
        assert abs(cat[column].std() - kaggle_sample[column].std()) < 0.02, column
    assert abs(cat["loudness"].mean() - kaggle_sample["loudness"].mean()) < 0.5
    assert abs(cat["popularity"].mean() - kaggle_sample["popularity"].mean()) < 1.5
    ref_years = kaggle_sample["release_date"].str[:4].astype(int)
    cat_years = cat["release_date"].str[:4].astype(int)
    q = [0.1, 0.25, 0.5, 0.75, 0.9]
    assert np.abs(np.quantile(cat_years, q) - np.quantile(ref_years, q)).max() <= 2
    corr = cat[["energy", "acousticness"]].corr().iloc[0, 1]
    ref_corr = kaggle_sample[["energy", "acousticness"]].corr().iloc[0, 1]
    assert abs(corr - ref_corr) < 0.05  # joint structure, not just marginals
    # Python-literal lists, synthetic artist ids, several tracks per artist.
    ids = cat["id_artists"].map(ast.literal_eval)
    names = cat["artists"].map(ast.literal_eval)
    assert (ids.map(len) == names.map(len)).all()
    assert ids.map(lambda a: all(i.startswith(SYNTHETIC_ID_PREFIX) for i in a)).all()
    ref_multi = (kaggle_sample["id_artists"].str.count("',") > 0).mean()
    assert (ids.map(len) > 1).mean() == pytest.approx(ref_multi, abs=0.03)
    # Sampled down to the reference's size, artists look like the reference's: about 77% of
    # the sampled artists appear once (the real sample is 10k of 586,672 tracks).
    thin = cat.sample(n=len(kaggle_sample), random_state=3)
    counts = thin["id_artists"].map(lambda s: ast.literal_eval(s)[0]).value_counts()
    ref_counts = kaggle_sample["id_artists"].map(lambda s: ast.literal_eval(s)[0]).value_counts()
    assert abs((counts == 1).mean() - (ref_counts == 1).mean()) < 0.03


def test_synthetic_catalogue_deterministic(kaggle_sample):
    a = synthesize_catalog(kaggle_sample, 500, seed=5)
    pd.testing.assert_frame_equal(a, synthesize_catalog(kaggle_sample, 500, seed=5))
    assert not a.equals(synthesize_catalog(kaggle_sample, 500, seed=6))


def test_synthetic_interactions(kaggle_sample):
    cat = synthesize_catalog(kaggle_sample, 20_000, seed=2)
    inter = make_synthetic_interactions(cat, 50_000, seed=3)
    assert list(inter.columns) == list(INTERACTION_COLUMNS) and len(inter) == 50_000
    assert not inter.duplicated(["user_id", "track_id"]).any()
    assert inter["track_id"].isin(cat["id"]).all()
    assert inter["user_id"].str.startswith(SYNTHETIC_ID_PREFIX).all()
    per_user = inter.groupby("user_id").size()
    assert per_user.max() > 5 * per_user.median()  # heavy-tailed activity
    pop = cat.set_index("id")["popularity"]
    assert pop[inter["track_id"]].mean() > pop.mean() + 5  # popularity bias
    pd.testing.assert_frame_equal(inter, make_synthetic_interactions(cat, 50_000, seed=3))


def test_demo_cli_writes_listeners_and_catalogue(settings, tracks, tmp_path, capsys, spark):
    settings.parquet_dir.mkdir(parents=True)
    tracks.to_parquet(settings.parquet_dir / "tracks", index=False)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert main(parser.parse_args(["--listeners", "40"]), settings) == 0
    assert "SYNTHETIC demo listeners" in capsys.readouterr().out
    written = spark.read.parquet(str(settings.parquet_dir / "interactions_demo"))
    assert [(f.name, f.dataType) for f in written.schema] == [(f.name, f.dataType) for f in interactions_schema()]
    people = pd.read_parquet(settings.parquet_dir / "demo_listeners.parquet")
    assert len(people) == 40 and written.select("user_id").distinct().count() == 40

    out = tmp_path / "synthetic.csv.gz"
    args = parser.parse_args(["--tracks", "3000", "--out", str(out), "--catalog", str(SAMPLE / "tracks.csv.gz")])
    assert main(args, settings) == 0
    assert "SYNTHETIC catalogue of 3,000 tracks" in capsys.readouterr().out
    back = pd.read_csv(out)
    assert len(back) == 3000 and back["id"].str.startswith("syn:").all()
