"""MinHash LSH similar tracks (engine.similarity.run): agreement with exact Jaccard, the SQLite table,
lookup by name, and the bundle arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.bundle.load import load_current
from engine.bundle.publish import publish_bundle
from engine.core.errors import InputError
from engine.core.matching import CatalogIndex
from engine.serving.similar_songs import similar_by_name, stored_neighbours
from engine.similarity.common import lsh_recall
from engine.similarity.minhash import (
    exact_neighbours,
    listener_pairs,
    listener_sets,
    minhash_neighbours,
)
from engine.similarity.run import republish_with_tables, run_similarity
from engine.state.store import Store
from tests.factories import random_bundle_parts

N_USERS = 60
N_TWINS = 10


def planted_pairs(seed: int = 3) -> pd.DataFrame:
    """Twin tracks ``a<i>``/``b<i>`` share 6 of their 8 listeners (Jaccard 0.6); every other pair
    shares about one listener by chance, so each track's exact top-1 is its twin. ``solo``
    has one listener (below MIN_LISTENERS)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(N_TWINS):
        users = rng.choice(N_USERS, size=10, replace=False)
        for u in users[:8]:
            rows.append((f"u{u}", f"a{i}"))
        for u in users[2:]:
            rows.append((f"u{u}", f"b{i}"))
    for i in range(N_TWINS):  # random tracks: noise for the candidates
        for u in rng.choice(N_USERS, size=5, replace=False):
            rows.append((f"u{u}", f"r{i}"))
    rows.append(("u0", "solo"))
    df = pd.DataFrame(rows, columns=["user_id", "track_id"])
    df["weight"] = 1.0
    return df


def exact_top1(df: pd.DataFrame) -> dict[str, str]:
    """Exact Jaccard top-1 per track, in plain Python, for tracks whose best neighbour is unique."""
    sets = df.groupby("track_id")["user_id"].apply(set)
    sets = sets[sets.apply(len) >= 2]
    out = {}
    for t, s in sets.items():
        scored = sorted(((len(s & o) / len(s | o), other) for other, o in sets.items() if other != t), reverse=True)
        if scored[0][0] > scored[1][0]:
            out[t] = scored[0][1]
    return out


def test_minhash_top1_equals_exact_jaccard(spark) -> None:
    df = planted_pairs()
    pairs = listener_pairs(spark.createDataFrame(df))
    lsh = minhash_neighbours(listener_sets(pairs), num_hash_tables=20, top=5).toPandas()
    exact = exact_neighbours(pairs, top=5).toPandas()
    truth = exact_top1(df)
    lsh_top1 = lsh.sort_values(["track_id", "score"], ascending=[True, False]).groupby("track_id")["other_id"].first()
    exact_top = exact.sort_values(["track_id", "score"], ascending=[True, False]).groupby("track_id")["other_id"].first()
    assert "solo" not in lsh_top1.index  # one listener: not compared
    assert all(truth[f"a{i}"] == f"b{i}" and truth[f"b{i}"] == f"a{i}" for i in range(N_TWINS))
    assert {t: lsh_top1[t] for t in truth} == truth == {t: exact_top[t] for t in truth}
    assert set(lsh_top1.index) == set(exact_top.index)
    # Scores are exact Jaccard (distance recomputed for every candidate), not estimates.
    twin = lsh[(lsh.track_id == "a0") & (lsh.other_id == "b0")]["score"].iloc[0]
    assert twin == pytest.approx(0.6)
    assert lsh_recall(lsh, exact, ["a0", "b3", "r1"], k=5) > 0.9


def test_recall_counts_ties_as_hits() -> None:
    exact = pd.DataFrame({"track_id": ["q"] * 3, "other_id": ["x", "y", "z"], "score": [0.5, 0.2, 0.2]})
    approx = pd.DataFrame({"track_id": ["q", "q"], "other_id": ["x", "z"], "score": [0.5, 0.2]})
    assert lsh_recall(approx, exact, ["q"], k=2) == 1.0  # z ties y at the cut
    assert lsh_recall(approx.iloc[1:], exact, ["q"], k=2) == 0.5
    assert np.isnan(lsh_recall(approx, exact, ["nobody"], k=2))


def planted_catalogue(df: pd.DataFrame) -> pd.DataFrame:
    ids = sorted(df["track_id"].unique())
    return pd.DataFrame({
        "track_id": ids,
        "name": [f"Song {t.upper()}" for t in ids],
        "artists": [[f"Artist {t[0].upper()}{t[1:]}"] for t in ids],
        "popularity": 50,
    })


