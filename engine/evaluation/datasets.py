"""What ``engine evaluate`` runs on: the datasets, their integer-id splits, and the ALS scorer.

- :func:`load_dataset` resolves ``--data``: ``hetrec`` and ``audioscrobbler`` (artist level,
  read by :mod:`engine.ingest.readers.artists` from ``--data-dir``, else ``data/raw`` then
  ``SHARED_DATA_DIR``, looked up file by file so an empty ``data/raw`` hides nothing),
  ``hetrec-binary`` (HetRec with every weight set to 1.0), ``demo``
  (``data/parquet/interactions_demo``), ``playlists`` (the **synthetic** playlist-shaped
  benchmark of :mod:`engine.ingest.playlists_synthetic`) or any interactions parquet path, as a
  :class:`Dataset`.
- :func:`item_features`: the continuous audio features (:data:`DIVERSITY_FEATURES`) per item
  index, standardized over the whole catalogue, for intra-list diversity.
- :func:`index_split` / :func:`to_index`: a string-id train/test pair in the integer ids of the
  whole-data index, as a Spark frame (for ALS) and sparse matrices (for numpy scoring).
- :func:`fit_als_scorer`: ALS fitted with Spark, returned as a numpy
  :class:`~engine.evaluation.scorers.FactorScorer`.

The protocol that uses them is :mod:`engine.evaluation.protocol`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pyspark.ml.feature import StringIndexerModel
from pyspark.sql import functions as F

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.schemas import AUDIO_FEATURES, INT_AUDIO_FEATURES
from engine.evaluation.scorers import FactorScorer
from engine.evaluation.scoring import to_csr
from engine.ingest.playlists_synthetic import DEFAULT_PLAYLISTS, make_playlists
from engine.ingest.readers.artists import read_audioscrobbler, read_hetrec
from engine.spark.io import read_parquet
from engine.spark.schemas import interactions_schema
from engine.training.als import fit_als, item_factors, user_factors
from engine.training.inputs import drop_forgotten

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from engine.training.als import AlsParams



#: Audio features used for intra-list diversity (continuous ones, standardized).
DIVERSITY_FEATURES = tuple(f for f in AUDIO_FEATURES if f not in INT_AUDIO_FEATURES)


@dataclass
class Dataset:
    """Interactions to evaluate on, with the name of their item column."""

    name: str
    df: "DataFrame"
    item_col: str
    description: str
    features: "DataFrame | None" = None  # track_id + DIVERSITY_FEATURES, for track-level data


# -- data ------------------------------------------------------------------------------------


#: ``--data`` names (besides a parquet path).
DATASET_NAMES = ("hetrec", "hetrec-binary", "audioscrobbler", "demo", "playlists")


def load_dataset(
    spark: "SparkSession",
    settings: Settings,
    name: str,
    *,
    data_dir: Path | None = None,
    n_playlists: int = DEFAULT_PLAYLISTS,
    seed: int = 42,
) -> Dataset:
    """Resolve ``--data``: one of :data:`DATASET_NAMES` or a parquet path.

    - ``hetrec-binary``: the HetRec play counts "treated as binary" — every weight set to 1.0,
      so every model (not only ALS with binary confidence) sees membership, as on playlists.
    - ``playlists``: :func:`engine.ingest.playlists_synthetic.make_playlists` (``n_playlists``,
      ``seed``), **generated on the fly** (about a second at the default 7,000 playlists) and
      handed to Spark as a DataFrame, never written. It is deliberately not cached as
      ``data/parquet/interactions_playlists``: ``train`` and ``refresh`` union every
      ``interactions*`` dataset under ``data/parquet``, and synthetic playlists must not end up
      in the served model.
    """

    dirs = raw_data_dirs(settings, data_dir)
    if name in ("hetrec", "hetrec-binary"):
        path = need_raw(dirs, "hetrec2011_user_artists.dat.gz", "hetrec2011_user_artists.dat")
        df, _, report = read_hetrec(spark, path, settings=settings)
        if name == "hetrec-binary":
            df = df.withColumn("weight", F.lit(1.0).cast("double"))
            what = f"Last.fm HetRec 2011 artists treated as binary: every weight 1.0 ({path.name})"
            return Dataset(name, df, "artist_id", what)
        return Dataset("hetrec", df, "artist_id", f"Last.fm HetRec 2011 artist play counts ({path.name})")
    if name == "playlists":
        pdf = make_playlists(n_playlists=n_playlists, seed=seed)
        df = spark.createDataFrame(pdf, schema=interactions_schema("track_id"))
        df, _ = drop_forgotten(df, settings)
        what = (f"synthetic playlists: {n_playlists:,} lists over small scenes (engine.ingest.playlists_synthetic, "
                f"seed {seed}), binary membership")
        return Dataset(name, df, "track_id", what)
    if name == "audioscrobbler":
        plays = need_raw(dirs, "audioscrobbler_user_artist_data_small.txt.gz", "user_artist_data.txt")
        alias = find_raw(dirs, "audioscrobbler_artist_alias_small.txt.gz", "artist_alias.txt")
        df, _, _ = read_audioscrobbler(spark, plays, alias_path=alias, settings=settings)
        what = "alias-corrected" if alias else "no alias file found"
        return Dataset("audioscrobbler", df, "artist_id", f"Audioscrobbler artist play counts, {plays.name} ({what})")
    if name == "demo":
        path = settings.parquet_dir / "interactions_demo"
        if not path.exists():
            raise InputError(f"demo interactions {path} not found: run `python -m engine prepare` first")
        return _parquet_dataset(spark, settings, path, "demo", "synthetic demo listeners")
    path = Path(name)
    if not path.exists():
        raise InputError(f"--data {name!r} is neither one of {', '.join(DATASET_NAMES)} nor an existing parquet path")
    return _parquet_dataset(spark, settings, path, path.name, f"interactions parquet {path}")


def _parquet_dataset(spark: "SparkSession", settings: Settings, path: Path, name: str, what: str) -> Dataset:
    df = read_parquet(spark, path, "interactions")
    item_col = "track_id" if "track_id" in df.columns else "artist_id"
    for col in ("user_id", item_col, "weight"):
        if col not in df.columns:
            raise InputError(f"{path}: interactions lack column {col!r} (have {', '.join(df.columns)})")
    features = None
    tracks = settings.parquet_dir / "tracks"
    if item_col == "track_id" and tracks.exists():
        features = spark.read.parquet(str(tracks)).select("track_id", *DIVERSITY_FEATURES)
    df, _ = drop_forgotten(df, settings)  # a listener who asked to be forgotten is not evaluated either
    return Dataset(name, df, item_col, what, features)


def raw_data_dirs(settings: Settings, data_dir: Path | None) -> list[Path]:
    """Where raw datasets are looked for: ``--data-dir`` alone when given, else ``data/raw``
    then ``SHARED_DATA_DIR`` — file by file, so an empty ``data/raw`` does not hide the rest."""
    return [Path(data_dir)] if data_dir is not None else [settings.data_dir / "raw", settings.shared_data_dir]


def find_raw(dirs: list[Path], *names: str) -> Path | None:
    """The first of ``names`` found in ``dirs`` (directories in order), else None."""
    return next((d / n for d in dirs for n in names if (d / n).is_file()), None)


def need_raw(dirs: list[Path], *names: str) -> Path:
    """:func:`find_raw`, or an InputError naming the file and where it was looked for."""
    found = find_raw(dirs, *names)
    if found is None:
        raise InputError(f"{names[0]} not found in {', '.join(map(str, dirs))} (pass --data-dir, or set SHARED_DATA_DIR)")
    return found


def item_features(features: "DataFrame | None", item_ids: list[str]) -> np.ndarray | None:
    """Standardized audio features per item index (NaN rows for items without them)."""
    if features is None:
        return None
    # The catalogue's features are small (10 floats a track): collect them and standardize
    # over the whole catalogue, so distances mean the same whichever items were played.
    pdf = features.toPandas().drop_duplicates("track_id")
    vals = pdf[list(DIVERSITY_FEATURES)].to_numpy(dtype=np.float64)
    std = np.nanstd(vals, axis=0)
    vals = (vals - np.nanmean(vals, axis=0)) / np.where(std > 0, std, 1.0)
    row_of = {t: i for i, t in enumerate(pdf["track_id"])}
    out = np.full((len(item_ids), len(DIVERSITY_FEATURES)), np.nan)
    hits = [(i, row_of[t]) for i, t in enumerate(item_ids) if t in row_of]
    if not hits:
        return None
    idx, rows = (np.array(v) for v in zip(*hits))
    out[idx] = vals[rows]
    return out


# -- the evaluation --------------------------------------------------------------------------


@dataclass
class IndexedSplit:
    """A split in integer ids: Spark training frame for ALS, sparse matrices for numpy."""

    train_df: "DataFrame"
    train: Any
    test: Any
    user_ids: list[str]
    item_ids: list[str]


def index_split(train: "DataFrame", test: "DataFrame", *, user_ids: list[str], item_ids: list[str], item_col: str) -> IndexedSplit:
    """Give a string-id train/test pair the integer ids of a whole-data index."""
    train_idx = to_index(train, user_ids=user_ids, item_ids=item_ids, item_col=item_col).cache()
    test_idx = to_index(test, user_ids=user_ids, item_ids=item_ids, item_col=item_col)
    n_users, n_items = len(user_ids), len(item_ids)
    return IndexedSplit(
        train_df=train_idx,
        train=to_csr(train_idx.toPandas(), n_users=n_users, n_items=n_items),
        test=to_csr(test_idx.toPandas(), n_users=n_users, n_items=n_items),
        user_ids=user_ids,
        item_ids=item_ids,
    )


def to_index(df: "DataFrame", *, user_ids: list[str], item_ids: list[str], item_col: str) -> "DataFrame":
    """``user_id, <item_col>, weight`` -> ``user_idx, item_idx, weight`` with the given labels."""

    users = StringIndexerModel.from_labels(user_ids, inputCol="user_id", outputCol="_u", handleInvalid="skip")
    items = StringIndexerModel.from_labels(item_ids, inputCol=item_col, outputCol="_i", handleInvalid="skip")
    return items.transform(users.transform(df)).select(
        F.col("_u").cast("int").alias("user_idx"), F.col("_i").cast("int").alias("item_idx"), "weight"
    )


def fit_als_scorer(train_df: "DataFrame", params: "AlsParams", *, n_users: int, n_items: int) -> FactorScorer:
    """Fit ALS with Spark and return its factors as a numpy scorer."""

    model = fit_als(train_df, params)
    return FactorScorer(user_factors(model, n_users), item_factors(model, n_items))
