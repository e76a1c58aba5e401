"""The numpy fold-in reproduces Spark's implicit ALS user factors.

Spark's last half-iteration solves every user's normal equations against the final item
factors, so folding a training user's own rows into those item factors must give back that
user's ``userFactors`` — which pins the confidence form ``1 + α·r'``, the weight transform and
the ``λ·n`` scaling of the regularization.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.bundle.load import load_bundle
from engine.bundle.publish import publish_bundle
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from engine.training.als import AlsParams, fit_als, item_factors, user_factors
from tests.factories import random_bundle_parts

N_USERS, N_ITEMS, N_GROUPS = 60, 80, 4


def planted_interactions(seed: int = 5) -> pd.DataFrame:
    """Each user plays ~12 tracks of their group and ~3 others, heavy-tailed counts."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(N_USERS):
        own = np.arange(u % N_GROUPS, N_ITEMS, N_GROUPS)
        picked = set(rng.choice(own, size=12, replace=False)) | set(rng.choice(N_ITEMS, size=3, replace=False))
        rows += [(u, int(i), float(rng.geometric(0.05))) for i in sorted(picked)]
    # Every item played at least once, so every item has factors.
    rows += [(int(i % N_USERS), int(i), 1.0) for i in range(N_ITEMS)]
    df = pd.DataFrame(rows, columns=["user_idx", "item_idx", "weight"])
    return df.groupby(["user_idx", "item_idx"], as_index=False)["weight"].sum()


@pytest.mark.slow
def test_fold_in_reproduces_spark_user_factors(spark, tmp_path) -> None:
    ratings = planted_interactions()
    params = AlsParams(rank=8, max_iter=10, reg_param=0.05, alpha=8.0, weight_transform="log1p",
                       weight_epsilon=2.0, seed=3, num_blocks=2)
    schema = "user_idx int, item_idx int, weight double"
    model = fit_als(spark.createDataFrame(ratings, schema=schema), params)
    U, Y = user_factors(model, N_USERS), item_factors(model, N_ITEMS)
    assert np.abs(Y).sum(axis=1).min() > 0

    parts = random_bundle_parts(n_items=N_ITEMS, rank=params.rank, n_groups=N_GROUPS, n_without_factors=0)
    parts.update(item_factors=Y, params=params.to_dict())
    rec = Recommender(load_bundle(tmp_path / publish_bundle(tmp_path, **parts)))
    track_ids = parts["items"]["track_id"].to_numpy()

    y = Y.astype(np.float64)
    rel_errors = []
    for u, rows in ratings.groupby("user_idx"):
        history = dict(zip(track_ids[rows["item_idx"]], rows["weight"]))
        x = rec.fold_in(history)
        spark_x = U[u].astype(np.float64)
        cosine = x @ spark_x / (np.linalg.norm(x) * np.linalg.norm(spark_x))
        assert cosine > 0.999, f"user {u}: cosine {cosine:.6f}"
        rel_errors.append(np.linalg.norm(x - spark_x) / np.linalg.norm(spark_x))
        assert list(np.argsort(-(y @ x))[:10]) == list(np.argsort(-(y @ spark_x))[:10]), f"user {u}"
        # And the served list (known items excluded) is Spark's own ranking of the rest.
        spark_scores = y @ spark_x
        spark_scores[rows["item_idx"].to_numpy()] = -np.inf
        served = rec.recommend(history, Options(k=10, max_per_artist=None, explain=False, discovery=None))
        assert [int(t) for t in served.track_ids] == list(np.argsort(-spark_scores)[:10]), f"user {u}"
    # Spark keeps factors in float32 and the bundle stores YᵀY in float32; measured 8.5e-8.
    assert max(rel_errors) < 1e-5, f"largest relative error {max(rel_errors):.2e}"
