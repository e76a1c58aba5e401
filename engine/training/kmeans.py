"""The audio-feature KMeans clusterer on Spark, and the 2-D map of the catalogue.

:func:`fit_kmeans` runs ``VectorAssembler -> StandardScaler -> KMeans(k)`` over
:data:`engine.core.schemas.CLUSTER_FEATURES` (tracks missing a feature get no cluster), plus
``PCA(2)`` for the cluster map. Its :class:`KMeansResult` holds per track the cluster, the map
position and the standardized features (the bundle's ``audio_features``), and the summary the
bundle stores as ``kmeans.json``: k, feature names, scaler mean/std, centroids in standardized
space, cluster sizes, training cost and the PCA components. Choosing k is
:func:`engine.evaluation.tuning.select_kmeans_k`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyspark.ml import Pipeline
from pyspark.ml.clustering import KMeans
from pyspark.ml.feature import PCA, StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import functions as F

from engine.core.errors import InputError
from engine.core.schemas import CLUSTER_FEATURES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


# -- KMeans ----------------------------------------------------------------------------------


@dataclass
class KMeansResult:
    """Per-track cluster, 2-D PCA projection and standardized features, plus the model summary."""

    assignments: pd.DataFrame  # track_id, cluster, x, y, features (list[float])
    kmeans: dict[str, Any]


def fit_kmeans(tracks: "DataFrame", *, k: int, seed: int = 42) -> KMeansResult:
    """``VectorAssembler -> StandardScaler -> KMeans(k)`` over ``CLUSTER_FEATURES``, plus PCA(2).

    Tracks with a missing feature are skipped (no cluster); ``kmeans`` holds the centroids in
    standardized space, the scaler mean/std, feature names, cluster sizes and training cost.
    """

    cols = [F.col(c).cast("double").alias(c) for c in CLUSTER_FEATURES]
    data = tracks.select("track_id", *cols).dropna()
    n = data.count()
    if n < k:
        raise InputError(f"KMeans needs at least k={k} tracks with audio features, found {n}")
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=list(CLUSTER_FEATURES), outputCol="raw_features"),
            StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True),
            KMeans(k=k, seed=seed, featuresCol="features", predictionCol="cluster"),
            PCA(k=2, inputCol="features", outputCol="pca"),
        ]
    )
    model = pipeline.fit(data)
    out = model.transform(data).select(
        "track_id",
        F.col("cluster").cast("int").alias("cluster"),
        vector_to_array("pca").alias("pca"),
        vector_to_array("features").alias("features"),
    )
    pdf = out.toPandas()
    pca = np.asarray(pdf.pop("pca").tolist(), dtype=np.float64)
    pdf["x"], pdf["y"] = pca[:, 0], pca[:, 1]
    scaler, km = model.stages[1], model.stages[2]
    sizes = np.bincount(pdf["cluster"].to_numpy(), minlength=k)
    summary = {
        "k": k,
        "feature_names": list(CLUSTER_FEATURES),
        "scaler_mean": [float(v) for v in scaler.mean],
        "scaler_std": [float(v) for v in scaler.std],
        "centroids": [[float(v) for v in c] for c in km.clusterCenters()],
        "sizes": sizes.tolist(),
        "training_cost": float(km.summary.trainingCost),
        "pca_components": np.asarray(model.stages[3].pc.toArray()).T.tolist(),
    }
    return KMeansResult(pdf, summary)
