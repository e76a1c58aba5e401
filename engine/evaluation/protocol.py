"""The evaluation protocol: the served model, ALS and the baselines on one split (``engine evaluate``).

Data flow of :func:`evaluate`::

    interactions (hetrec | audioscrobbler | demo | a parquet path)       engine.evaluation.datasets
      -> one row per (user, item), items with < 2 listeners dropped      engine.evaluation.splits
      -> integer ids (engine.training.als.index_interactions), per-listener holdout (or time split)
      -> validation split carved from training -> the served model chosen on it        engine.evaluation.tuning
         (--grid: ALS, EASE λ and the served model searched; default: ALS as configured,
         the served model searched; none when the dataset's choice is in best_params.json)
      -> ALS fitted with Spark on the training part (engine.training.als.fit_als)
      -> every model scored in numpy on the held-out part                  engine.evaluation.scoring
      -> EvalReport -> JSON + markdown under --out, optionally the bundle manifest's metrics   engine.evaluation.report

Models: the served blend (ALS + item neighbours, engine.serving.blend, scored by
engine.evaluation.scorers.BlendScorer), ALS alone, most-popular, random, EASE and item-kNN
(engine.evaluation.baselines), all on the same split and the same candidates. The served
model's lists are the ones ``python -m engine train`` ships for a bundle, computed in numpy on
the training part (engine.training.cooccurrence, engine.training.ease; Spark's
engine.training.neighbours is tested to give the same lists). With a grid, the best ALS of each other weight transform gets a row too.
``--reproduce-book`` adds the "Advanced Analytics with Spark" ch. 3 protocol
(engine.evaluation.reproduction). The CLI is :mod:`engine.commands.evaluate`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.progress import Progress
from engine.evaluation.baselines import Ease, ItemKnn, MostPopular, RandomScores
from engine.evaluation.datasets import (
    Dataset,
    fit_als_scorer,
    index_split,
    item_features,
)
from engine.evaluation.report import EvalReport, params_text
from engine.evaluation.scorers import BlendScorer
from engine.evaluation.scoring import build_eval_data, evaluate_model
from engine.evaluation.search_space import GridSpec
from engine.evaluation.splits import has_timestamps, make_split, prepare_interactions
from engine.evaluation.tuning import grid_search
from engine.serving.blend import BlendWeights
from engine.serving.neighbours import NEIGHBOURS, NeighbourParams
from engine.training.als import AlsParams, index_interactions
from engine.training.cooccurrence import CooccurrenceBasis, cooccurrence_neighbours
from engine.training.ease import ease_lists

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
BASELINES = ("most-popular", "random", "ease", "item-knn")
#: The row of the model the app serves.
SERVED = "served"


class _EarlyFits:
    """ALS fits started before they are needed, each in a worker thread.

    :func:`evaluate` starts the final ALS fit as soon as the grid has chosen ALS
    (``grid_search(on_als_chosen=...)``): the grid's EASE line and served search then run in
    numpy, mostly on one core, while Spark fits beside them (on the 550k-pair playlists the
    final rank-128 fit took minutes). A fit not started early runs when asked for.
    """

    def __init__(self, fit: Callable[[AlsParams], Any]) -> None:
        self._fit = fit
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="early-als")
        self._started: dict[AlsParams, Future[tuple[Any, float]]] = {}  # AlsParams is frozen: a key

    def _timed(self, p: AlsParams) -> tuple[Any, float]:
        start = time.perf_counter()
        return self._fit(p), time.perf_counter() - start

    def start(self, p: AlsParams) -> None:
        """Start fitting ``p`` in the worker thread (once per parameter set)."""
        if p not in self._started:
            self._started[p] = self._pool.submit(self._timed, p)

    def result(self, p: AlsParams) -> tuple[Any, float]:
        """The fitted scorer of ``p`` and the seconds its fit took (fitted now if not started)."""
        started = self._started.pop(p, None)
        return started.result() if started is not None else self._timed(p)

    def close(self) -> None:
        """Drop fits started and not asked for (a running one finishes in its thread)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def evaluate(
    spark: "SparkSession",
    settings: Settings,
    *,
    dataset: Dataset,
    params: "AlsParams | None" = None,
    split: str = "holdout",
    seed: int = 42,
    k: int = 10,
    k_recall: int = 50,
    baselines: tuple[str, ...] = BASELINES,
    ease_lambda: float = 100.0,
    ease_max_items: int = 8000,
    knn_neighbours: int = 100,
    grid: GridSpec | None = None,
    blend: BlendWeights | None = None,
    neighbour_params: NeighbourParams | None = None,
    components: Mapping[str, NeighbourParams] | None = None,
    served: bool = True,
    search: bool = True,
) -> EvalReport:
    """Evaluate the served blend, ALS and the baselines on one split of ``dataset`` (the protocol: README, "How good is it?").

    With ``grid`` (an ``engine.evaluation.tuning.GridSpec``), ALS, blend and EASE hyperparameters are first
    chosen on a validation split carved from training, then refit on all training data; the
    table then also lists the best ALS of each weight transform. Without it, and with ``search``,
    the served model is still chosen on a validation split (``GridSpec(als_grid=False)``: ALS
    with ``params`` fitted once, the item–item terms and the blend weights searched, as
    :mod:`engine.evaluation.served_search` says), so the served row is the model this data
    would serve. With ``search=False`` the blend is ``blend`` / ``neighbour_params`` /
    ``components`` as given (default: the engine.serving.blend / engine.serving.neighbours defaults).
    """

    progress = Progress("evaluate")
    params = params or AlsParams.from_settings(settings)
    if split == "time" and not has_timestamps(dataset.df):
        raise InputError(f"{dataset.name}: --split time needs timestamps (column ts), and these interactions have none")
    prepared = prepare_interactions(dataset.df, item_col=dataset.item_col).cache()
    n_rows = prepared.count()
    if n_rows == 0:
        raise InputError(f"{dataset.name}: no interactions left after dropping items with fewer than 2 listeners")
    indexed = index_interactions(prepared, item_col=dataset.item_col)
    sp_split = make_split(prepared, item_col=dataset.item_col, kind=split, seed=seed)
    train_s = sp_split.train.cache()
    data_split = index_split(
        train_s, sp_split.test, user_ids=indexed.user_ids, item_ids=indexed.item_ids, item_col=dataset.item_col
    )
    n_users, n_items = len(indexed.user_ids), len(indexed.item_ids)
    progress("split", f"{n_rows:,} interactions, {n_users:,} listeners x {n_items:,} items, {split} split")

    grid_result = None
    notes: list[str] = []
    if grid is None and search and served:
        grid = GridSpec(als_grid=False)
    final_als = _EarlyFits(lambda p: fit_als_scorer(data_split.train_df, p, n_users=n_users, n_items=n_items))
    if grid is not None:
        grid_result = grid_search(
            spark,
            train_s,
            item_col=dataset.item_col,
            user_ids=indexed.user_ids,
            item_ids=indexed.item_ids,
            base=params,
            spec=grid,
            split=split,
            seed=seed,
            k=k,
            k_recall=k_recall,
            ease_max_items=ease_max_items,
            on_als_chosen=final_als.start,
        )
        params = grid_result.best
        ease_lambda = grid_result.best_ease_lambda or ease_lambda
        blend = grid_result.best_blend or blend
        neighbour_params = grid_result.best_neighbours or neighbour_params
        components = grid_result.best_components if grid_result.best_blend else components
        notes += grid_result.warnings
        if grid.als_grid:
            progress("grid", f"{len(grid_result.rows)} points, best {params_text(params.to_dict())}")
        else:
            progress("validation", f"served model chosen on a validation split: {blend.label if blend else '?'}")

    data = build_eval_data(
        data_split.train, data_split.test, seed=seed, features=item_features(dataset.features, indexed.item_ids)
    )
    rows: list[dict[str, Any]] = []
    blend = blend or BlendWeights()
    neighbour_params = neighbour_params or NeighbourParams()
    components = dict(components or {})
    used = [c.name for c in blend.components if c.weight]
    if [n for n in used if n not in components]:
        raise InputError(f"the blend weighs {', '.join(n for n in used if n not in components)} but no lists are configured for them")
    served_params = {**params.to_dict(), "blend": blend.to_dict(), "neighbours": neighbour_params.to_dict(),
                     "components": {n: components[n].to_dict() for n in used}}
    fitted: dict[str, Any] = {}
    fit_seconds: dict[str, float] = {}  # fits timed where they ran (the final ALS fit, started early)
    eases: dict[tuple[float, int], tuple[Ease, float]] = {}  # the served EASE lists and the EASE row share one inversion

    def ease(lam: float, max_items: int) -> Ease:
        if (lam, max_items) not in eases:
            start = time.perf_counter()
            model = Ease(lam=lam, max_items=max_items).fit(data.train)
            eases[(lam, max_items)] = model, time.perf_counter() - start
        return eases[(lam, max_items)][0]

    def ease_row() -> Ease:
        model = ease(ease_lambda, ease_max_items)
        fit_seconds["ease"] = eases[(ease_lambda, ease_max_items)][1]  # its own fit, wherever it ran
        return model

    def run(name: str, fit: Callable[[], Any], model_params: dict[str, Any]) -> None:
        start = time.perf_counter()
        model = fitted[name] = fit()
        fit_s = fit_seconds.get(name, time.perf_counter() - start)
        row = {"model": name, **evaluate_model(model, data, k=k, k_recall=k_recall)}
        row.update(fit_seconds=round(fit_s, 2), params=model_params)
        rows.append(row)
        progress(name, f"ndcg@{k} {row[f'ndcg@{k}']:.3f}, recall@{k_recall} {row[f'recall@{k_recall}']:.3f}, "
                       f"coverage@{k} {row[f'coverage@{k}']:.3f}")

    def fit_served() -> BlendScorer:
        als = fitted["als"]
        # The lists `train` builds for a bundle, computed here in numpy: Spark's co-occurrence
        # self-join (engine.training.neighbours) gives the same lists (tests/engine/test_neighbours.py)
        # but takes minutes on 550k pairs where this takes seconds. EASE is on the driver in both.
        basis = CooccurrenceBasis(data.train, max_user_items=neighbour_params.max_user_items)
        lists = {NEIGHBOURS: basis.neighbours(neighbour_params)}
        for name in used:
            p = components[name]
            if p.kind == "ease":
                model = ease(p.ease_lambda, p.ease_items)
                lists[name] = ease_lists(data.train, model.items, model.B, top_n=p.top_n)
            elif p.max_user_items == basis.max_user_items:
                lists[name] = basis.neighbours(p)
            else:
                lists[name] = cooccurrence_neighbours(data.train, p)
        return BlendScorer(
            als.U, als.Y, lists, data.train, weights=blend, transform=params.weight_transform,
            epsilon=params.weight_epsilon, clip=params.weight_clip,
        )

    als_variants = [("als", params)]
    if grid_result is not None:
        als_variants += [
            (f"als ({p.weight_transform})", p)
            for t, p in grid_result.best_by_transform.items()
            if t != params.weight_transform
        ]
    def fit_variant(name: str, p: AlsParams) -> Any:
        scorer, fit_seconds[name] = final_als.result(p)
        return scorer

    for name, p in als_variants:
        run(name, lambda name=name, p=p: fit_variant(name, p), p.to_dict())
    final_als.close()
    if served:
        # The served row's fit time is the neighbour computation (ALS is the "als" row's).
        run(SERVED, fit_served, served_params)
        rows.insert(0, rows.pop())
    makers: dict[str, tuple[Callable[[], Any], dict[str, Any]]] = {
        "most-popular": (lambda: MostPopular().fit(data.train), {}),
        "random": (lambda: RandomScores(seed=seed).fit(data.train), {"seed": seed}),
        "ease": (
            ease_row,
            {"lambda": ease_lambda, "max_items": min(ease_max_items, int(data.candidates.sum()))},
        ),
        "item-knn": (lambda: ItemKnn(neighbours=knn_neighbours).fit(data.train), {"neighbours": knn_neighbours}),
    }
    for name in baselines:
        fit, model_params = makers[name]
        run(name, fit, model_params)
    if "ease" in baselines and ease_max_items < int(data.candidates.sum()):
        notes.append(
            f"EASE ranks only the {ease_max_items:,} most-listened of {int(data.candidates.sum()):,} candidate items"
        )
    data_split.train_df.unpersist()
    train_s.unpersist()
    prepared.unpersist()
    report = EvalReport(
        dataset=dataset.name,
        description=dataset.description,
        protocol={
            "split": split,
            "seed": seed,
            "k": k,
            "k_recall": k_recall,
            "test_fraction": 0.2,
            "min_items_to_hide": 5,
            "min_listeners_per_item": 2,
            "auc_negatives": "as many as positives, sampled from the candidates",
            "candidates": "items with training interactions, minus the listener's training items",
        },
        data=data.stats,
        params=served_params,
        rows=rows,
        grid=grid_result.to_dict() if grid_result is not None else None,
        notes=notes,
    )
    report.timings_s = {**{s: round(v, 2) for s, v in progress.timings.items()}, "total": round(progress.elapsed, 2)}
    return report
