"""The artist model on real Spark: ALS over listener × artist and the similar-artist blend, each
part checked against a brute-force numpy computation on a small planted catalogue."""

from __future__ import annotations

import argparse
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from engine.bundle.load import load_bundle, load_current
from engine.bundle.publish import publish_bundle
from engine.core.errors import InputError
from engine.core.schemas import AUDIO_FEATURES
from engine.core.weights import transform_weights
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from engine.spark.schemas import tracks_schema
from engine.training.als import AlsParams, fit_als, item_factors, user_factors
from engine.training.artist_similarity import ArtistSimilarityParams, similar_artists
from engine.training.artists import (
    artist_credits,
    artist_genres,
    artist_universe,
    fit_artist_model,
    index_listening,
    listener_artist_rows,
    track_credits,
)
from engine.training.inputs import read_interaction_sets
from tests.factories import random_bundle_parts

# -- a planted catalogue: two communities of six artists ------------------------------------------

GENRES = {
    "a0": ["rock", "indie"], "a1": ["rock"], "a2": ["rock", "punk"], "a3": ["indie"], "a4": ["rock", "pop"],
    "a5": ["pop"], "b0": ["jazz", "pop"], "b1": ["jazz"], "b2": ["jazz", "soul"], "b3": ["soul", "pop"],
    "b4": ["pop"], "b5": [],
}
SOLO_LESS = {"a5"}  # credited only beside a4: its genres as the tracks tell them are a4's too
COLLABS = [("a0", "a1"), ("a1", "a0"), ("a4", "a5"), ("a4", "a5"), ("b0", "b1"), ("a2", "b2"), ("a3", "b3", "b4", "b5")]
ARTIST_LEVEL_IDS = ("x1", "x2")  # an artist-level source's own ids, next to the catalogue's
CAPS = {"genre_max_artists": 4, "collab_max_artists": 3, "max_user_artists": 5, "shrink": 2.0}
ALS = AlsParams(rank=3, max_iter=10, reg_param=0.1, alpha=2.0, weight_transform="log1p", seed=1, num_blocks=2)


def planted_tracks() -> pd.DataFrame:
    """Two solo tracks per artist (none for a5) and the collaborations; genres = union of the artists'."""
    credits = [(a,) for a in GENRES if a not in SOLO_LESS for _ in range(2)] + [tuple(c) for c in COLLABS]
    rows = []
    for i, artists in enumerate(credits):
        genres = list(dict.fromkeys(g for a in artists for g in GENRES[a]))
        rows.append({
            "track_id": f"t{i:021d}", "name": f"Song {i}", "artist_ids": list(artists),
            "artist_names": [f"Artist {a}" for a in artists], "release_date": "2000", "release_year": 2000,
            "popularity": 50, "duration_ms": 200_000, "explicit": False,
            **{f: (0.5 if f not in ("key", "mode", "time_signature") else 1) for f in AUDIO_FEATURES},
            "genres": genres,
        })
    return pd.DataFrame(rows)


