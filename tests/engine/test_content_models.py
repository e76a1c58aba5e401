"""Spark ML content models (engine.similarity.content_models): Word2Vec, TF-IDF, LDA, BRP LSH neighbours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.core.errors import InputError
from engine.similarity import content_models as cm


def cluster_listening(seed: int = 5) -> pd.DataFrame:
    """3 clusters of 10 tracks; each of 90 listeners plays 8 tracks of one cluster, in time order."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(90):
        c = u % 3
        for step, t in enumerate(rng.choice(10, size=8, replace=False)):
            rows.append((f"u{u}", f"c{c}t{t}", float(rng.integers(1, 5)), pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(minutes=step)))
    return pd.DataFrame(rows, columns=["user_id", "track_id", "weight", "ts"])


def test_word2vec_neighbours_of_a_planted_cluster_stay_inside_it(spark) -> None:
    df = cluster_listening()
    sentences = cm.listening_sentences(spark.createDataFrame(df))
    emb = cm.word2vec_embeddings(sentences, vector_size=16, min_count=2, max_iter=5, seed=1)
    assert emb.count() == 30
    got = cm.lsh_cosine_neighbours(emb, top=5, min_cosine=-1.0, num_hash_tables=4, bucket_scale=2.0).toPandas()
    assert set(got["track_id"]) == set(df["track_id"])  # every track has neighbours
    same = got["track_id"].str[:2] == got["other_id"].str[:2]
    assert same.all(), got[~same].head()
    assert got.groupby("track_id").size().max() <= 5
    assert got["score"].between(-1.0, 1.0 + 1e-9).all()


def test_listening_sentences_order(spark) -> None:
    ts = pd.Timestamp("2026-01-01", tz="UTC")
    df = pd.DataFrame({
        "user_id": ["u", "u", "u", "u"],
        "track_id": ["late", "early", "untimed_big", "untimed_small"],
        "weight": [1.0, 1.0, 9.0, 2.0],
        "ts": [ts + pd.Timedelta(hours=2), ts, pd.NaT, pd.NaT],
    })
    row = cm.listening_sentences(spark.createDataFrame(df)).collect()[0]
    assert row["sentence"] == ["early", "late", "untimed_big", "untimed_small"]


def genre_tracks() -> pd.DataFrame:
    jazz = ["bebop", "cool jazz", "hard bop"]
    metal = ["thrash metal", "heavy metal", "speed metal"]
    rows = []
    for i in range(12):
        fam, name = (jazz, "Blue") if i % 2 == 0 else (metal, "Iron")
        rows.append((f"t{i}", f"{name} Song {i}", [f"{name} Band {i % 4}"], [fam[i % 3], fam[(i + 1) % 3]]))
    return pd.DataFrame(rows, columns=["track_id", "name", "artist_names", "genres"])


def test_tfidf_neighbours_share_genres(spark) -> None:
    tracks = genre_tracks()
    vec = cm.tfidf_vectors(spark.createDataFrame(tracks), min_df=2)
    got = cm.lsh_cosine_neighbours(vec, top=3, min_cosine=0.1, num_hash_tables=4, bucket_scale=2.0).toPandas()
    family = dict(zip(tracks["track_id"], tracks["name"].str[:4]))
    assert len(got) > 0
    assert (got["track_id"].map(family) == got["other_id"].map(family)).all()


def test_lda_topics_are_labelled_by_genres(spark) -> None:
    tracks = genre_tracks()
    topics = cm.lda_topics(spark.createDataFrame(tracks), k=2, max_iter=30, top_terms=2, seed=3)
    assert len(topics.labels) == 2
    assert all(" / " in label for label in topics.labels["label"])
    terms = set(sum(topics.labels["terms"], []))
    assert terms <= {g for gs in tracks["genres"] for g in gs}
    assert set(topics.track_topics["track_id"]) == set(tracks["track_id"])
    assert topics.track_topics["weight"].between(0, 1).all()
    # Tracks of one family share a dominant topic, and the two families differ.
    by_family = topics.track_topics.assign(fam=lambda d: d["track_id"].str[1:].astype(int) % 2).groupby("fam")["topic"]
    modes = by_family.agg(lambda s: s.mode().iloc[0])
    assert modes.nunique() == 2
    assert (by_family.agg(lambda s: (s == s.mode().iloc[0]).mean()) >= 0.8).all()


def test_bad_input_names_the_column(spark) -> None:
    with pytest.raises(InputError, match="'genres'"):
        cm.tfidf_vectors(spark.createDataFrame(pd.DataFrame({"track_id": ["a"], "name": ["x"], "artist_names": [["y"]]})))
    with pytest.raises(InputError, match="'track_id'"):
        cm.listening_sentences(spark.createDataFrame(pd.DataFrame({"user_id": ["u"], "song": ["a"]})))
