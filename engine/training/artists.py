"""The artist model on Spark: implicit ALS over listener × artist and the similar-artist lists.

Data flow of :func:`fit_artist_model`::

    track interactions (user_id, track_id, weight) ⋈ catalogue (track_id, artist_ids)
      -> each row's weight split evenly over the track's distinct credited artists
    ∪ artist-level interactions (user_id, artist_id, weight)       Last.fm HetRec, Audioscrobbler
      -> summed per (listener, artist): listener × artist            listener_artist_rows
    artist ids = every catalogue artist ∪ every listened artist, sorted; a = position
      -> ALS(implicitPrefs) with the track model's params -> artist factors   engine.training.als
      -> similar artists: co-listening (listener × artist), genres and collaborations (the
         catalogue's ``genres`` and ``artist_ids``)                engine.training.artist_similarity
      -> ArtistModel: the bundle's extra/artist_* arrays (names in engine.core.schemas) and
         the manifest's params["artists"] block

**Why split rather than first artist.** A real listener's history names every artist of a
track, and so does the catalogue; crediting only the first artist would leave artists who mostly
feature on other artists' tracks with no factors, though listeners play them. Splitting the
weight evenly (``w / n`` to each of ``n`` distinct artists) credits all of them and keeps each
listener's total weight what it was, so counts stay comparable with artist-level sources, where
a play names one artist. (Under the default binary confidence only "listened or not" reaches
ALS, and every credited artist is listened.)

**Params.** Artist ALS uses the track ALS's :class:`~engine.training.als.AlsParams` (rank,
regParam, alpha, confidence transform, iterations, seed): binary confidence, λ 0.3, α 1 were
chosen on Last.fm HetRec, which *is* artist-level data. They are recorded again under
``params["artists"]["als"]`` because artist-level fold-in must use them.

**Artist-level data.** Interactions with an ``artist_id`` column (HetRec, Audioscrobbler) enter
listener × artist as they are; when they are all there is, the artist model is the whole
collaborative model of the bundle (:func:`engine.training.run.train` then trains no track ALS).
Their ids are the dataset's own, not Spotify's, and sort in among the catalogue's.

**Genres** of an artist are the intersection of the ``genres`` of the catalogue tracks crediting
it: a track's genres are the union of its artists' (engine.ingest.catalog), so one solo track
recovers an artist's genres exactly, and an artist only ever credited beside the same others gets
theirs too (the best the tracks table can tell).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyspark.ml.feature import StringIndexer
from pyspark.sql import functions as F

from engine.core.schemas import (
    ARTIST_FACTORS,
    ARTIST_IDS,
    ARTIST_LISTENERS,
    ARTIST_SIMILAR_INDICES,
    ARTIST_SIMILAR_INDPTR,
    ARTIST_SIMILAR_SCORES,
)
from engine.training.als import AlsParams, fit_als, item_factors
from engine.training.artist_similarity import ArtistSimilarityParams, similar_artists

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: How track interactions reach artists (recorded in the manifest).
AGGREGATION = "split"
METHOD = (
    "implicit ALS (Spark ML) over listener x artist; similar artists: weighted blend of co-listening "
    "(item-kNN cosine with shrinkage), genre Jaccard and collaboration cosine"
)


@dataclass(frozen=True)
class ArtistModel:
    """The artist model's arrays (row ``a`` = ``artist_ids[a]``) and its manifest block."""

    artist_ids: np.ndarray
    factors: np.ndarray
    listeners: np.ndarray
    similar_indptr: np.ndarray
    similar_indices: np.ndarray
    similar_scores: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_artists(self) -> int:
        """Number of artists (rows)."""
        return len(self.artist_ids)

    def to_extra(self) -> dict[str, np.ndarray]:
        """The bundle ``extra`` arrays, by the names of :mod:`engine.core.schemas`."""
        return {
            ARTIST_IDS: self.artist_ids,
            ARTIST_FACTORS: self.factors,
            ARTIST_LISTENERS: self.listeners,
            ARTIST_SIMILAR_INDPTR: self.similar_indptr,
            ARTIST_SIMILAR_INDICES: self.similar_indices,
            ARTIST_SIMILAR_SCORES: self.similar_scores,
        }


