"""Implicit-feedback ALS on Spark: its parameters, integer ids, the fit, and the factors.

- :class:`AlsParams` — rank, regParam, alpha, iterations and the confidence transform
  (``weight_transform``, ``weight_epsilon``, ``weight_clip``); the defaults are
  :class:`~engine.core.config.Settings`' (``ALS_*``), the one source of defaults. Recorded in
  the bundle manifest, because fold-in must use the same ones.
- :func:`index_interactions` — weights summed per (user, item), integer ids by ``StringIndexer``
  (frequency order, ties alphabetical: deterministic for a given input; never hashed).
- :func:`fit_als` — ``ALS(implicitPrefs=True)`` on ``r' = transform(r)``
  (:mod:`engine.core.weights`). Spark's confidence is ``c = 1 + α·r'`` and it scales regParam by
  each user's and item's number of ratings; the fold-in of :mod:`engine.serving.foldin` solves
  the same normal equations. Blocks default to Spark's parallelism.
- :func:`item_factors` / :func:`user_factors` — the factors as dense float32 arrays (rows ALS
  dropped stay zero). Training collects only ``Y``; ``U`` is for evaluation (at 25M listeners
  it would be ~6 GiB on the driver).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np
from pyspark.ml.feature import StringIndexer
from pyspark.ml.recommendation import ALS
from pyspark.sql import functions as F

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.weights import transform_weights_col

if TYPE_CHECKING:
    from pyspark.ml.recommendation import ALSModel
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class AlsParams:
    """Hyperparameters of implicit ALS and of the confidence transform (recorded in the bundle).

    The defaults are :class:`~engine.core.config.Settings`' (``ALS_*``): one source of defaults.
    """

    rank: int = Settings.als_rank
    max_iter: int = Settings.als_max_iter
    reg_param: float = Settings.als_reg_param
    alpha: float = Settings.als_alpha
    weight_transform: str = Settings.als_weight_transform
    weight_epsilon: float = Settings.als_weight_epsilon
    weight_clip: float = Settings.als_weight_clip
    seed: int = Settings.als_seed
    #: ALS blocks per side; None -> Spark's default parallelism (matched to cores).
    num_blocks: int | None = None
    checkpoint_interval: int = 10

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> "AlsParams":
        """Params from Settings (``ALS_*``), with keyword overrides (None values ignored)."""
        base = cls(
            rank=settings.als_rank,
            max_iter=settings.als_max_iter,
            reg_param=settings.als_reg_param,
            alpha=settings.als_alpha,
            weight_transform=settings.als_weight_transform,
            weight_epsilon=settings.als_weight_epsilon,
            weight_clip=settings.als_weight_clip,
            seed=settings.als_seed,
        )
        known = {f.name for f in fields(cls)}
        return cls(**{**asdict(base), **{k: v for k, v in overrides.items() if v is not None and k in known}})

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for manifests and reports)."""
        return asdict(self)


@dataclass
class Indexed:
    """Interactions with integer ids: ``df`` has ``user_idx, item_idx`` (int) and raw ``weight``."""

    df: "DataFrame"
    user_ids: list[str]
    item_ids: list[str]


# -- ALS -------------------------------------------------------------------------------------


def index_interactions(df: "DataFrame", *, item_col: str = "track_id") -> Indexed:
    """Sum weights per (user, item) and assign integer ids with ``StringIndexer``.

    Ids are ordered by frequency (ties alphabetical), so they are deterministic for a given
    input. Rows with null ids or a non-positive weight are dropped (readers already reject them).
    """

    for col in ("user_id", item_col, "weight"):
        if col not in df.columns:
            raise InputError(f"interactions lack required column {col!r} (have {', '.join(df.columns)})")
    agg = (
        df.where(F.col("user_id").isNotNull() & F.col(item_col).isNotNull() & (F.col("weight") > 0))
        .groupBy("user_id", item_col)
        .agg(F.sum(F.col("weight").cast("double")).alias("weight"))
    )
    user_indexer = StringIndexer(inputCol="user_id", outputCol="user_idx_d", stringOrderType="frequencyDesc").fit(agg)
    item_indexer = StringIndexer(inputCol=item_col, outputCol="item_idx_d", stringOrderType="frequencyDesc").fit(agg)
    indexed = (
        item_indexer.transform(user_indexer.transform(agg))
        .select(
            F.col("user_idx_d").cast("int").alias("user_idx"),
            F.col("item_idx_d").cast("int").alias("item_idx"),
            "weight",
        )
    )
    return Indexed(indexed, list(user_indexer.labelsArray[0]), list(item_indexer.labelsArray[0]))


def fit_als(indexed_df: "DataFrame", params: AlsParams) -> "ALSModel":
    """Fit ``ALS(implicitPrefs=True)`` on raw ``weight`` after the configured confidence transform.

    Spark's confidence is ``c = 1 + alpha * r'`` and it scales regParam by each user's/item's
    number of ratings — the fold-in in engine.serving.recommender solves the same normal equations.
    """

    spark = indexed_df.sparkSession
    blocks = params.num_blocks or max(1, spark.sparkContext.defaultParallelism)
    ratings = indexed_df.withColumn(
        "rating",
        transform_weights_col(
            F.col("weight"), params.weight_transform, epsilon=params.weight_epsilon, clip=params.weight_clip
        ),
    ).where(F.col("rating") > 0)
    als = ALS(
        rank=params.rank,
        maxIter=params.max_iter,
        regParam=params.reg_param,
        alpha=params.alpha,
        implicitPrefs=True,
        nonnegative=False,
        userCol="user_idx",
        itemCol="item_idx",
        ratingCol="rating",
        coldStartStrategy="drop",
        seed=params.seed,
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        checkpointInterval=params.checkpoint_interval if spark.sparkContext.getCheckpointDir() else -1,
    )
    return als.fit(ratings)


def collect_factors(frame: "DataFrame", n: int, rank: int) -> np.ndarray:
    """A factor DataFrame (``id``, ``features``) as a dense float32 ``[n, rank]`` array.

    Rows for ids that ALS dropped stay zero.
    """
    pdf = frame.toPandas()
    arr = np.zeros((n, rank), dtype=np.float32)
    if len(pdf):
        arr[pdf["id"].to_numpy()] = np.asarray(pdf["features"].tolist(), dtype=np.float32)
    return arr


def item_factors(model: "ALSModel", n_items: int) -> np.ndarray:
    """The item factors ``Y [n_items, rank]``: all that serving needs (users are folded in)."""
    return collect_factors(model.itemFactors, n_items, model.rank)


def user_factors(model: "ALSModel", n_users: int) -> np.ndarray:
    """The user factors ``U [n_users, rank]``, for evaluation only: training never collects them
    (at 25M listeners they would be ~6 GiB on the driver)."""
    return collect_factors(model.userFactors, n_users, model.rank)
