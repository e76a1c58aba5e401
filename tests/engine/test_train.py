"""Training on a tiny planted dataset with real Spark."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from engine.bundle.load import load_current
from engine.core.errors import InputError
from engine.core.schemas import AUDIO_FEATURES
from engine.core.weights import transform_weights, transform_weights_col
from engine.spark.schemas import tracks_schema
from engine.training.als import AlsParams, index_interactions
from engine.training.assemble import assemble_items
from engine.training.kmeans import fit_kmeans
from engine.training.run import train


def tiny_tracks(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Catalogue rows in the canonical schema; three audio 'styles' planted by index % 3."""
    rng = np.random.default_rng(seed)
    style = np.arange(n) % 3
    rows = []
    for i in range(n):
        feats = {f: float(0.1 + 0.4 * style[i] + 0.02 * rng.normal()) for f in AUDIO_FEATURES}
        feats.update(key=int(rng.integers(0, 12)), mode=1, time_signature=4, tempo=80.0 + 40 * style[i])
        rows.append(
            {
                "track_id": f"{i:022d}",
                "name": f"Song {i}",
                "artist_ids": [f"a{i % 10}"],
                "artist_names": [f"Artist {i % 10}"],
                "release_date": str(1960 + 20 * style[i]),
                "release_year": 1960 + 20 * int(style[i]),
                "popularity": int(rng.integers(0, 100)),
                "duration_ms": 200_000,
                "explicit": False,
                **feats,
                "genres": [f"g{style[i]}"],
            }
        )
    return pd.DataFrame(rows)