def test_store_table_is_complete_deduplicated_and_queryable_by_name(spark, tmp_path) -> None:
    df = planted_pairs()
    store = Store(tmp_path / "app.sqlite")
    store.put_similar([("a0", "stale", 0.99)], method="minhash")  # a previous run's row
    interactions = spark.createDataFrame(df)
    report, tables = run_similarity(spark, interactions=interactions, tracks=None, store=store,
                                    methods=("minhash",), num_hash_tables=20, top=3)
    import sqlite3

    with sqlite3.connect(store.path) as con:
        rows = con.execute("SELECT track_id, other_id, score, method FROM similar_tracks").fetchall()
        dups = con.execute("SELECT COUNT(*) FROM (SELECT track_id, other_id, method FROM similar_tracks "
                           "GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)").fetchone()[0]
        plan = " ".join(str(r) for r in con.execute(
            "EXPLAIN QUERY PLAN SELECT other_id FROM similar_tracks WHERE track_id = 'a0' AND method = 'minhash'"))
    eligible = set(df.groupby("track_id").size().loc[lambda s: s >= 2].index)
    assert {r[0] for r in rows} == eligible  # complete: every track with 2+ listeners
    assert dups == 0 and not any(r[0] == r[1] for r in rows)  # deduplicated, no self pairs
    assert "stale" not in {r[1] for r in rows}  # a rerun replaces the method's rows
    assert all(1 <= n <= 3 for n in pd.Series([r[0] for r in rows]).value_counts())
    assert "similar__minhash USING PRIMARY KEY (track_id=?)" in plan  # lookups use the primary key
    assert report.rows["minhash"] == len(rows) == len(tables["similar_tracks"])
    assert set(tables["item_listeners"]["track_id"]) == set(df["track_id"])

    index = CatalogIndex.from_items(planted_catalogue(df))
    # Case, a "feat." note and a typo in the artist all resolve to track a4.
    for artist, title in (("ARTIST A4", "song a4"), ("Artist A4", "Song A4 (feat. Somebody)"), ("Artst A4", "Song A4")):
        match, found = similar_by_name(artist, title, index=index, store=store, k=3)
        assert match is not None and match.track_id == "a4", (artist, title)
        assert found[0].track_id == "b4" and found[0].methods == ("minhash",)
    assert similar_by_name("Artist A4", "Song A4", index=index, store=store)[0].how == "name"
    assert similar_by_name("Artst A4", "Song A4", index=index, store=store)[0].how == "fuzzy"
    assert similar_by_name("zzzz", "qqqq", index=index, store=store) == (None, [])


def test_similarity_tables_go_into_a_new_bundle_version(tmp_path) -> None:
    parts = random_bundle_parts(n_items=12, rank=4, n_groups=2, n_without_factors=2)
    models = tmp_path / "models"
    first = publish_bundle(models, **parts)
    ids = parts["items"]["track_id"].tolist()
    similar = pd.DataFrame({"track_id": [ids[0], ids[0], ids[1], "not-in-bundle"],
                            "other_id": [ids[2], ids[3], ids[0], ids[0]],
                            "score": [0.4, 0.9, 0.5, 1.0], "method": "minhash"})
    listeners = pd.DataFrame({"track_id": [ids[0], ids[1]], "listeners": [7, 3]})
    version = republish_with_tables(models, {"similar_tracks": similar, "item_listeners": listeners},
                                    keep=3, note={"rows": {"minhash": 4}})
    assert version != first
    bundle = load_current(models)
    assert bundle.extra["item_listeners"][:3].tolist() == [7, 3, 0]
    assert bundle.extra["similar_minhash"][0].tolist() == [3, 2]  # best first
    got = stored_neighbours(ids[0], extra=bundle.extra, item_ids=bundle.items["track_id"].to_numpy(), row=0)
    assert got == {"minhash": [(ids[3], pytest.approx(0.9)), (ids[2], pytest.approx(0.4))]}
    assert np.array_equal(bundle.item_factors, parts["item_factors"])
    assert bundle.manifest["data"]["similarity"]["rows"] == {"minhash": 4}


def test_bad_input_is_one_clear_error(spark) -> None:
    bad = spark.createDataFrame(pd.DataFrame({"user": ["u"], "track_id": ["t"]}))
    with pytest.raises(InputError, match="'user_id'"):
        run_similarity(spark, interactions=bad, tracks=None, store=None, methods=("minhash",))
    ok = spark.createDataFrame(planted_pairs())
    with pytest.raises(InputError, match="unknown similarity method 'cosine'"):
        run_similarity(spark, interactions=ok, tracks=None, store=None, methods=("cosine",))
