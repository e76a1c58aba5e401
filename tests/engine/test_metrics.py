"""Ranking metrics against values computed by hand, and against Spark's RankingEvaluator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.evaluation import metrics as M

RANKED = np.array([1, 2, 3, 4])
RELEVANT = np.array([2, 4])


def test_list_metrics_by_hand() -> None:
    # Top 3 = [1, 2, 3]: one hit, at position 2.
    assert M.precision_at_k(RANKED, RELEVANT, 3) == pytest.approx(1 / 3)
    assert M.recall_at_k(RANKED, RELEVANT, 3) == pytest.approx(1 / 2)  # hits / min(3, 2)
    idcg = 1 + 1 / math.log2(3)
    assert M.ndcg_at_k(RANKED, RELEVANT, 3) == pytest.approx((1 / math.log2(3)) / idcg)
    assert M.average_precision_at_k(RANKED, RELEVANT, 3) == pytest.approx((1 / 2) / 2)
    # Top 4 catches both: AP = (1/2 + 2/4) / 2.
    assert M.average_precision_at_k(RANKED, RELEVANT, 4) == pytest.approx(0.5)
    assert M.ndcg_at_k(RANKED, RELEVANT, 4) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / idcg)


def test_perfect_and_empty_lists() -> None:
    assert M.ndcg_at_k(np.array([4, 2, 9]), RELEVANT, 3) == pytest.approx(1.0)
    assert M.average_precision_at_k(np.array([4, 2, 9]), RELEVANT, 3) == pytest.approx(1.0)
    assert M.precision_at_k(np.array([7, 8]), RELEVANT, 2) == 0.0
    assert M.ndcg_at_k(np.array([], dtype=int), RELEVANT, 3) == 0.0


def test_recall_divides_by_k_when_more_items_are_held_out() -> None:
    relevant = np.arange(20)
    assert M.recall_at_k(np.arange(5), relevant, 5) == pytest.approx(1.0)
    assert M.recall_at_k(np.array([0, 99, 1, 98, 97]), relevant, 5) == pytest.approx(2 / 5)


def test_listener_without_held_out_items_is_skipped() -> None:
    empty = np.array([], dtype=int)
    for fn in (M.precision_at_k, M.recall_at_k, M.ndcg_at_k, M.average_precision_at_k):
        assert math.isnan(fn(RANKED, empty, 3))
    assert M.mean_over_users([0.5, float("nan"), 1.0]) == pytest.approx(0.75)
    assert math.isnan(M.mean_over_users([float("nan")]))


def test_k_larger_than_the_list() -> None:
    # One recommendation, it is right; k = 10.
    ranked, relevant = np.array([5]), np.array([5])
    assert M.precision_at_k(ranked, relevant, 10) == pytest.approx(0.1)  # still divides by k
    assert M.recall_at_k(ranked, relevant, 10) == pytest.approx(1.0)
    assert M.ndcg_at_k(ranked, relevant, 10) == pytest.approx(1.0)
    assert M.average_precision_at_k(ranked, relevant, 10) == pytest.approx(1.0)


def test_auc_ties_wrong_and_half() -> None:
    pos, neg = np.array([3.0, 1.0]), np.array([1.0, 0.0, 2.0])
    # Pairs: 3 beats all three; 1 beats 0, ties 1, loses to 2 -> 4 right, 1 tie, 1 wrong of 6.
    assert M.auc(pos, neg, ties="wrong") == pytest.approx(4 / 6)
    assert M.auc(pos, neg, ties="half") == pytest.approx(4.5 / 6)
    # A model that scores everything equal: 0 by the book's rule, 0.5 with ties as half.
    same = np.zeros(3)
    assert M.auc(same, same, ties="wrong") == 0.0
    assert M.auc(same, same, ties="half") == pytest.approx(0.5)
    # Items a model cannot rank (-inf) tie with each other and lose to any finite score.
    assert M.auc(np.array([-np.inf]), np.array([-np.inf, -5.0]), ties="half") == pytest.approx(0.25)
    assert math.isnan(M.auc(np.array([]), neg))


def test_coverage_novelty_diversity() -> None:
    assert M.catalog_coverage([np.array([0, 1]), np.array([1, 2])], 10) == pytest.approx(0.3)
    assert M.catalog_coverage([], 10) == 0.0
    rank = np.array([1, 2, 3, 4, 5])
    assert M.novelty(np.array([0, 4]), rank) == pytest.approx(3.0)
    # A 3-4-5 triangle: pairwise distances 3, 4, 5.
    feats = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0], [np.nan, 1.0]])
    assert M.intra_list_diversity(feats) == pytest.approx(4.0)
    assert math.isnan(M.intra_list_diversity(feats[:1]))


def test_matches_spark_ranking_evaluator(spark) -> None:
    """NDCG@k, precision@k and MAP@k equal Spark's; recall@k differs only by its divisor."""
    from pyspark.ml.evaluation import RankingEvaluator

    rng = np.random.default_rng(3)
    rows = []
    for _ in range(25):
        ranked = rng.permutation(30)[: rng.integers(1, 12)]
        relevant = rng.choice(30, size=rng.integers(1, 9), replace=False)
        rows.append((ranked, relevant))
    df = spark.createDataFrame(
        [([float(x) for x in r], [float(x) for x in rel]) for r, rel in rows], "prediction array<double>, label array<double>"
    )
    k = 5
    ours = {
        "ndcgAtK": M.mean_over_users(M.ndcg_at_k(r, rel, k) for r, rel in rows),
        "precisionAtK": M.mean_over_users(M.precision_at_k(r, rel, k) for r, rel in rows),
        "meanAveragePrecisionAtK": M.mean_over_users(M.average_precision_at_k(r, rel, k) for r, rel in rows),
    }
    for name, value in ours.items():
        spark_value = RankingEvaluator(metricName=name, k=k).evaluate(df)
        assert value == pytest.approx(spark_value, abs=1e-9), name
    spark_recall = RankingEvaluator(metricName="recallAtK", k=k).evaluate(df)
    spark_style = np.mean([np.isin(r[:k], rel).sum() / len(rel) for r, rel in rows])
    assert spark_recall == pytest.approx(spark_style)
    assert M.mean_over_users(M.recall_at_k(r, rel, k) for r, rel in rows) > spark_recall  # some hid > k items
