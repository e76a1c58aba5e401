"""Peer comparison: Spark ALS vs the ``implicit`` library's CPU ALS on the same split and params.

    python bench/quality.py [--data hetrec|audioscrobbler|demo|PATH] [--rank 64] [--alpha 10] ...

Both models see the same training matrix (the evaluation's per-listener split, seed 42), the same confidence
``c = 1 + α·transform(r)`` (implicit receives c itself, with its own ``alpha=1``) and the same
rank and iterations, and are scored by the same numpy evaluation. One difference cannot be
removed: Spark multiplies regParam by each user's/item's number of ratings (ALS-WR), implicit
uses one λ for all. implicit is therefore run twice: with λ = regParam (literal) and with
λ = regParam × the mean number of items per listener (matched on average).
Prints NDCG@10 / recall@50 of each and the ratios (quality, and fit time) — no thresholds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.core.config import Settings
from engine.core.weights import transform_weights
from engine.evaluation.datasets import fit_als_scorer, index_split, load_dataset
from engine.evaluation.scorers import FactorScorer
from engine.evaluation.scoring import build_eval_data, evaluate_model
from engine.evaluation.splits import holdout_split, prepare_interactions


def implicit_scorer(train, *, params, regularization: float) -> tuple[FactorScorer, float]:
    """Fit implicit's CPU ALS on confidences ``1 + α·transform(r)``; return scorer and seconds."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    conf = train.copy().astype(np.float32)
    conf.data = (
        1.0 + params.alpha * transform_weights(conf.data, params.weight_transform, epsilon=params.weight_epsilon, clip=params.weight_clip)
    ).astype(np.float32)
    start = time.perf_counter()
    with threadpool_limits(1, "blas"):  # implicit parallelizes itself; nested BLAS threads slow it
        model = AlternatingLeastSquares(
            factors=params.rank, regularization=regularization, alpha=1.0, iterations=params.max_iter,
            random_state=params.seed, use_cg=False,
        )
        model.fit(conf, show_progress=False)
    return FactorScorer(model.user_factors, model.item_factors), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="hetrec")
    parser.add_argument("--data-dir", type=Path, default=None)
    for flag, typ in (("--rank", int), ("--reg-param", float), ("--alpha", float), ("--max-iter", int)):
        parser.add_argument(flag, type=typ, default=None)
    parser.add_argument("--weight-transform", default=None)
    args = parser.parse_args(argv)

    from engine.spark.session import get_spark
    from engine.training.als import AlsParams, index_interactions

    settings = Settings.from_env()
    spark = get_spark(settings, app_name="bench-quality")
    overrides = {k: getattr(args, k) for k in ("rank", "reg_param", "alpha", "max_iter", "weight_transform")}
    params = AlsParams.from_settings(settings, **overrides)
    dataset = load_dataset(spark, settings, args.data, data_dir=args.data_dir)
    prepared = prepare_interactions(dataset.df, item_col=dataset.item_col).cache()
    indexed = index_interactions(prepared, item_col=dataset.item_col)
    split = holdout_split(prepared, item_col=dataset.item_col, seed=42)
    s = index_split(split.train, split.test, user_ids=indexed.user_ids, item_ids=indexed.item_ids, item_col=dataset.item_col)
    data = build_eval_data(s.train, s.test, seed=42)
    n_users, n_items = len(indexed.user_ids), len(indexed.item_ids)
    print(f"{dataset.description}: {s.train.nnz:,} training rows, {n_users:,} listeners x {n_items:,} items")
    print(f"params: rank {params.rank}, regParam {params.reg_param}, alpha {params.alpha}, "
          f"{params.weight_transform} weights, {params.max_iter} iterations")

    start = time.perf_counter()
    spark_model = fit_als_scorer(s.train_df, params, n_users=n_users, n_items=n_items)
    spark_s = time.perf_counter() - start
    spark_m = evaluate_model(spark_model, data)
    mean_items = s.train.nnz / max(1, int((np.diff(s.train.indptr) > 0).sum()))
    results = {"spark": (spark_m, spark_s)}
    for name, lam in (("implicit λ=regParam", params.reg_param), ("implicit λ=regParam·mean n", params.reg_param * mean_items)):
        scorer, secs = implicit_scorer(s.train, params=params, regularization=lam)
        results[name] = (evaluate_model(scorer, data), secs)
    print(f"{'model':<28} {'NDCG@10':>8} {'recall@50':>9} {'fit s':>7}")
    for name, (m, secs) in results.items():
        print(f"{name:<28} {m['ndcg@10']:8.4f} {m['recall@50']:9.4f} {secs:7.1f}")
    for name, (m, secs) in list(results.items())[1:]:
        print(f"ratio {name} / spark: NDCG@10 {m['ndcg@10'] / spark_m['ndcg@10']:.3f}, fit time {secs / spark_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
