"""The refresh's quality gate: the candidate and the serving model on the same held-out listening.

A fair comparison needs interactions that *neither* model has seen. The serving model never saw
what arrived after it was trained, so the holdout is carved from that **new** listening only:

1. all interactions -> one row per (listener, track), tracks with < 2 listeners dropped
   (:func:`engine.evaluation.splits.prepare_interactions`);
2. new pairs = pairs whose first row arrived after the serving model's watermark;
3. per-listener holdout over the new pairs with a fixed seed (:func:`engine.evaluation.splits.holdout_split`:
   a listener with ≥ ``min_items`` new tracks hides ``max(1, round(0.2·n))`` of them);
4. the candidate trains on everything except the held-out pairs;
5. each held-out listener's remaining interactions (old and new) are folded into **both** models
   with the serving code (:class:`engine.serving.recommender.Recommender`, exact implicit-ALS fold-in),
   every candidate item is scored with ``Y @ x``, and NDCG@10 / recall@50 of the held-out pairs
   are computed by :func:`engine.evaluation.scoring.evaluate_model` — the evaluation harness, so the numbers
   mean what ``engine evaluate`` reports.

The current model cannot score tracks it has never seen (they count as misses): learning new
tracks is part of what a refresh is for. The held-out pairs join training at the next round.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from engine.bundle.load import Bundle
from engine.evaluation.scorers import BundleScorer
from engine.evaluation.scoring import build_eval_data, evaluate_model, to_csr
from engine.evaluation.splits import holdout_split, prepare_interactions

if TYPE_CHECKING:
    import scipy.sparse as sp
    from pyspark.sql import DataFrame

    from engine.evaluation.scoring import EvalData

GATE_METRICS = ("ndcg@10", "recall@50")
REPORTED = ("ndcg@10", "recall@50", "precision@10", "map@10", "auc_ties_half", "coverage@10", "n_eval_users")


@dataclass
class Holdout:
    """The held-out new pairs, in one integer index with the rest (``data``), and the candidate's rows.

    ``data`` is None when too few listeners qualify; ``stats`` says how many did.
    """

    candidate_rows: "DataFrame | None"
    data: "EvalData | None"
    item_ids: list[str]
    stats: dict[str, Any] = field(default_factory=dict)
    cached: list["DataFrame"] = field(default_factory=list)

    def release(self) -> None:
        """Drop the Spark caches the holdout holds (the candidate's rows read them)."""
        for df in self.cached:
            df.unpersist()
        self.cached.clear()


def build_holdout(
    rows: "DataFrame",
    *,
    watermark_us: int,
    seed: int = 42,
    min_items: int = 5,
    min_test_users: int = 10,
) -> Holdout:
    """Carve the gate's holdout out of ``rows`` (``user_id, track_id, weight, ..., arrival_us``).

    Rows arriving after ``watermark_us`` (epoch microseconds) are new; see the module docstring.
    """


    keys = ["user_id", "track_id"]
    prepared = prepare_interactions(rows, item_col="track_id").cache()
    first = rows.groupBy(*keys).agg(F.min("arrival_us").alias("first_us"))
    new_keys = first.where(F.col("first_us") > F.lit(int(watermark_us))).select(*keys)
    new_pairs = prepared.join(new_keys, keys, "left_semi")
    split = holdout_split(new_pairs, item_col="track_id", seed=seed, min_items=min_items)
    held = split.test.select(*keys).cache()
    test = split.test.select(*keys, "weight").toPandas()
    stats = {
        "n_new_pairs": int(new_pairs.count()),
        "n_test_pairs": len(test),
        "n_test_users": int(test["user_id"].nunique()),
        "holdout_seed": seed,
        "holdout_min_new_items": min_items,
    }
    if stats["n_test_users"] < max(1, min_test_users):
        held.unpersist()
        prepared.unpersist()
        return Holdout(None, None, [], stats)
    train = prepared.join(held, keys, "left_anti").select(*keys, "weight").toPandas()
    prepared.unpersist()
    users = pd.Index(sorted(set(train["user_id"]) | set(test["user_id"])))
    items = pd.Index(sorted(set(train["track_id"]) | set(test["track_id"])))

    def csr(pdf: pd.DataFrame) -> "sp.csr_matrix":
        indexed = pd.DataFrame(
            {
                "user_idx": users.get_indexer(pdf["user_id"]),
                "item_idx": items.get_indexer(pdf["track_id"]),
                "weight": pdf["weight"],
            }
        )
        return to_csr(indexed, n_users=len(users), n_items=len(items))

    data = build_eval_data(csr(train), csr(test), seed=seed)
    stats.update(n_eval_items=len(items), n_eval_users=len(users))
    return Holdout(rows.join(held, keys, "left_anti"), data, list(items), stats, cached=[held])


def score_bundle(bundle: Bundle, holdout: Holdout, *, k: int = 10, k_recall: int = 50) -> dict[str, Any]:
    """The evaluation metrics of ``bundle`` on ``holdout`` (keys :data:`REPORTED`)."""

    if holdout.data is None:
        raise ValueError("the holdout has too few listeners to score on")
    scorer = BundleScorer(bundle, item_ids=holdout.item_ids, train=holdout.data.train)
    metrics = evaluate_model(scorer, holdout.data, k=k, k_recall=k_recall)
    return {key: _finite(metrics.get(key)) for key in REPORTED}


def compare(
    candidate: dict[str, Any],
    current: dict[str, Any],
    *,
    metrics: Sequence[str] = GATE_METRICS,
    tolerance: float = 0.05,
) -> tuple[bool, str]:
    """Is the candidate not worse than the current model beyond ``tolerance``?

    A metric fails when ``candidate < current · (1 − tolerance)`` (a relative tolerance: metric
    levels differ by orders of magnitude between datasets), or when the candidate's value is
    missing. Returns ``(passed, reason)`` with the numbers.
    """
    worse, same = [], []
    for m in metrics:
        c, b = candidate.get(m), current.get(m)
        if b is None:
            same.append(f"{m} {_fmt(c)} (current has none)")
        elif c is None or c < b * (1.0 - tolerance):
            worse.append(f"{m} {_fmt(c)} vs current {_fmt(b)}")
        else:
            same.append(f"{m} {_fmt(c)} vs current {_fmt(b)}")
    if worse:
        return False, f"candidate worse than current beyond {tolerance:.0%}: " + "; ".join(worse)
    return True, f"candidate not worse than current (tolerance {tolerance:.0%}): " + "; ".join(same)


def _finite(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _fmt(v: Any) -> str:
    return "none" if v is None else f"{v:.4f}"