# -- inputs ------------------------------------------------------------------------------------


def track_credits(tracks: "DataFrame") -> "DataFrame":
    """``(track_id, artist_ids, genres)`` of every catalogue track crediting an artist; the ids
    deduplicated in credit order, blanks dropped."""
    ids = F.array_distinct(F.filter(F.col("artist_ids"), lambda a: a.isNotNull() & (F.trim(a) != "")))
    return (
        tracks.select("track_id", ids.alias("artist_ids"), F.coalesce("genres", F.array().cast("array<string>")).alias("genres"))
        .where(F.col("track_id").isNotNull() & (F.size("artist_ids") > 0))
    )


def listener_artist_rows(
    credits: "DataFrame", interactions: "DataFrame | None", artist_interactions: "DataFrame | None"
) -> tuple["DataFrame", "DataFrame | None"]:
    """Listener × artist rows ``(user_id, artist_id, weight)`` (not yet summed) from both kinds of
    interactions, and the track interactions whose track the catalogue does not credit (None
    without track interactions): they cannot reach an artist."""
    frames = []
    unmatched = None
    if interactions is not None:
        plays = interactions.where(
            F.col("user_id").isNotNull() & F.col("track_id").isNotNull() & (F.col("weight") > 0)
        ).select("user_id", "track_id", F.col("weight").cast("double").alias("weight"))
        credited = plays.join(credits.select("track_id", "artist_ids"), on="track_id", how="left")
        unmatched = credited.where(F.col("artist_ids").isNull())
        frames.append(
            credited.where(F.col("artist_ids").isNotNull()).select(
                "user_id",
                F.explode("artist_ids").alias("artist_id"),
                (F.col("weight") / F.size("artist_ids")).alias("weight"),
            )
        )
    if artist_interactions is not None:
        frames.append(
            artist_interactions.where(
                F.col("user_id").isNotNull() & F.col("artist_id").isNotNull() & (F.col("weight") > 0)
            ).select("user_id", "artist_id", F.col("weight").cast("double").alias("weight"))
        )
    if not frames:
        raise ValueError("the artist model needs track or artist interactions")
    return reduce(lambda a, b: a.unionByName(b), frames), unmatched


def artist_universe(spark: "SparkSession", credits: "DataFrame", rows: "DataFrame") -> tuple[np.ndarray, "DataFrame"]:
    """Every catalogue artist and every listened artist, sorted (a unicode array), and the same as
    a DataFrame ``(artist_id, a)`` with ``a`` the position (to broadcast-join)."""
    found = credits.select(F.explode("artist_ids").alias("artist_id")).unionByName(rows.select("artist_id")).distinct()
    ids = np.asarray(sorted(r["artist_id"] for r in found.collect()), dtype=np.str_)
    frame = spark.createDataFrame(
        pd.DataFrame({"artist_id": ids.astype(object), "a": np.arange(len(ids), dtype=np.int32)}),
        "artist_id string, a int",
    )
    return ids, frame


def index_listening(rows: "DataFrame", universe: "DataFrame") -> tuple["DataFrame", list[str]]:
    """Weights summed per (listener, artist) as ``user_idx, item_idx, weight`` (``item_idx`` = the
    artist's position in the sorted ids; listeners by ``StringIndexer``, frequency order) and the
    listener ids. ``engine.training.als.index_interactions`` orders items by frequency; the
    artist arrays are in sorted-id order, hence this variant."""
    agg = rows.groupBy("user_id", "artist_id").agg(F.sum("weight").alias("weight")).where(F.col("weight") > 0)
    users = StringIndexer(inputCol="user_id", outputCol="user_idx_d", stringOrderType="frequencyDesc").fit(agg)
    indexed = users.transform(agg).join(F.broadcast(universe), on="artist_id").select(
        F.col("user_idx_d").cast("int").alias("user_idx"), F.col("a").alias("item_idx"), "weight"
    )
    return indexed, list(users.labelsArray[0])