def tiny_interactions(n_users: int = 30, seed: int = 1, source: str = "demo") -> pd.DataFrame:
    """Each listener plays 8 tracks of their style (``source``), and one row from the app."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        style = u % 3
        for i in rng.choice(np.arange(style, 60, 3), size=8, replace=False):
            rows.append((f"u{u}", f"{i:022d}", float(rng.integers(1, 50)), source))
    rows.append(("u0", "notInCatalog0000000000", 3.0, "app"))  # played, unknown to the catalogue
    return pd.DataFrame(rows, columns=["user_id", "track_id", "weight", "source"])


@pytest.fixture(scope="module")
def frames(spark):
    tracks = spark.createDataFrame(tiny_tracks(), schema=tracks_schema())
    # real listening: a model trained mostly on synthetic ("demo") rows ships no artist factors
    inter = spark.createDataFrame(tiny_interactions(source="listening"))
    return tracks, inter


def test_index_is_deterministic_and_sums_duplicates(spark, frames) -> None:
    _, inter = frames
    doubled = inter.unionByName(inter)
    a, b = index_interactions(doubled), index_interactions(doubled)
    assert a.user_ids == b.user_ids and a.item_ids == b.item_ids
    pdf = a.df.toPandas()
    assert len(pdf) == len(tiny_interactions())  # duplicates summed, not repeated
    assert pdf["weight"].sum() == pytest.approx(2 * tiny_interactions()["weight"].sum())
    assert pdf["item_idx"].max() == len(a.item_ids) - 1


def test_spark_and_numpy_weight_transforms_agree(spark) -> None:
    from pyspark.sql import functions as F

    r = np.array([1.0, 2.0, 260.0, 352698.0])
    df = spark.createDataFrame([(float(v),) for v in r], ["w"])
    for name in ("raw", "log1p", "binary", "clip"):
        got = np.array([row[0] for row in df.select(transform_weights_col(F.col("w"), name, epsilon=2.0, clip=50.0)).collect()])
        np.testing.assert_allclose(got, transform_weights(r, name, epsilon=2.0, clip=50.0), rtol=1e-12)


def test_kmeans_finds_the_planted_styles(spark, frames) -> None:
    tracks, _ = frames
    km = fit_kmeans(tracks, k=3, seed=7)
    style = km.assignments["track_id"].str[-2:].astype(int) % 3
    # each planted style maps to exactly one cluster
    purity = pd.crosstab(style, km.assignments["cluster"]).max(axis=1).sum() / len(style)
    assert purity == 1.0
    assert len(km.kmeans["centroids"]) == 3 and sum(km.kmeans["sizes"]) == 60
    assert np.isfinite(km.assignments[["x", "y"]].to_numpy()).all()


def test_train_publishes_a_bundle_with_the_right_shapes(spark, frames, settings, caplog) -> None:
    tracks, inter = frames
    params = AlsParams(rank=4, max_iter=5, reg_param=0.05, alpha=5.0, weight_transform="log1p")
    caplog.set_level(logging.INFO, logger="engine")
    report, parts = train(
        spark, settings, interactions=inter, tracks=tracks, params=params, k=3,
        publish_to=settings.models_dir,
    )
    lines = caplog.messages
    assert [line.split("]")[1].split(":")[0].strip() for line in lines][:3] == ["read", "index", "als"]
    b = load_current(settings.models_dir)
    assert b.version == report.version
    assert b.n_items == 61 and b.rank == 4  # 60 catalogue tracks + 1 played track the catalogue lacks
    items = b.items.set_index("track_id")
    assert bool(items.loc["notInCatalog0000000000", "has_factors"]) and not items.loc["notInCatalog0000000000", "has_audio"]
    assert items.loc["notInCatalog0000000000", "cluster"] == -1
    played = set(tiny_interactions()["track_id"])
    assert set(items.index[items["has_factors"]]) == played
    unplayed = ~b.items["has_factors"].to_numpy()
    assert np.all(np.asarray(b.item_factors)[unplayed] == 0)
    assert b.params["weight_transform"] == "log1p" and b.params["rank"] == 4
    assert b.manifest["data"]["n_users"] == 30 and b.manifest["data"]["sources"] == {"listening": 240, "app": 1}
    # the artist model's arrays, listed in the manifest like every extra, and its params block
    ids = b.extra["artist_ids"]
    assert ids.dtype.kind == "U" and ids.tolist() == [f"a{i}" for i in range(10)]
    assert "factors" not in b.params["artists"]  # real listening: the artist factors are shipped
    assert b.extra["artist_factors"].dtype == np.float32 and b.extra["artist_factors"].shape == (10, 4)
    assert np.abs(np.asarray(b.extra["artist_factors"])).sum(axis=1).min() > 0  # everyone was played
    indptr, indices = b.extra["artist_similar_indptr"], b.extra["artist_similar_indices"]
    assert indptr.dtype == np.int64 and len(indptr) == 11 and indices.dtype == np.int32 and indptr[-1] == len(indices)
    assert b.extra["artist_similar_scores"].dtype == np.float32 and len(b.extra["artist_similar_scores"]) == len(indices)
    for name in ("artist_ids", "artist_factors", "artist_similar_indptr", "artist_similar_indices", "artist_similar_scores"):
        assert set(b.manifest["files"][f"extra/{name}.npy"]) == {"sha256", "bytes"}
    artists = b.params["artists"]
    assert artists["n_artists"] == 10 and artists["N"] == 50 and artists["method"] and artists["aggregation"] == "split"
    assert artists["weights"] == {"colistening": 0.6, "genres": 0.25, "collaborations": 0.15}
    assert artists["als"]["weight_transform"] == "log1p" and artists["als"]["rank"] == 4 and artists["with_track_model"]
    assert b.manifest["data"]["n_artists"] == 10 and b.manifest["data"]["n_artists_with_factors"] == 10
    # a listener's own style scores higher than the other styles on average
    y = np.asarray(b.item_factors)
    style = np.array([int(t[-2:]) % 3 if t.isdigit() else -1 for t in b.items["track_id"]])
    centroid = y[(style == 0) & b.items["has_factors"].to_numpy()].mean(axis=0)
    scores = y @ centroid
    assert scores[style == 0].mean() > scores[style == 1].mean()
    assert scores[style == 0].mean() > scores[style == 2].mean()


def test_assemble_keeps_unplayed_catalog_tracks_reachable_by_content() -> None:
    from engine.training.kmeans import KMeansResult

    cat = tiny_tracks(6)[["track_id", "name", "artist_names", "artist_ids", "release_year", "popularity", "explicit", "energy", "genres"]]
    km = KMeansResult(
        pd.DataFrame({"track_id": cat["track_id"], "cluster": [0, 1, 2] * 2, "x": 0.0, "y": 0.0,
                      "features": [[0.5] * 11] * 6}),
        {"k": 3},
    )
    parts = assemble_items(
        catalog=cat, als_item_ids=[cat["track_id"][0], "zzNew"], als_item_factors=np.ones((2, 3), np.float32),
        kmeans=km, listeners=pd.DataFrame({"track_id": [cat["track_id"][0], "zzNew"], "listeners": [4, 2]}),
    )
    items = parts["items"]
    assert list(items["has_factors"]) == [True] + [False] * 5 + [True]
    assert list(items["has_audio"]) == [True] * 6 + [False]
    assert parts["popularity"][0] > parts["popularity"][6] > 0


def test_cli_keeps_object_store_urls_intact() -> None:
    """pathlib would fold ``s3a://bucket/x`` into ``s3a:/bucket/x`` and lose the bucket."""
    import argparse

    from engine.commands.train import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--interactions", "s3a://bucket/music/a", "hdfs:///music/b", "--tracks", "s3a://bucket/t"])
    assert args.interactions == ["s3a://bucket/music/a", "hdfs:///music/b"] and args.tracks == "s3a://bucket/t"


