"""Hyperparameter search for ``evaluate --grid``: ALS grid, EASE λ, KMeans k.

ALS: the full grid rank × regParam × alpha × weight transform × iterations is fitted with
Spark on a validation split carved from the training part (engine.evaluation.splits.validation_split)
and scored in numpy (NDCG@10 by default). alpha is searched per transform, because its scale
depends on it (``1 + α·r`` on raw counts in the hundreds needs a far smaller α than on log
counts). When the best point sits on the edge of an axis, that axis is extended one step past
the edge with the other values held at the best point, and this repeats up to ``max_widen``
rounds; a best value still on the edge afterwards is reported as a warning. Iterations start
from one value and count as an edge (more iterations are tried at the best point, then fewer).
On enough listeners a first pass screens λ × transform on a sample of them at the grid's
smallest rank, with a line search over α for each (from the middle α towards the better side
while it improves), two fits at a time (GridSpec.first_pass_rank / first_pass_parallelism); its best
few (those within ``first_pass_within`` of its best) are fitted on all listeners, and the ranks
tried there, again two fits at a time; widening steps are screened on the sample at the middle
rank.

Then the EASE λ line, and the served model (ALS, item-kNN, RP3beta, EASE and their blends) is
chosen in numpy by :func:`engine.evaluation.served_search.search_served`, on the best ALS's
validation factors. ``on_als_chosen`` lets the caller start the final ALS fit as soon as ALS is
chosen, so Spark fits it while those run.

The chosen values go to ``settings.models_dir / "best_params.json"``, flat keys named like
``engine.training.als.AlsParams`` fields (plus ``kmeans_k``, ``blend`` and ``neighbours`` blocks and a
``meta`` block), so training applies them (``engine.training.params.resolve_params`` / ``resolve_blend``).

KMeans: ``VectorAssembler -> StandardScaler`` once, then ``KMeans(k)`` for each k of a range,
silhouette by ``ClusteringEvaluator`` and training cost (the elbow curve) for the Model page.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from pyspark.ml import Pipeline
from pyspark.ml.clustering import KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.sql import functions as F

from engine.core.config import Settings
from engine.core.files import atomic_write_text
from engine.core.schemas import CLUSTER_FEATURES
from engine.core.weights import transform_weights
from engine.evaluation.baselines import Ease
from engine.evaluation.datasets import fit_als_scorer, index_split
from engine.evaluation.scoring import EvalData, build_eval_data, evaluate_model
from engine.evaluation.search_space import GridSpec
from engine.evaluation.served_search import search_served
from engine.evaluation.splits import validation_split
from engine.serving.blend import BlendWeights
from engine.serving.neighbours import NeighbourParams

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from engine.training.als import AlsParams

logger = logging.getLogger(__name__)

KMEANS_FILE = "kmeans_selection.json"
#: How an axis is extended past its edge: (multiplier, lowest, highest value allowed).
WIDEN = {"rank": (2.0, 2, 512), "reg_param": (3.0, 1e-4, 100.0), "alpha": (3.0, 1e-3, 1000.0), "max_iter": (2.0, 2, 40)}

#: Axes searched from a single value (so they count as an edge until widened).
SINGLE_VALUE_EDGES = ("max_iter",)

@dataclass
class GridResult:
    """Every point tried (validation metrics), the best ALS overall and per transform."""

    rows: list[dict[str, Any]]
    best: "AlsParams"
    best_by_transform: dict[str, "AlsParams"]
    ease_rows: list[dict[str, Any]]
    best_ease_lambda: float | None
    metric: str
    warnings: list[str]
    seconds: float = 0.0
    blend_rows: list[dict[str, Any]] = field(default_factory=list)
    best_blend: BlendWeights | None = None
    best_neighbours: NeighbourParams | None = None
    best_components: dict[str, NeighbourParams] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with a markdown table of the points, best first."""
        return {
            "metric": self.metric,
            "best": self.best.to_dict(),
            "best_by_transform": {t: p.to_dict() for t, p in self.best_by_transform.items()},
            "best_ease_lambda": self.best_ease_lambda,
            "rows": self.rows,
            "ease_rows": self.ease_rows,
            "blend_rows": self.blend_rows,
            "best_blend": self.best_blend.to_dict() if self.best_blend else None,
            "best_neighbours": self.best_neighbours.to_dict() if self.best_neighbours else None,
            "best_components": {n: p.to_dict() for n, p in self.best_components.items()},
            "warnings": self.warnings,
            "seconds": round(self.seconds, 1),
            "markdown": self.markdown(),
        }

    def markdown(self) -> str:
        """The ALS points sorted by the metric, then the EASE λ line."""
        cols = ("stage", "rank", "reg_param", "alpha", "weight_transform", "max_iter", "ndcg@10", "recall@50", "auc", "fit_seconds")
        lines = ["| " + " | ".join(cols) + " |", "|" + "---:|" * len(cols)]
        # all validation listeners first, then the first pass on a sample of them
        for r in sorted(self.rows, key=lambda r: (r.get("stage") == "sample", -r[self.metric])):
            lines.append("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
        if self.ease_rows:
            lines += ["", "| EASE λ | ndcg@10 | recall@50 |", "|---:|---:|---:|"]
            lines += [f"| {_fmt(r['lambda'])} | {_fmt(r['ndcg@10'])} | {_fmt(r['recall@50'])} |" for r in self.ease_rows]
        if self.blend_rows:
            chosen = self.best_blend.label if self.best_blend else "?"
            lines += ["", f"Served blend: the model chosen on the validation split is **{chosen}**.", "",
                      "| candidate | listeners | ndcg@10 | recall@50 | coverage@10 |", "|---|---:|---:|---:|---:|"]
            final = [r for r in self.blend_rows if r.get("stage") == "validation"]
            first = [r for r in self.blend_rows if r.get("stage") != "validation"]
            for r in sorted(final, key=lambda r: -r[self.metric]) + sorted(first, key=lambda r: -r[self.metric])[:15]:
                lines.append(f"| {r['model']} | {r.get('n_eval_users', '')} | {_fmt(r.get(self.metric))} | "
                             f"{_fmt(r.get('recall@50'))} | {_fmt(r.get('coverage@10'))} |")
        if self.warnings:
            lines += [""] + [f"- {w}" for w in self.warnings]
        return "\n".join(lines)


def grid_search(
    spark: "SparkSession",
    train: "DataFrame",
    *,
    item_col: str,
    user_ids: list[str],
    item_ids: list[str],
    base: "AlsParams",
    spec: GridSpec,
    split: str = "holdout",
    seed: int = 42,
    k: int = 10,
    k_recall: int = 50,
    ease_max_items: int = 8000,
    on_als_chosen: Callable[["AlsParams"], None] | None = None,
) -> GridResult:
    """Search ALS (and EASE λ) on a validation split carved from ``train`` (string ids, one
    row per user and item). Returns every point tried and the best ones.

    ``on_als_chosen(best)`` is called once ALS is chosen, before the EASE line and the served
    search: :func:`engine.evaluation.protocol.evaluate` starts the final ALS fit there, so Spark
    fits it while those run in numpy (mostly on one core).
    """

    start = time.perf_counter()
    val = validation_split(train, item_col=item_col, kind=split, seed=seed)
    vs = index_split(val.train, val.test, user_ids=user_ids, item_ids=item_ids, item_col=item_col)
    data = build_eval_data(vs.train, vs.test, seed=seed + 1)
    n_users, n_items = len(user_ids), len(item_ids)
    logger.info(f"[grid] validation: {vs.train.nnz:,} training / {vs.test.nnz:,} held-out interactions")
    tried: dict[tuple, dict[str, Any]] = {}
    warnings: list[str] = []
    spec, note = _one_transform_if_constant(spec, vs.train.data, base)
    if note:
        warnings.append(note)
        logger.info(f"[grid] {note}")

    #: the fitted factors of the best full-validation point so far (reused by the served search)
    kept: dict[str, Any] = {}
    kept_lock = threading.Lock()

    def scorer_on(train_df: "DataFrame", eval_data: EvalData, stage: str) -> Any:
        def score(p: "AlsParams") -> dict[str, Any]:
            t = time.perf_counter()
            scorer = fit_als_scorer(train_df, p, n_users=n_users, n_items=n_items)
            fit_s = time.perf_counter() - t
            m = evaluate_model(scorer, eval_data, k=k, k_recall=k_recall)
            with kept_lock:  # fits may run in threads (first_pass_parallelism, parallelism)
                if stage == "validation" and m[spec.metric] > kept.get("metric", -1.0):
                    kept.update(metric=m[spec.metric], key=_key(p), scorer=scorer)
            row = {key: getattr(p, key) for key in ("rank", "reg_param", "alpha", "weight_transform", "max_iter")}
            row.update({key: m[key] for key in (f"ndcg@{k}", f"recall@{k_recall}", "auc")}, fit_seconds=round(fit_s, 2),
                       stage=stage, n_eval_users=m["n_eval_users"])
            logger.info(f"[grid] {stage}: {_point_text(p)}: {spec.metric} {m[spec.metric]:.4f} ({fit_s:.1f}s)")
            return row

        return score

    def run(points: Iterable["AlsParams"], into: dict[tuple, dict[str, Any]], score: Any, *, at_once: int | None = None) -> None:
        _run_points(points, into, score, at_once=at_once or spec.parallelism)

    full = scorer_on(vs.train_df, data, "validation")
    first: dict[tuple, dict[str, Any]] = {}  # the first pass, on a sample of the listeners
    points = spec.points(base)
    users_with_test = data.test_users
    ranks = sorted(spec.rank)
    screen_rank = spec.first_pass_rank or ranks[0]
    # Widening steps are screened nearer the best rank: at rank 32 more iterations and more λ
    # looked 1-2% better on the sample and then lost at rank 128 on all listeners (two wasted
    # rank-128 fits, 7 minutes, on the 550k-pair playlists); at rank 64 they did not.
    widen_rank = ranks[len(ranks) // 2]
    if spec.first_pass_users and len(users_with_test) > 1.5 * spec.first_pass_users and len(points) > spec.first_pass_keep:
        # A cheaper first pass: every transform × λ at the screening rank (GridSpec.first_pass_rank),
        # with a line search over α for each, fitted and scored on a random sample of the
        # validation listeners; the best few, and the other ranks at the best, are then fitted on
        # all of them. The sample shortens scoring and the listener side of a fit; the low rank
        # shortens the item side, which dominates.
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(users_with_test, size=spec.first_pass_users, replace=False))
        keep = spark.createDataFrame([(int(u),) for u in sample], "user_idx int")
        sample_df = vs.train_df.join(F.broadcast(keep), on="user_idx", how="left_semi").cache()
        on_sample = scorer_on(sample_df, replace(data, test_users=sample), "sample")
        _alpha_lines([replace(p, rank=screen_rank) for p in points if p.rank == ranks[0]], first, on_sample,
                     metric=spec.metric, at_once=spec.first_pass_parallelism)
        seeds = _seeds(first, base, spec)
        if len(seeds) == 1:  # the rank ladder needs no other seed's result: fit it all at once
            seeds += [replace(seeds[0], rank=r) for r in ranks]
        at_once = max(spec.parallelism, spec.first_pass_parallelism)
        run(seeds, tried, full, at_once=at_once)
        best = _best(tried, base, spec.metric)
        run([replace(best, rank=r) for r in ranks], tried, full, at_once=at_once)  # done already with one seed
    else:
        run(points, tried, full)
    best = _best(tried, base, spec.metric)
    for _ in range(spec.max_widen if spec.als_grid else 0):
        # an edge is judged against every value tried, the first pass's included
        extra = [p for p in _widened(best, {**first, **tried}) if _key(p) not in tried and p.rank <= max(spec.max_rank, *spec.rank)]
        if not extra:
            break
        logger.info(f"[grid] best point on the grid's edge ({_point_text(best)}): widening with {len(extra)} points")
        if first:
            # Screen the steps past the edge on the sample, at the middle rank (a rank-128
            # fit costs minutes even on the sample; a step in λ, α or iterations is judged
            # against the best point at that rank, a step in rank at its own): only those that
            # beat it there are fitted on all listeners.
            at, ref = widen_rank, best.rank
            run([_at_rank(p, at, ref) for p in (best, *extra)], first, on_sample, at_once=spec.first_pass_parallelism)
            # a step must beat the best by the screen's margin: a gain within the sample's noise
            # is not worth a full fit (a rank-128, 20-iteration fit costs 2–5 minutes on 2 cores)
            bar = first[_key(_at_rank(best, at, ref))][spec.metric] * (1.0 + spec.screen_margin)
            extra = [p for p in extra if first[_key(_at_rank(p, at, ref))][spec.metric] > bar]
            if not extra:
                break
        run(extra, tried, full)
        best = _best(tried, base, spec.metric)
    if first:
        sample_df.unpersist()
    for axis, value, _ in _edges(best, {**first, **tried}) if spec.als_grid else ():
        warnings.append(
            f"ALS {axis}={value} is on the edge of the searched values after {spec.max_widen} widening rounds: "
            "widen the grid further"
        )
    # the best of each transform: from the full rows when it has any, else from the first pass
    by_transform = {
        t: _best(tried if any(r["weight_transform"] == t for r in tried.values()) else first, base, spec.metric, transform=t)
        for t in spec.alpha if any(r["weight_transform"] == t for r in (*tried.values(), *first.values()))
    }
    for t, p in by_transform.items():
        if t != best.weight_transform:
            sub = {key: r for key, r in tried.items() if r["weight_transform"] == t}
            for axis, value, _ in _edges(p, sub, single=False):
                warnings.append(f"the best {t} point has {axis}={value} on its grid's edge (not widened): its row may understate {t}")
    if on_als_chosen is not None:
        on_als_chosen(best)
    ease_rows, best_lam, best_ease = _search_ease(data, spec, ease_max_items=ease_max_items, k=k, k_recall=k_recall)
    if best_lam is not None and len(ease_rows) > 1:
        lams = sorted(r["lambda"] for r in ease_rows)
        if best_lam in (lams[0], lams[-1]):
            warnings.append(f"EASE λ={best_lam:g} is on the edge of the searched values {lams}")
    blend_rows: list[dict[str, Any]] = []
    best_blend, best_nb, best_components = None, None, None
    if spec.blend_neighbours:
        scorer = kept["scorer"] if kept.get("key") == _key(best) else fit_als_scorer(vs.train_df, best, n_users=n_users, n_items=n_items)
        kept.clear()
        found = search_served(scorer.U, scorer.Y, data, als=best, spec=spec, ease_lambda=best_lam, ease_fitted=best_ease,
                              ease_max_items=ease_max_items, k=k, k_recall=k_recall, seed=seed)
        blend_rows, best_blend, best_nb, best_components = found.rows, found.best, found.neighbours, found.components
        warnings += found.warnings
    vs.train_df.unpersist()
    return GridResult(
        rows=list(tried.values()) + list(first.values()),
        best=best,
        best_by_transform=by_transform,
        ease_rows=ease_rows,
        best_ease_lambda=best_lam,
        metric=spec.metric,
        warnings=warnings,
        seconds=time.perf_counter() - start,
        blend_rows=blend_rows,
        best_blend=best_blend,
        best_neighbours=best_nb,
        best_components=best_components or {},
    )


def _one_transform_if_constant(spec: GridSpec, weights: np.ndarray, base: "AlsParams") -> tuple[GridSpec, str | None]:
    """On data whose weights are all one value ``w`` (playlists, binary HetRec) every weight
    transform ``t`` gives the confidence ``1 + α·t(w)``, so ALS(t, α) is ALS(binary, α·t(w)):
    search binary alone over the union of the mapped α values (no model is lost, and the same
    fit is not repeated once per transform)."""
    values = np.unique(weights[weights > 0])
    if len(values) != 1 or not spec.als_grid or list(spec.alpha) == ["binary"]:
        return spec, None
    w = np.array([values[0]])
    alphas = sorted({float(f"{a * transform_weights(w, t, epsilon=base.weight_epsilon, clip=base.weight_clip)[0]:.4g}")
                     for t, values_t in spec.alpha.items() for a in values_t})
    note = (f"every weight is {values[0]:g}: the weight transforms give the same ALS up to α, so ALS was searched "
            f"with binary confidence over α ∈ {{{', '.join(f'{a:g}' for a in alphas)}}}")
    return replace(spec, alpha={"binary": tuple(alphas)}), note


def _search_ease(
    data: EvalData, spec: GridSpec, *, ease_max_items: int, k: int, k_recall: int
) -> tuple[list[dict[str, Any]], float | None, Ease | None]:
    """EASE λ line search on the validation split, widened (×3) while the best is on an edge.
    Returns the rows, the best λ and its fitted model (the served search lists from its weights
    instead of inverting the same Gram matrix again)."""
    if not spec.ease_lambda:
        return [], None, None
    rows: dict[float, dict[str, Any]] = {}
    best_fit: dict[str, Any] = {}

    def score(lam: float) -> None:
        model = Ease(lam=lam, max_items=ease_max_items).fit(data.train)
        m = evaluate_model(model, data, k=k, k_recall=k_recall)
        rows[lam] = {"lambda": lam, "ndcg@10": m[f"ndcg@{k}"], "recall@50": m[f"recall@{k_recall}"]}
        if not best_fit or m[spec.metric] > best_fit["metric"]:
            best_fit.update(metric=m[spec.metric], model=model)  # one N×N model kept, not one per λ
        logger.info(f"[grid] EASE λ={lam:g}: {spec.metric} {m[spec.metric]:.4f}")

    for lam in spec.ease_lambda:
        score(float(lam))
    for _ in range(spec.max_widen):
        best = max(rows, key=lambda lam: rows[lam][spec.metric])
        lams = sorted(rows)
        if best == lams[-1]:
            score(best * 3.0)
        elif best == lams[0] and best / 3.0 >= 1.0:
            score(best / 3.0)
        else:
            break
    best = max(rows, key=lambda lam: rows[lam][spec.metric])
    model = best_fit["model"]
    return [rows[lam] for lam in sorted(rows)], best, (model if model.lam == best else None)


def _alpha_lines(points: Iterable["AlsParams"], into: dict[tuple, dict[str, Any]], score: Callable[["AlsParams"], dict[str, Any]],
                 *, metric: str, at_once: int) -> None:
    """Score ``points`` as one line search over α per (transform, λ, iterations), the lines
    ``at_once`` at a time in threads, into ``into``.

    A line starts at its middle α and steps towards the better neighbour while the metric
    improves, so a λ whose best α is at an end costs about half its α values: on the 550k-pair
    playlists NDCG rose steadily with α at both λ (seven α values each), and the line fitted
    four of them. It assumes one peak along α at fixed λ — as every dataset here has had; a
    best α at the end of the tried values is still widened past it by the grid.
    """
    lines: dict[tuple, list["AlsParams"]] = {}
    for p in points:
        lines.setdefault((p.weight_transform, p.reg_param, p.max_iter, p.rank), []).append(p)
    lock = threading.Lock()

    def scored(p: "AlsParams") -> float:
        if _key(p) not in into:
            row = score(p)
            with lock:
                into[_key(p)] = row
        return float(into[_key(p)][metric])

    def walk(line: list["AlsParams"]) -> None:
        line = sorted({_key(p): p for p in line}.values(), key=lambda p: p.alpha)
        mid = (len(line) - 1) // 2
        best = scored(line[mid])
        if mid + 1 >= len(line):
            return
        up = scored(line[mid + 1])
        step, i = (1, mid + 2) if up > best else (-1, mid - 1)
        best = max(best, up)
        while 0 <= i < len(line):
            got = scored(line[i])
            if got <= best:
                break
            best, i = got, i + step

    with ThreadPoolExecutor(max_workers=max(1, at_once)) as pool:
        list(pool.map(walk, lines.values()))


def _run_points(points: Iterable["AlsParams"], into: dict[tuple, dict[str, Any]], score: Callable[["AlsParams"], dict[str, Any]],
                *, at_once: int) -> None:
    """Score each point not in ``into`` yet, once (a list may name a point twice: the seed and
    its own rank on the ladder), ``at_once`` at a time in threads, into ``into``."""
    todo = list({_key(p): p for p in points if _key(p) not in into}.values())
    with ThreadPoolExecutor(max_workers=max(1, at_once)) as pool:
        for p, row in zip(todo, pool.map(score, todo)):
            into[_key(p)] = row


def _seeds(first: dict[tuple, dict[str, Any]], base: "AlsParams", spec: GridSpec) -> list["AlsParams"]:
    """The first pass's points worth a fit on all listeners: its best ``first_pass_keep``, less
    those more than ``first_pass_within`` (relative) behind its best."""
    ranked = sorted(first.values(), key=lambda r: -r[spec.metric])[: spec.first_pass_keep]
    bar = ranked[0][spec.metric] * (1.0 - spec.first_pass_within) if ranked else 0.0
    return [_best({0: r}, base, spec.metric) for r in ranked if r[spec.metric] >= bar]


def _at_rank(p: "AlsParams", rank: int, unless_rank: int) -> "AlsParams":
    """``p`` at ``rank``, unless its own rank differs from ``unless_rank`` (a step in rank)."""
    return replace(p, rank=rank) if p.rank == unless_rank else p


def _key(p: "AlsParams") -> tuple:
    return (p.rank, round(p.reg_param, 10), round(p.alpha, 10), p.weight_transform, p.max_iter)


def _best(tried: dict[tuple, dict[str, Any]], base: "AlsParams", metric: str, *, transform: str | None = None) -> "AlsParams":
    rows = [r for r in tried.values() if transform is None or r["weight_transform"] == transform]
    r = max(rows, key=lambda r: r[metric])
    return replace(
        base, rank=r["rank"], reg_param=r["reg_param"], alpha=r["alpha"], weight_transform=r["weight_transform"], max_iter=r["max_iter"]
    )


def _edges(best: "AlsParams", tried: dict[tuple, dict[str, Any]], *, single: bool = True) -> list[tuple[str, Any, str]]:
    """``(axis, value, "low"|"high")`` for each axis on which ``best`` sits at the lowest or
    highest value tried (axes with ≥ 2 values; alpha among the values of the best transform)."""
    out = []
    for axis in WIDEN:
        values = sorted(
            {r[axis] for r in tried.values() if axis != "alpha" or r["weight_transform"] == best.weight_transform}
        )
        value = getattr(best, axis)
        if len(values) >= 2 and value in (values[0], values[-1]):
            out.append((axis, value, "high" if value == values[-1] else "low"))
        elif single and len(values) == 1 and axis in SINGLE_VALUE_EDGES:
            out.append((axis, value, "high"))
    return out


def _widened(best: "AlsParams", tried: dict[tuple, dict[str, Any]]) -> list["AlsParams"]:
    """One step past each edge the best point sits on, other values held at the best."""
    out = []
    for axis, value, side in _edges(best, tried):
        factor, lo, hi = WIDEN[axis]
        new = value * factor if side == "high" else value / factor
        if axis in ("rank", "max_iter"):
            new = int(round(new))
        if lo <= new <= hi and new != value:
            out.append(replace(best, **{axis: new}))
    return out


# -- KMeans k ---------------------------------------------------------------------------------


def select_kmeans_k(
    tracks: "DataFrame",
    *,
    k_values: Iterable[int],
    seed: int = 42,
    features: tuple[str, ...] = CLUSTER_FEATURES,
) -> dict[str, Any]:
    """Silhouette (``ClusteringEvaluator``, squared Euclidean) and training cost for each k.

    Uses the same standardized features as ``engine.training.kmeans.fit_kmeans``. Returns ``k_values,
    silhouette, training_cost, best_k`` (highest silhouette), ``n_tracks``, ``warning``
    (best k on the edge of the range) and a markdown table.
    """

    data = tracks.select(*[F.col(c).cast("double").alias(c) for c in features]).dropna()
    prep = Pipeline(
        stages=[
            VectorAssembler(inputCols=list(features), outputCol="raw_features"),
            StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True),
        ]
    )
    scaled = prep.fit(data).transform(data).select("features").cache()
    n = scaled.count()
    evaluator = ClusteringEvaluator(featuresCol="features", predictionCol="cluster", metricName="silhouette")
    ks, sil, cost = [], [], []
    for k in k_values:
        if k < 2 or k >= n:
            continue
        model = KMeans(k=k, seed=seed, featuresCol="features", predictionCol="cluster").fit(scaled)
        ks.append(int(k))
        sil.append(float(evaluator.evaluate(model.transform(scaled))))
        cost.append(float(model.summary.trainingCost))
        logger.info(f"[kmeans] k={k}: silhouette {sil[-1]:.4f}, cost {cost[-1]:.1f}")
    scaled.unpersist()
    if not ks:
        raise ValueError(f"no k in the range fits {n} tracks with features")
    best = ks[max(range(len(ks)), key=lambda i: sil[i])]
    warning = None
    if len(ks) > 1 and best in (ks[0], ks[-1]):
        warning = f"KMeans k={best} (highest silhouette) is on the edge of the range {ks[0]}–{ks[-1]}"
    table = ["| k | silhouette | training cost |", "|---:|---:|---:|"]
    table += [f"| {k} | {s:.4f} | {c:.1f} |" for k, s, c in zip(ks, sil, cost)]
    return {
        "k_values": ks,
        "silhouette": sil,
        "training_cost": cost,
        "best_k": best,
        "n_tracks": int(n),
        "features": list(features),
        "warning": warning,
        "markdown": "\n".join(table + ([f"\n- {warning}"] if warning else [])),
    }


def save_kmeans_selection(settings: Settings, selection: Mapping[str, Any]) -> "Any":
    """Write the silhouette / elbow curve to ``models_dir/kmeans_selection.json`` for the Model page."""

    path = settings.models_dir / KMEANS_FILE
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(dict(selection), indent=2))
    return path


def _point_text(p: "AlsParams") -> str:
    return f"rank {p.rank}, reg {p.reg_param:g}, alpha {p.alpha:g}, {p.weight_transform}, {p.max_iter} it"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)