def planted_listening(tracks: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Track plays within each listener's community (one cross play each), a heavy listener whose
    artists exceed the cap, one play the catalogue lacks; and artist-level plays (HetRec-like)."""
    rng = np.random.default_rng(4)
    community = tracks["artist_ids"].map(lambda a: a[0][0])
    rows = []
    for u in range(16):
        own = tracks.index[community == ("a" if u < 8 else "b")].to_numpy()
        other = tracks.index[community != ("a" if u < 8 else "b")].to_numpy()
        for t in list(rng.choice(own, size=6, replace=False)) + [rng.choice(other)]:
            rows.append((f"u{u:02d}", tracks.at[t, "track_id"], float(rng.integers(1, 30)), "demo"))
    for n, t in enumerate(range(0, 20, 2)):  # heavy: ten artists, distinct weights
        rows.append(("heavy", tracks.at[t, "track_id"], float(40 - n), "demo"))
    rows.append(("u00", "notInCatalog0000000000", 5.0, "app"))
    plays = pd.DataFrame(rows, columns=["user_id", "track_id", "weight", "source"])
    artist_rows = [("h1", "x1", 12.0, "lastfm"), ("h1", "x2", 3.0, "lastfm"), ("h2", "x1", 7.0, "lastfm"),
                   ("h2", "a0", 9.0, "lastfm"), ("u00", "x2", 2.0, "lastfm")]
    return plays, pd.DataFrame(artist_rows, columns=["user_id", "artist_id", "weight", "source"])


# -- brute force in numpy ---------------------------------------------------------------------------


def brute_listening(tracks: pd.DataFrame, plays: pd.DataFrame, artist_plays: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """Listener × artist weights by the documented rule: a play's weight split evenly over its artists."""
    credits = dict(zip(tracks["track_id"], tracks["artist_ids"]))
    rows = [(u, a, w / len(credits[t])) for u, t, w in plays[["user_id", "track_id", "weight"]].itertuples(index=False)
            if t in credits for a in dict.fromkeys(credits[t])]
    rows += list(artist_plays[["user_id", "artist_id", "weight"]].itertuples(index=False, name=None))
    df = pd.DataFrame(rows, columns=["user_id", "artist_id", "weight"]).groupby(["user_id", "artist_id"], as_index=False).sum()
    df["a"] = df["artist_id"].map({a: i for i, a in enumerate(ids)})
    return df


def brute_colistening(listening: pd.DataFrame, n: int, p: ArtistSimilarityParams) -> np.ndarray:
    kept = listening.sort_values(["user_id", "weight", "a"], ascending=[True, False, True]).groupby("user_id").head(p.max_user_artists)
    users = {u: i for i, u in enumerate(sorted(kept["user_id"].unique()))}
    B = np.zeros((len(users), n))
    B[kept["user_id"].map(users), kept["a"]] = 1.0
    common, listeners = B.T @ B, B.sum(axis=0)
    s = common / (np.sqrt(np.outer(listeners, listeners)) + p.shrink)
    s[common < p.min_common] = 0.0
    np.fill_diagonal(s, 0.0)
    return s


def brute_genres(tracks: pd.DataFrame, ids: list[str], p: ArtistSimilarityParams) -> np.ndarray:
    sets = {}
    for artists, genres in zip(tracks["artist_ids"], tracks["genres"]):
        for a in set(artists):
            sets[a] = sets.get(a, set(genres)) & set(genres)  # intersection of the tracks' genres
    holders: dict[str, int] = {}
    for g in set().union(*sets.values()):
        holders[g] = sum(g in gs for gs in sets.values())
    sets = {a: {g for g in gs if holders[g] <= p.genre_max_artists} for a, gs in sets.items()}
    n = len(ids)
    s = np.zeros((n, n))
    for i, j in combinations(range(n), 2):
        gi, gj = sets.get(ids[i], set()), sets.get(ids[j], set())
        if gi & gj:
            s[i, j] = s[j, i] = len(gi & gj) / len(gi | gj)
    return s


def brute_collaborations(tracks: pd.DataFrame, ids: list[str], p: ArtistSimilarityParams) -> np.ndarray:
    index = {a: i for i, a in enumerate(ids)}
    T = np.zeros((len(ids), len(tracks)))
    for t, artists in enumerate(tracks["artist_ids"]):
        T[[index[a] for a in set(artists)], t] = 1.0
    small = T[:, (T.sum(axis=0) >= 2) & (T.sum(axis=0) <= p.collab_max_artists)]
    shared, per_artist = small @ small.T, T.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.nan_to_num(shared / np.sqrt(np.outer(per_artist, per_artist)))
    np.fill_diagonal(s, 0.0)
    return s


def brute_top(s: np.ndarray, top_n: int) -> list[dict[int, float]]:
    """Each row's top_n positive scores as {neighbour: score}."""
    out = []
    for i, row in enumerate(s):
        order = sorted((j for j in range(len(row)) if row[j] > 0 and j != i), key=lambda j: (-row[j], j))[:top_n]
        out.append({j: float(row[j]) for j in order})
    return out


def assert_rows_match(csr: tuple[np.ndarray, np.ndarray, np.ndarray], expected: list[dict[int, float]]) -> None:
    """Same neighbours with the same scores, best first, ties by lower index, no self-pairs."""
    indptr, indices, scores = csr
    assert indptr.dtype == np.int64 and indices.dtype == np.int32 and scores.dtype == np.float32
    assert len(indptr) == len(expected) + 1
    for a, want in enumerate(expected):
        got_j, got_s = indices[indptr[a]:indptr[a + 1]], scores[indptr[a]:indptr[a + 1]]
        assert a not in got_j
        assert set(got_j.tolist()) == set(want), f"row {a}: {sorted(got_j.tolist())} vs {sorted(want)}"
        np.testing.assert_allclose(got_s, [want[j] for j in got_j], rtol=1e-6, err_msg=f"row {a}")
        assert all((s1 > s2) or (s1 == s2 and j1 < j2) for s1, s2, j1, j2 in zip(got_s, got_s[1:], got_j, got_j[1:]))
        assert ((got_s > 0) & (got_s <= 1)).all()


# -- Spark fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted(spark):
    tracks_pdf = planted_tracks()
    plays, artist_plays = planted_listening(tracks_pdf)
    tracks = spark.createDataFrame(tracks_pdf, schema=tracks_schema())
    inter = spark.createDataFrame(plays)
    artist_inter = spark.createDataFrame(artist_plays)
    credits = track_credits(tracks).cache()
    rows, _ = listener_artist_rows(credits, inter, artist_inter)
    ids, universe = artist_universe(spark, credits, rows)
    listening, user_ids = index_listening(rows, universe)
    yield {
        "tracks_pdf": tracks_pdf, "plays": plays, "artist_plays": artist_plays, "tracks": tracks, "inter": inter,
        "artist_inter": artist_inter, "credits": credits, "universe": universe, "ids": ids,
        "listening": listening.cache(), "user_ids": user_ids,
    }
    credits.unpersist()


def test_artist_ids_are_every_catalogue_and_listened_artist_sorted(planted) -> None:
    ids = planted["ids"]
    assert ids.dtype.kind == "U" and ids.tolist() == sorted(GENRES) + sorted(ARTIST_LEVEL_IDS)


def test_each_similarity_part_is_exact(planted) -> None:
    """Co-listening, genres and collaborations alone, each against its brute-force matrix."""
    ids, n = planted["ids"].tolist(), len(planted["ids"])
    inputs = {"listening": planted["listening"], "genres": artist_genres(planted["credits"], planted["universe"]),
              "credits": artist_credits(planted["credits"], planted["universe"])}
    listening = brute_listening(planted["tracks_pdf"], planted["plays"], planted["artist_plays"], ids)
    assert (listening.groupby("user_id").size() > CAPS["max_user_artists"]).any()  # the cap binds
    cases = {
        (1.0, 0.0, 0.0): brute_colistening,
        (0.0, 1.0, 0.0): lambda _, n, p: brute_genres(planted["tracks_pdf"], ids, p),
        (0.0, 0.0, 1.0): lambda _, n, p: brute_collaborations(planted["tracks_pdf"], ids, p),
    }
    for (wc, wg, wk), brute in cases.items():
        p = ArtistSimilarityParams(top_n=n, w_colistening=wc, w_genres=wg, w_collaborations=wk, **CAPS)
        want = brute(listening, n, p)
        assert (want > 0).sum() > 4, (wc, wg, wk)  # the planted data gives every part pairs
        assert_rows_match(similar_artists(n_artists=n, params=p, **inputs), brute_top(want, n))


def test_genres_are_what_the_tracks_say_and_frequent_ones_are_dropped(planted) -> None:
    pdf = artist_genres(planted["credits"], planted["universe"]).toPandas()
    ids = planted["ids"]
    got = {ids[a]: set(g) for a, g in pdf.groupby("a")["genre"]}
    for artist, genres in GENRES.items():
        expected = set(genres) | (set(GENRES["a4"]) if artist in SOLO_LESS else set())
        assert got.get(artist, set()) == expected, artist
    p = ArtistSimilarityParams(top_n=len(ids), **CAPS)
    g = brute_genres(planted["tracks_pdf"], ids.tolist(), p)
    a4, b4 = ids.tolist().index("a4"), ids.tolist().index("b4")
    assert g[a4, b4] == 0.0  # "pop" is held by five artists > the cap of four: it links nobody


def test_artist_factors_solve_the_implicit_als_equations(spark, planted) -> None:
    """Spark's last half-iteration solves every listener's normal equations against the final
    artist factors: solving them in numpy from the raw plays (split over artists) must give
    Spark's listener factors back — which pins the aggregation, the id order and the ALS."""
    ids = planted["ids"].tolist()
    model = fit_als(planted["listening"], ALS)
    Y = item_factors(model, len(ids)).astype(np.float64)
    U = user_factors(model, len(planted["user_ids"])).astype(np.float64)
    listening = brute_listening(planted["tracks_pdf"], planted["plays"], planted["artist_plays"], ids)
    gram = Y.T @ Y
    for u, rows in listening.groupby("user_id"):
        r = transform_weights(rows["weight"].to_numpy(), ALS.weight_transform, epsilon=ALS.weight_epsilon, clip=ALS.weight_clip)
        c, y = 1.0 + ALS.alpha * r, Y[rows["a"].to_numpy()]
        A = gram + (y.T * (c - 1.0)) @ y + ALS.reg_param * len(rows) * np.eye(ALS.rank)
        x = np.linalg.solve(A, y.T @ c)
        spark_x = U[planted["user_ids"].index(u)]
        np.testing.assert_allclose(x, spark_x, rtol=2e-3, atol=2e-4 * np.abs(spark_x).max(), err_msg=u)


def test_fit_artist_model_blends_the_parts_and_recovers_the_communities(spark, planted) -> None:
    p = ArtistSimilarityParams(top_n=4, w_colistening=3.0, w_genres=2.0, w_collaborations=1.0, **CAPS)
    model = fit_artist_model(spark, tracks=planted["tracks"], interactions=planted["inter"],
                             artist_interactions=planted["artist_inter"], als=ALS, similarity=p)
    ids = model.artist_ids.tolist()
    assert ids == planted["ids"].tolist() and model.factors.shape == (len(ids), ALS.rank)
    assert model.factors.dtype == np.float32 and model.listeners.dtype == np.float32
    listening = brute_listening(planted["tracks_pdf"], planted["plays"], planted["artist_plays"], ids)
    np.testing.assert_array_equal(model.listeners, np.bincount(listening["a"], minlength=len(ids)))
    w = p.weights()
    blend = (w["colistening"] * brute_colistening(listening, len(ids), p)
             + w["genres"] * brute_genres(planted["tracks_pdf"], ids, p)
             + w["collaborations"] * brute_collaborations(planted["tracks_pdf"], ids, p))
    full = brute_top(blend, len(ids))
    csr = (model.similar_indptr, model.similar_indices, model.similar_scores)
    assert_rows_match(csr, [dict(list(row.items())[:4]) for row in full])
    # ties at the fourth place would make the prefix ambiguous: the planted data has none
    assert all(len(r) <= 4 or list(r.values())[3] > list(r.values())[4] for r in full)
    info = model.info
    assert info["weights"] == pytest.approx({"colistening": 0.5, "genres": 1 / 3, "collaborations": 1 / 6})
    assert info["N"] == 4 and info["n_artists"] == len(ids) and info["aggregation"] == "split"
    assert info["n_track_rows_without_artists"] == 1 and info["n_listeners"] == 19
    # two communities (a heavy listener, cross plays and a cross collaboration blur them): the
    # artists of one are closer (factor cosine) to each other than to the other's
    y = model.factors[:12].astype(np.float64)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    cos, side = y @ y.T, np.array([a[0] for a in ids[:12]])
    same = cos[(side[:, None] == side[None, :]) & ~np.eye(12, dtype=bool)].mean()
    across = cos[side[:, None] != side[None, :]].mean()
    own = np.array([cos[i, (side == side[i]) & (np.arange(12) != i)].mean() for i in range(12)])
    other = np.array([cos[i, side != side[i]].mean() for i in range(12)])
    assert same > across + 0.2 and (own > other).sum() >= 10, (same, across, own - other)


def test_without_listening_the_artists_keep_their_content_neighbours(spark, planted) -> None:
    """Plays of tracks the catalogue does not credit reach no artist: zero factors, and the
    genre and collaboration parts still give every artist with a shared genre or track its list."""
    stray = spark.createDataFrame([("u1", "notInCatalog0000000000", 2.0, "app")], "user_id string, track_id string, weight double, source string")
    p = ArtistSimilarityParams(top_n=3, **CAPS)
    model = fit_artist_model(spark, tracks=planted["tracks"], interactions=stray, als=ALS, similarity=p)
    ids = model.artist_ids.tolist()
    assert ids == sorted(GENRES) and not model.factors.any() and not model.listeners.any()
    assert model.info["n_listeners"] == 0 and model.info["n_track_rows_without_artists"] == 1
    w = p.weights()
    content = (w["genres"] * brute_genres(planted["tracks_pdf"], ids, p)
               + w["collaborations"] * brute_collaborations(planted["tracks_pdf"], ids, p))
    full = brute_top(content, len(ids))
    assert_rows_match((model.similar_indptr, model.similar_indices, model.similar_scores),
                      [dict(list(row.items())[:3]) for row in full])


# -- training and the bundle ----------------------------------------------------------------------


def test_a_bundle_without_the_artist_arrays_still_loads_and_serves(tmp_path) -> None:
    parts = random_bundle_parts(n_items=60, rank=4)
    bundle = load_bundle(tmp_path / publish_bundle(tmp_path, **parts))
    assert not any(name.startswith("artist") for name in bundle.extra)
    rec = Recommender(bundle)
    assert len(rec.recommend({bundle.items["track_id"][0]: 1.0}, Options(k=3))) == 3
    signals = rec.artists
    # no artist factors: zero rows of the right shape, held as one broadcast row
    assert signals.factors.shape == (signals.n_artists, 4) and signals.factors.strides[0] == 0
    assert not signals.has_factors.any() and not signals.factors.any()
    weights = np.ones(signals.n_artists)
    assert signals.fold_in(weights) is None and np.isnan(signals.factor_scores(weights)).all()


def test_read_interaction_sets_tells_the_levels_apart(spark, settings) -> None:
    track_dir, artist_dir, odd_dir = (settings.parquet_dir / n for n in ("interactions_demo", "interactions_lastfm", "interactions_odd"))
    spark.createDataFrame([("u1", "t1", 1.0, "demo", None)], "user_id string, track_id string, weight double, source string, ts timestamp").write.parquet(str(track_dir))
    spark.createDataFrame([("h1", "51", 3.0, "lastfm", None)], "user_id string, artist_id string, weight double, source string, ts timestamp").write.parquet(str(artist_dir))
    spark.createDataFrame([("u1", 1.0)], "user_id string, weight double").write.parquet(str(odd_dir))
    sets = read_interaction_sets(spark, [track_dir, artist_dir], settings)
    assert sets.tracks is not None and sets.artists is not None
    assert [tuple(r) for r in sets.tracks.collect()] == [("u1", "t1", 1.0, "demo")]
    assert [tuple(r) for r in sets.artists.collect()] == [("h1", "51", 3.0, "lastfm")]
    assert read_interaction_sets(spark, [artist_dir], settings).tracks is None
    with pytest.raises(InputError, match="interactions_odd.*track_id or artist_id"):
        read_interaction_sets(spark, [odd_dir], settings)


def test_train_on_artist_level_data_only_makes_the_artist_model_the_model(spark, settings, planted) -> None:
    """`python -m engine train` over a catalogue and HetRec-like artist-level interactions only."""
    from engine.commands.train import add_arguments, main

    planted["tracks"].write.parquet(str(settings.parquet_dir / "tracks"))
    planted["artist_inter"].unionByName(
        spark.createDataFrame([(f"h{u}", a, 1.0 + u, "lastfm") for u in range(3, 9) for a in ("a1", "b1", "x2")],
                              "user_id string, artist_id string, weight double, source string")
    ).write.parquet(str(settings.parquet_dir / "interactions_lastfm"))
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert main(parser.parse_args(["--rank", "3", "--max-iter", "3", "--k", "2"]), settings) == 0
    bundle = load_current(settings.models_dir)
    assert not bundle.items["has_factors"].any() and bundle.n_items == len(planted["tracks_pdf"])
    ids = bundle.extra["artist_ids"].tolist()
    assert ids == planted["ids"].tolist()  # the catalogue's artists and the source's own ids
    listened = {"x1", "x2", "a0", "a1", "b1"}
    factors = np.asarray(bundle.extra["artist_factors"])
    assert {a for a, f in zip(ids, factors) if np.abs(f).sum() > 0} == listened
    assert bundle.params["artists"]["with_track_model"] is False
    assert bundle.params["artists"]["n_listeners"] == 9 and bundle.manifest["data"]["n_artist_interactions"] == 23
    assert Recommender(bundle).recommend({planted["tracks_pdf"]["track_id"][0]: 1.0}, Options(k=3)) is not None