def test_train_ships_the_lists_of_every_blend_term_and_serves_them(spark, frames, settings) -> None:
    """A served model chosen as RP3beta + EASE (ALS weight 0): train builds both lists on
    Spark / the driver, the bundle carries them and the choice, and serving uses them."""
    from engine.serving.blend import BlendWeights, Component
    from engine.serving.neighbours import ItemNeighbours, NeighbourParams
    from engine.serving.options import Options
    from engine.serving.recommender import Recommender

    tracks, inter = frames
    blend = BlendWeights(neighbours=0.0, neighbour_pop_exponent=0.0, als=0.0,
                         components=(Component("rp3beta", 1.0), Component("ease", 0.5)))
    components = {"rp3beta": NeighbourParams(top_n=10, user_exponent=0.7, source_exponent=0.7, target_exponent=0.2),
                  "ease": NeighbourParams(top_n=10, kind="ease", ease_lambda=5.0, ease_items=40)}
    selection = {"dataset": "tiny", "validation": [{"model": blend.label, "ndcg@10": 0.5}]}
    report, _ = train(spark, settings, interactions=inter, tracks=tracks,
                      params=AlsParams(rank=4, max_iter=3, reg_param=0.05, alpha=5.0), k=3,
                      publish_to=settings.models_dir, blend=blend, components=components, selection=selection)
    bundle = load_current(settings.models_dir)
    assert bundle.params["components"] == {n: p.to_dict() for n, p in components.items()}
    assert bundle.params["served_selection"] == selection
    for name in ("neighbours", "rp3beta", "ease"):
        lists = ItemNeighbours.from_extra(bundle.extra, bundle.n_items, name)
        assert lists is not None and len(lists.indices) > 0, name
    rec = Recommender(bundle)
    assert rec.blend is not None and [c.name for c in rec.blend.weights.terms] == ["rp3beta", "ease"]
    history = {f"{i:022d}": 1.0 for i in (0, 3, 6, 9)}  # style 0 (index % 3)
    out = rec.recommend(history, Options(k=5, max_per_artist=None, discovery=None))  # the model's order
    assert len(out) == 5 and all(int(t) % 3 == 0 for t in out.track_ids)  # the lists keep to the style
    with pytest.raises(InputError, match="rp3beta"):
        train(spark, settings, interactions=inter, tracks=tracks, params=AlsParams(rank=4, max_iter=2), k=3,
              blend=blend, components={"ease": components["ease"]})