def artist_genres(credits: "DataFrame", universe: "DataFrame") -> "DataFrame":
    """``(a, genre)``: an artist's genres as the intersection of its catalogue tracks' genres."""
    per_artist = credits.select(F.explode("artist_ids").alias("artist_id"), "genres").groupBy("artist_id").agg(
        F.collect_list("genres").alias("gs")
    )
    common = F.aggregate(F.col("gs"), F.col("gs")[0], lambda acc, g: F.array_intersect(acc, g))
    return (
        per_artist.join(F.broadcast(universe), on="artist_id")
        .select("a", F.explode(common).alias("genre"))
    )


def artist_credits(credits: "DataFrame", universe: "DataFrame") -> "DataFrame":
    """``(track_id, a)``: one row per catalogue track and credited artist."""
    return credits.select("track_id", F.explode("artist_ids").alias("artist_id")).join(
        F.broadcast(universe), on="artist_id"
    ).select("track_id", "a")


# -- the model ---------------------------------------------------------------------------------


def fit_artist_model(
    spark: "SparkSession",
    *,
    tracks: "DataFrame",
    interactions: "DataFrame | None",
    artist_interactions: "DataFrame | None" = None,
    als: AlsParams,
    similarity: ArtistSimilarityParams,
) -> ArtistModel:
    """Artist factors (implicit ALS over listener × artist) and similar artists for a bundle.

    ``tracks`` is the canonical catalogue (``track_id, artist_ids, genres``); ``interactions``
    track-level (``user_id, track_id, weight``), ``artist_interactions`` artist-level
    (``user_id, artist_id, weight``); either may be None. Artists nobody listened to keep zero
    factors and zero listeners but still get genre and collaboration neighbours.
    """
    credits = track_credits(tracks).cache()
    rows, unmatched = listener_artist_rows(credits, interactions, artist_interactions)
    ids, universe = artist_universe(spark, credits, rows)
    listening, user_ids = index_listening(rows, universe)
    listening = listening.cache()
    n_pairs = listening.count()
    n = len(ids)
    if n_pairs:
        factors = item_factors(fit_als(listening, als), n)
        counts = listening.groupBy("item_idx").agg(F.count("*").alias("n")).toPandas()
    else:  # nobody listened to any artist: no collaborative part, the content parts still apply
        factors = np.zeros((n, als.rank), dtype=np.float32)
        counts = pd.DataFrame({"item_idx": [], "n": []})
    listeners = np.zeros(n, dtype=np.float32)
    listeners[counts["item_idx"].to_numpy(dtype=np.int64)] = counts["n"].to_numpy(dtype=np.float32)
    indptr, indices, scores = similar_artists(
        n_artists=n,
        listening=listening if n_pairs else None,
        genres=artist_genres(credits, universe),
        credits=artist_credits(credits, universe),
        params=similarity,
    )
    n_unmatched = unmatched.count() if unmatched is not None else 0
    listening.unpersist()
    credits.unpersist()
    info = {
        "method": METHOD,
        "aggregation": AGGREGATION,
        "weights": similarity.weights(),
        "N": similarity.top_n,
        "n_artists": n,
        "n_with_factors": int((np.abs(factors).sum(axis=1) > 0).sum()),
        "n_listeners": len(user_ids),
        "n_listener_artist_pairs": int(n_pairs),
        "n_similar_pairs": len(indices),
        "n_track_rows_without_artists": int(n_unmatched),
        "similarity": similarity.to_dict(),
        "als": als.to_dict(),
    }
    return ArtistModel(ids, factors, listeners, indptr, indices, scores, info)
