"""Content models over the catalogue with Spark ML: TF-IDF, Word2Vec, LDA, and LSH neighbours.

Run by ``python -m engine similarity`` (:mod:`engine.similarity.run`), which writes the neighbours
to the ``similar_tracks`` table and the topics to ``topic_labels`` / ``track_topics``::

    tracks (name, artist_names, genres)
      -> tokens: every genre as one term ("genre:cool jazz") + lower-cased name/artist words
      -> CountVectorizer(minDF=2) -> IDF -> Normalizer(L2)                  -> "tfidf" vectors
    interactions (user_id, track_id, weight, ts)
      -> one sentence per listener: their tracks by time (then weight)
      -> Word2Vec (skip-gram: tracks played near each other are similar)  -> "word2vec" vectors
    unit vectors -> BucketedRandomProjectionLSH -> approxSimilarityJoin     -> top-N by cosine
    distinct genre lists -> CountVectorizer -> LDA(k) -> topic label = its top terms;
      each track's dominant topic (tracks with at least one known genre)

Cosine from LSH: for unit vectors the Euclidean distance ``d`` gives ``cos = 1 - d²/2``, so
``BucketedRandomProjectionLSH`` (Euclidean) finds cosine neighbours. A random projection of a
unit vector of dimension ``dim`` spreads with standard deviation about ``1/sqrt(dim)``, so
the bucket length is set relative to that (``BUCKET_SCALE / sqrt(dim)``): near pairs share a
bucket in most tables, far pairs rarely. Every candidate's distance is exact, so the scores
are exact cosines; only recall is approximate.

Measured (:func:`measure_lsh_cosine`; demo Word2Vec vectors, 5,149 tracks x 32 dims, 200 query
tracks, recall@10 against exact cosine; 2 cores under heavy shared load, times rough)::

    bucket_scale  tables  recall@10  time for every track's top-10
        0.25        4       0.543        240 s
        0.5         4       0.805        303 s

Spark's BRP hashes one projection per table and ORs the tables (no AND-amplification), so a
near pair is only a few times likelier to collide than a random one: recall is bought with
candidates, and at a few thousand tracks exact cosine in numpy (under a second) beats it.
The defaults (0.5, 4 tables) keep recall@10 about 0.8; raise ``BRP_TABLES`` for more.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pyspark.ml import Pipeline
from pyspark.ml.clustering import LDA
from pyspark.ml.feature import (
    IDF,
    BucketedRandomProjectionLSH,
    CountVectorizer,
    Normalizer,
    RegexTokenizer,
    StopWordsRemover,
    Word2Vec,
)
from pyspark.ml.functions import vector_to_array
from pyspark.sql import functions as F
from scipy import sparse

from engine.core.errors import InputError
from engine.similarity.common import lsh_recall, top_n

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

#: Word2Vec defaults: small vectors train in seconds on the demo data and are enough for
#: co-listening neighbourhoods; a track needs MIN_COUNT plays across all listeners.
W2V_VECTOR_SIZE = 32
W2V_WINDOW = 5
W2V_MIN_COUNT = 2
W2V_MAX_ITER = 5
#: BRP LSH: bucket length = BUCKET_SCALE / sqrt(dim); tables (OR-amplification). Chosen by
#: :func:`measure_lsh_cosine` on the demo Word2Vec vectors (module docstring).
BUCKET_SCALE = 0.5
BRP_TABLES = 4
#: Cosine below this is not a neighbour (distance threshold of the join).
MIN_COSINE = 0.2
LDA_TOPICS = 12
LDA_MAX_ITER = 25
LDA_TOP_TERMS = 3


@dataclass(frozen=True)
class Topics:
    """LDA output: ``labels`` (topic, label, terms) and ``track_topics`` (track_id, topic, weight)."""

    labels: pd.DataFrame
    track_topics: pd.DataFrame


def _need(df: "DataFrame", columns: tuple[str, ...], what: str) -> None:
    for col in columns:
        if col not in df.columns:
            raise InputError(f"{what} lack required column {col!r} (have {', '.join(df.columns)})")


# -- Word2Vec over listening sequences ------------------------------------------------------


def listening_sentences(interactions: "DataFrame") -> "DataFrame":
    """``user_id, sentence``: each listener's tracks in listening order.

    Ordered by ``ts`` (rows without a time last), then by weight (most played first), then id,
    so the order is deterministic. A track played in several rows appears once per row.
    """

    _need(interactions, ("user_id", "track_id"), "interactions")
    ts = F.col("ts").cast("double") if "ts" in interactions.columns else F.lit(None).cast("double")
    weight = F.col("weight").cast("double") if "weight" in interactions.columns else F.lit(1.0)
    rows = interactions.where(F.col("user_id").isNotNull() & F.col("track_id").isNotNull()).select(
        "user_id",
        F.struct(
            F.coalesce(ts, F.lit(float("inf"))).alias("t"), (-weight).alias("w"), F.col("track_id").alias("id")
        ).alias("e"),
    )
    return rows.groupBy("user_id").agg(F.transform(F.sort_array(F.collect_list("e")), lambda e: e["id"]).alias("sentence"))


def word2vec_embeddings(
    sentences: "DataFrame",
    *,
    vector_size: int = W2V_VECTOR_SIZE,
    window: int = W2V_WINDOW,
    min_count: int = W2V_MIN_COUNT,
    max_iter: int = W2V_MAX_ITER,
    seed: int = 42,
) -> "DataFrame":
    """``track_id, features``: L2-normalized Word2Vec vectors of the tracks in ``sentences``.

    One partition: Spark's Word2Vec averages per-partition models, which blurs small data.
    """

    model = Word2Vec(
        vectorSize=vector_size, windowSize=window, minCount=min_count, maxIter=max_iter, seed=seed,
        inputCol="sentence", outputCol="vec", numPartitions=1,
    ).fit(sentences)
    vectors = model.getVectors().withColumnRenamed("word", "track_id")
    if not vectors.take(1):
        raise InputError(f"Word2Vec learned no track vectors: no track appears {min_count}+ times")
    return Normalizer(inputCol="vector", outputCol="features", p=2.0).transform(vectors).select("track_id", "features")


# -- TF-IDF over genres and names ---------------------------------------------------------------


def tfidf_vectors(tracks: "DataFrame", *, min_df: int = 2) -> "DataFrame":
    """``track_id, features``: L2-normalized TF-IDF of genre terms plus name and artist words.

    Each genre stays one term (``genre:cool jazz``: "jazz" alone would merge unrelated
    genres); names and artist names are split into lower-case words, English stop words
    removed. Tracks left with no term seen in ``min_df`` documents are dropped (an all-zero
    vector would be "identical" to every other).
    """

    _need(tracks, ("track_id", "name", "artist_names", "genres"), "tracks")
    docs = tracks.select(
        "track_id",
        F.concat_ws(" ", F.coalesce(F.col("name"), F.lit("")), F.array_join(F.coalesce("artist_names", F.array()), " ")).alias("text"),
        F.transform(F.coalesce("genres", F.array().cast("array<string>")), lambda g: F.concat(F.lit("genre:"), F.lower(g))).alias("genre_terms"),
    ).dropDuplicates(["track_id"])
    words = Pipeline(stages=[
        RegexTokenizer(inputCol="text", outputCol="raw_words", pattern=r"[\W_]+", minTokenLength=2),
        StopWordsRemover(inputCol="raw_words", outputCol="words"),
    ]).fit(docs).transform(docs)
    terms = words.select("track_id", F.concat("genre_terms", "words").alias("terms"))
    model = Pipeline(stages=[
        CountVectorizer(inputCol="terms", outputCol="tf", minDF=float(min_df)),
        IDF(inputCol="tf", outputCol="tfidf"),
        Normalizer(inputCol="tfidf", outputCol="features", p=2.0),
    ]).fit(terms)
    # Tracks with at least one kept term, found with a join (no Python UDF over vectors).
    vocab = terms.sparkSession.createDataFrame([(t,) for t in model.stages[0].vocabulary], "term string")
    covered = terms.select("track_id", F.explode("terms").alias("term")).join(vocab, "term").select("track_id").distinct()
    return model.transform(terms.join(covered, "track_id", "left_semi")).select("track_id", "features")


# -- LSH cosine neighbours ------------------------------------------------------------------


def lsh_cosine_neighbours(
    vectors: "DataFrame",
    *,
    top: int = 20,
    min_cosine: float = MIN_COSINE,
    num_hash_tables: int = BRP_TABLES,
    bucket_scale: float = BUCKET_SCALE,
    seed: int = 42,
) -> "DataFrame":
    """``track_id, other_id, score`` (cosine): top-``top`` approximate neighbours per track.

    ``vectors`` holds unit vectors (``track_id, features``). ``BucketedRandomProjectionLSH``
    finds candidates, ``approxSimilarityJoin`` keeps pairs with ``cos >= min_cosine``.
    """


    first = vectors.select("features").take(1)
    if not first:
        raise InputError("no vectors to compare")
    dim = first[0]["features"].size
    brp = BucketedRandomProjectionLSH(
        inputCol="features", outputCol="hashes", bucketLength=bucket_scale / math.sqrt(dim),
        numHashTables=num_hash_tables, seed=seed,
    ).fit(vectors)
    hashed = brp.transform(vectors).cache()
    max_distance = math.sqrt(max(0.0, 2.0 - 2.0 * min_cosine))
    joined = brp.approxSimilarityJoin(hashed, hashed, max_distance, distCol="distance")
    pairs = joined.select(
        F.col("datasetA.track_id").alias("track_id"),
        F.col("datasetB.track_id").alias("other_id"),
        (F.lit(1.0) - F.col("distance") * F.col("distance") / 2.0).alias("score"),
    ).where(F.col("track_id") != F.col("other_id"))
    return top_n(pairs, top)


# -- LDA topics over genres ---------------------------------------------------------------------


def lda_topics(
    tracks: "DataFrame", *, k: int = LDA_TOPICS, max_iter: int = LDA_MAX_ITER, top_terms: int = LDA_TOP_TERMS, seed: int = 42
) -> Topics:
    """LDA over genre documents; each topic labelled by its ``top_terms`` most likely genres.

    Documents are the distinct genre lists of the catalogue (about one per artist, so a
    prolific artist does not dominate the topics); every track with a known genre then gets
    its most likely topic and that topic's probability.
    """

    _need(tracks, ("track_id", "genres"), "tracks")
    genres = tracks.select("track_id", F.transform("genres", lambda g: F.lower(g)).alias("genres")).where(F.size("genres") > 0)
    docs = genres.select("genres").distinct()
    n_docs = docs.count()
    if n_docs < 2:
        raise InputError(f"LDA needs at least 2 distinct genre lists in the tracks, found {n_docs}")
    cv = CountVectorizer(inputCol="genres", outputCol="counts", minDF=2.0 if n_docs >= 50 else 1.0).fit(docs)
    vocab = list(cv.vocabulary)
    k = max(2, min(k, len(vocab)))
    lda = LDA(k=k, maxIter=max_iter, seed=seed, optimizer="online", featuresCol="counts").fit(cv.transform(docs))
    described = lda.describeTopics(top_terms).orderBy("topic").toPandas()
    labels = pd.DataFrame({
        "topic": described["topic"].astype(int),
        "terms": [[vocab[i] for i in idx] for idx in described["termIndices"]],
    })
    labels["label"] = [" / ".join(t) for t in labels["terms"]]
    # Only tracks with a genre in the vocabulary get a topic (else it is just the prior).
    vocab_df = tracks.sparkSession.createDataFrame([(t,) for t in vocab], "g string")
    covered = genres.select("track_id", F.explode("genres").alias("g")).join(vocab_df, "g").select("track_id").distinct()
    scored = lda.transform(cv.transform(genres.join(covered, "track_id", "left_semi")))
    dist = scored.select("track_id", vector_to_array("topicDistribution").alias("p"))
    best = dist.select(
        "track_id", F.array_max("p").alias("weight"), F.array_position("p", F.array_max("p")).alias("pos")
    )
    track_topics = best.select("track_id", (F.col("pos") - 1).cast("int").alias("topic"), "weight").toPandas()
    return Topics(labels[["topic", "label", "terms"]], track_topics)


# -- measurement -------------------------------------------------------------------------------


def exact_cosine_top(vectors: "DataFrame", queries: list[str], k: int = 10) -> pd.DataFrame:
    """Exact top-``k`` cosine neighbours of ``queries`` (numpy on the driver: the reference)."""

    pdf = vectors.toPandas()
    ids = pdf["track_id"].to_numpy()
    rows = [v.toArray() if hasattr(v, "toArray") else v for v in pdf["features"]]
    mat = sparse.csr_matrix(rows)
    pos = pd.Series(range(len(ids)), index=ids)
    out = []
    for q in queries:
        sims = (mat @ mat[int(pos[q])].T).toarray().ravel()
        sims[int(pos[q])] = -np.inf
        top = np.argsort(-sims, kind="stable")[:k]
        out += [(q, ids[j], float(sims[j])) for j in top if sims[j] > -np.inf]
    return pd.DataFrame(out, columns=["track_id", "other_id", "score"])


def measure_lsh_cosine(
    vectors: "DataFrame",
    *,
    grid: tuple[tuple[float, int], ...] = ((0.5, 4), (0.5, 8), (1.0, 4), (2.0, 8)),
    n_queries: int = 200,
    seed: int = 42,
) -> list[dict[str, float]]:
    """Recall@10 of :func:`lsh_cosine_neighbours` against exact cosine for ``(bucket_scale, tables)``
    settings, with the LSH wall time (every track's top-10, forced with ``count``)."""

    vectors = vectors.cache()
    ids = sorted(r["track_id"] for r in vectors.select("track_id").collect())
    queries = np.random.default_rng(seed).choice(ids, size=min(n_queries, len(ids)), replace=False).tolist()
    exact = exact_cosine_top(vectors, queries, 10)
    out = []
    for scale, tables in grid:
        start = time.perf_counter()
        got = lsh_cosine_neighbours(vectors, top=10, min_cosine=-1.0, num_hash_tables=tables, bucket_scale=scale, seed=seed).cache()
        got.count()
        seconds = time.perf_counter() - start
        approx = got.where(got.track_id.isin(queries)).toPandas()
        got.unpersist()
        row = {"bucket_scale": scale, "tables": tables, "recall_at_10": lsh_recall(approx, exact, queries, 10), "seconds": seconds}
        logger.info(f"[content] bucket_scale={scale} tables={tables}: recall@10={row['recall_at_10']:.3f} ({seconds:.1f}s)")
        out.append(row)
    vectors.unpersist()
    return out
