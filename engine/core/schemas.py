"""Column names of the canonical tables and of the bundle's items table — their one home.

The canonical tables are what every pipeline stage exchanges as parquet: ``tracks``
(:data:`TRACK_COLUMNS`), ``artists`` (:data:`ARTIST_COLUMNS`) and the interactions
(:data:`INTERACTION_COLUMNS`; :data:`ARTIST_INTERACTION_COLUMNS` for artist-level sources).
Also here: the audio features (:data:`AUDIO_FEATURES`, :data:`CLUSTER_FEATURES` for KMeans),
the bundle's :data:`BUNDLE_ITEM_COLUMNS`, the names of the artist model's arrays
(:data:`ARTIST_IDS`, ...), and the id conventions (:data:`SPOTIFY_ID_PATTERN`,
:data:`SYNTHETIC_ID_PREFIX`). Constants are plain Python so the app (which never imports
pyspark) can use them; the Spark schemas are built in :mod:`engine.spark.schemas`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    pass

#: Audio features as the Kaggle tracks.csv names them (floats except key/mode/time_signature).
AUDIO_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "time_signature",
)
INT_AUDIO_FEATURES: tuple[str, ...] = ("key", "mode", "time_signature")

#: Features the KMeans clusterer standardizes (audio + year + popularity; key/mode/time
#: signature are categorical and left out of the distance).
CLUSTER_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "loudness",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "release_year",
    "popularity",
)

#: Canonical tracks table, in column order.
TRACK_COLUMNS: tuple[str, ...] = (
    "track_id",
    "name",
    "artist_ids",
    "artist_names",
    "release_date",
    "release_year",
    "popularity",
    "duration_ms",
    "explicit",
    *AUDIO_FEATURES,
    "genres",
)

ARTIST_COLUMNS: tuple[str, ...] = ("artist_id", "name", "genres", "followers", "popularity")

INTERACTION_COLUMNS: tuple[str, ...] = ("user_id", "track_id", "weight", "source", "ts")
#: Artist-level sources (Audioscrobbler, Last.fm) use this item column instead of track_id.
ARTIST_INTERACTION_COLUMNS: tuple[str, ...] = ("user_id", "artist_id", "weight", "source", "ts")

#: Columns of a bundle's items.parquet (row i = item i).
BUNDLE_ITEM_COLUMNS: tuple[str, ...] = (
    "track_id",
    "name",
    "artists",
    "artist_ids",
    "year",
    "popularity",
    "explicit",
    "energy",
    "cluster",
    "x",
    "y",
    "genres",
    "has_factors",
    "has_audio",
)

SPOTIFY_ID_PATTERN = r"^[0-9A-Za-z]{22}$"
#: Synthetic ids (generated catalogues, demo data) carry this prefix so they can never be
#: mistaken for Spotify ids (which are exactly 22 base-62 characters).
SYNTHETIC_ID_PREFIX = "syn:"

#: The artist model's bundle ``extra`` arrays (written by engine.training.artists, row a =
#: artist_ids[a]): the sorted artist ids (unicode), float32 ALS factors [n_artists, rank] (zero
#: rows: nobody listened), float32 listeners per artist, and the similar artists as CSR (int64
#: indptr, int32 indices into artist_ids, float32 scores in [0, 1], best first, no self-pairs).
ARTIST_IDS, ARTIST_FACTORS, ARTIST_LISTENERS = "artist_ids", "artist_factors", "artist_listeners"
ARTIST_SIMILAR_INDPTR, ARTIST_SIMILAR_INDICES, ARTIST_SIMILAR_SCORES = (
    "artist_similar_indptr", "artist_similar_indices", "artist_similar_scores",
)
