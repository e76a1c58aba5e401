"""Choosing the served model on the validation split: ALS, item-kNN, RP3beta, EASE and blends.

The served score (:mod:`engine.serving.blend`) is ``w_als · a + σ_a · Σ_t w_t · n_t / σ_t (+ a
popularity prior)``, with item–item terms ``t`` whose lists come from
:mod:`engine.training.cooccurrence` (item-kNN with shrinkage, RP3beta) or
:mod:`engine.training.ease`. :func:`search_served` chooses the lists' own hyperparameters and
the weights on the validation split of the data the model will serve:

1. **Each model alone** (ALS; item-kNN over shrink × list length; RP3beta over α × list length,
   with β tried in order per α until it falls behind that α's best; EASE over list length at the
   λ the EASE line search chose), on a sample of the
   validation listeners. Co-occurrence is computed once per γ and every list length is a prefix
   of the longest (:class:`~engine.training.cooccurrence.CooccurrenceBasis`), the ALS scores
   and each term's standardised scores are computed once per listener (:class:`TermCache`), so a
   grid point costs a few dense additions and the ranking.
2. **Blends**: coordinate ascent over the weights of ALS and of the best lists of each kind,
   starting from the best single model, then the first term's popularity discount and the
   popularity prior.
3. **Refinement**: the best few candidates and the best of every single model are scored again
   on all validation listeners with :class:`~engine.evaluation.scorers.BlendScorer` — the
   served formulas — and the winner is taken among them (within ``blend_tolerance`` of the best
   NDCG@10, the widest coverage). Since each single model alone is among them, the served model
   is never worse on validation than any of its components alone.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from engine.core.weights import transform_weights
from engine.evaluation.scorers import BlendScorer, add_rows, row_stds, term_matrix
from engine.evaluation.scoring import EvalData, evaluate_model
from engine.serving.blend import BlendWeights, Component, als_std, pop_discount
from engine.serving.neighbours import NEIGHBOURS, ItemNeighbours, NeighbourParams
from engine.training.cooccurrence import CooccurrenceBasis
from engine.training.ease import ease_lists, ease_neighbours

if TYPE_CHECKING:
    from engine.evaluation.baselines import Ease
    from engine.evaluation.search_space import GridSpec
    from engine.training.als import AlsParams

logger = logging.getLogger(__name__)

#: Names of the item–item terms the search may serve, besides the first lists (item-kNN).
RP3BETA, EASE = "rp3beta", "ease"


class ListKind(Enum):
    """Which model a term's lists are, named by the term they serve (the first lists,
    ``neighbours``, are item-kNN here). The kind decides which list lengths the search tries,
    so the longest is computed once and the others are its prefixes, and how the lists are
    computed (co-occurrence or EASE)."""

    KNN = NEIGHBOURS
    RP3BETA = RP3BETA
    EASE = EASE

    def top_ns(self, spec: "GridSpec", p: NeighbourParams) -> tuple[int, ...]:
        """The list lengths the search tries for lists of this kind, ``p``'s own among them."""
        if self is ListKind.EASE:
            return tuple(spec.ease_top_n) or (p.top_n,)
        return tuple(spec.blend_top_n if self is ListKind.KNN else spec.rp3_top_n) + (p.top_n,)

    def check(self, p: NeighbourParams) -> NeighbourParams:
        """``p`` when its ``kind`` is the one this term's lists are computed with, else ValueError."""
        want = "ease" if self is ListKind.EASE else "cooccurrence"
        if p.kind != want:
            raise ValueError(f"{self.value} lists need neighbours kind {want!r}, got {p.kind!r}")
        return p


@dataclass
class ServedSearch:
    """Every candidate tried, the chosen weights and the lists each chosen term needs."""

    rows: list[dict[str, Any]]
    best: BlendWeights
    neighbours: NeighbourParams
    components: dict[str, NeighbourParams]
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


class TermCache:
    """ALS scores and standardised item–item terms of a fixed set of listeners.

    ``term(key, lists, β)`` is the ``[len(users), n_items]`` matrix of ``n_t / σ_t`` (the
    listener's neighbour sums with the discount ``listeners^(−β)``, divided by their standard
    deviation over the scored items), exactly as :class:`~engine.serving.blend.Blend` computes
    it per listener; :meth:`scorer` adds them up with weights.
    """

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray, W: sp.csr_matrix, users: np.ndarray) -> None:
        self.users = np.asarray(users, dtype=np.int64)
        self.row_of = {int(u): r for r, u in enumerate(self.users)}
        Y = np.asarray(item_factors, dtype=np.float64)
        U = np.asarray(user_factors, dtype=np.float64)[self.users]
        scored = np.abs(Y).sum(axis=1) > 0
        self.n_scored = int(scored.sum())
        self.scored = scored
        self.A = U @ Y.T
        self.sigma = als_std(U, Y.T @ Y, Y.sum(axis=0), self.n_scored)
        self.W = W[self.users]
        self._terms: dict[Any, sp.csr_matrix] = {}

    def term(self, key: Any, lists: ItemNeighbours, pop_exponent: float) -> sp.csr_matrix:
        """The standardised term of ``lists`` with discount ``β`` (cached by ``(key, β)``)."""
        cache_key = (key, round(pop_exponent, 9))
        if cache_key not in self._terms:
            S = term_matrix(lists, pop_discount(lists.listeners, pop_exponent), len(lists.listeners))
            NB = sp.csr_matrix(self.W @ S)
            NB.sum_duplicates()  # canonical once here, so row slices of it need no sorting later
            NB.data /= np.repeat(row_stds(NB, self.n_scored), np.diff(NB.indptr))
            self._terms[cache_key] = NB
        return self._terms[cache_key]

    def scorer(self, weights: BlendWeights, terms: list[tuple[float, sp.csr_matrix]], prior: np.ndarray | None) -> "_Cached":
        """A ``scores(user_rows)`` model of the weighted sum (``prior``: log1p listeners)."""
        return _Cached(self, weights, terms, prior)


class _Cached:
    def __init__(self, cache: TermCache, weights: BlendWeights, terms: list[tuple[float, sp.csr_matrix]], prior: np.ndarray | None):
        self.cache, self.weights, self.terms, self.prior = cache, weights, terms, prior

    def fit(self, X: Any) -> "_Cached":
        return self

    def scores(self, user_rows: np.ndarray) -> np.ndarray:
        c, w = self.cache, self.weights
        rows = np.array([c.row_of[int(u)] for u in user_rows], dtype=np.int64)
        out = c.A[rows] * w.als if w.als else np.zeros((len(rows), c.A.shape[1]))
        sigma = c.sigma[rows][:, None]
        for weight, T in self.terms:
            if weight:
                add_rows(out, T[rows], sigma.ravel() * weight)
        if w.popularity and self.prior is not None:
            prior_std = float(self.prior[c.scored].std()) or 1.0
            out += sigma * (w.popularity / prior_std) * self.prior[None, :]
        return out


def search_served(
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    data: EvalData,
    *,
    als: "AlsParams",
    spec: "GridSpec",
    ease_lambda: float | None,
    ease_max_items: int,
    ease_fitted: "Ease | None" = None,
    k: int = 10,
    k_recall: int = 50,
    seed: int = 42,
) -> ServedSearch:
    """Choose the served model on ``data`` (a validation split) for fitted ALS factors.

    ``ease_fitted``: the EASE model the λ line search fitted on ``data`` at ``ease_lambda``
    (its lists are then cut from its weights, not from a second inversion of the Gram matrix).
    """
    start = time.perf_counter()
    metric, cov = spec.metric, f"coverage@{k}"
    W = sp.csr_matrix(data.train, dtype=np.float64, copy=True)
    W.eliminate_zeros()
    W.data = transform_weights(W.data, als.weight_transform, epsilon=als.weight_epsilon, clip=als.weight_clip)
    rng = np.random.default_rng(seed)
    users = data.test_users
    if spec.search_users and len(users) > spec.search_users:
        users = np.sort(rng.choice(users, size=spec.search_users, replace=False))
    sample = replace(data, test_users=users)
    cache = TermCache(user_factors, item_factors, W, users)
    basis = CooccurrenceBasis(data.train, max_user_items=NeighbourParams().max_user_items)
    prior = np.log1p(basis.listeners)
    no_lists = ItemNeighbours(np.zeros(basis.n_items + 1, dtype=np.int64), np.zeros(0, np.int32),
                              np.zeros(0, np.float32), basis.listeners.astype(np.float32))
    lists: dict[tuple, ItemNeighbours] = {}

    def get_lists(name: str, p: NeighbourParams) -> ItemNeighbours:
        """The lists of the term ``name`` with parameters ``p`` (a prefix of the longest its kind tries)."""
        kind = ListKind(name)
        key = (kind, *sorted(kind.check(p).to_dict().items()))
        if key not in lists:
            longest = replace(p, top_n=max(kind.top_ns(spec, p)))
            lkey = (kind, *sorted(longest.to_dict().items()))
            if lkey not in lists:
                if kind is ListKind.EASE and ease_fitted is not None and (ease_fitted.lam, ease_fitted.max_items) == (
                        longest.ease_lambda, longest.ease_items):
                    lists[lkey] = ease_lists(data.train, ease_fitted.items, ease_fitted.B, top_n=longest.top_n)
                elif kind is ListKind.EASE:
                    lists[lkey] = ease_neighbours(data.train, lam=longest.ease_lambda, max_items=longest.ease_items, top_n=longest.top_n)
                else:
                    lists[lkey] = basis.neighbours(longest)
            lists[key] = lists[lkey].truncate(p.top_n)
        return lists[key]

    tried: dict[tuple, dict[str, Any]] = {}
    chosen_lists: dict[str, NeighbourParams] = {}

    def candidate_key(w: BlendWeights, lp: dict[str, NeighbourParams]) -> tuple:
        used = {c.name: lp[c.name] for c in w.terms}
        return (json_key(w.to_dict()), json_key({n: p.to_dict() for n, p in sorted(used.items())}))

    def score(w: BlendWeights, lp: dict[str, NeighbourParams], *, stage: str = "sample") -> dict[str, Any]:
        key = candidate_key(w, lp)
        if key in tried:
            return tried[key]
        t = time.perf_counter()
        terms = [(c.weight, cache.term(json_key(lp[c.name].to_dict()), get_lists(c.name, lp[c.name]), c.pop_exponent)) for c in w.terms]
        m = evaluate_model(cache.scorer(w, terms, prior), sample, k=k, k_recall=k_recall)
        row = _row(w, lp, m, metric=metric, k=k, k_recall=k_recall, stage=stage)
        row["score_seconds"] = round(time.perf_counter() - t, 2)
        tried[key] = row
        logger.info(f"[grid] served {row['model']}: {metric} {m[metric]:.4f}, {cov} {m[cov]:.3f} ({row['score_seconds']}s)")
        return row

    alone = {"als": BlendWeights(neighbours=0.0, neighbour_pop_exponent=0.0)}
    score(alone["als"], {})

    # 1. each model alone
    best_single: dict[str, tuple[BlendWeights, dict[str, NeighbourParams]]] = {"als": (alone["als"], {})}

    def best_of(cands: list[tuple[BlendWeights, dict[str, NeighbourParams]]]) -> tuple[BlendWeights, dict[str, NeighbourParams]]:
        return max(cands, key=lambda c: tried[candidate_key(*c)][metric])

    knn_w = BlendWeights(neighbours=1.0, neighbour_pop_exponent=0.0, als=0.0)
    knn = [(knn_w, {NEIGHBOURS: NeighbourParams(top_n=n, shrink=h)}) for h, n in itertools.product(spec.knn_shrink, spec.blend_top_n)]
    for c in knn:
        score(*c)
    for _ in range(spec.max_widen):  # widen shrink past a high edge
        b = best_of(knn)
        h = b[1][NEIGHBOURS].shrink
        if h != max(p[NEIGHBOURS].shrink for _, p in knn) or h == 0:
            break
        extra = [(knn_w, {NEIGHBOURS: replace(p[NEIGHBOURS], shrink=h * 4)}) for _, p in knn if p[NEIGHBOURS].shrink == h]
        for c in extra:
            score(*c)
        knn += extra
    best_single["knn"] = best_of(knn)

    rp3_w = BlendWeights(neighbours=0.0, neighbour_pop_exponent=0.0, als=0.0, components=(Component(RP3BETA, 1.0),))
    rp3: list[tuple[BlendWeights, dict[str, NeighbourParams]]] = []
    for a in spec.rp3_alpha:
        # β in order, per α, until a step falls more than blend_tolerance behind that α's best:
        # β only discounts popular targets further, and on every dataset here the metric fell
        # steadily past its peak (on the 550k-pair playlists β 0.5 and 0.75 were 30–75% behind);
        # each β is a list build (seconds on 30M pairs) and a score per list length
        best_a = -1.0
        for b in sorted(spec.rp3_beta):
            step = [(rp3_w, {RP3BETA: NeighbourParams(top_n=n, user_exponent=a, source_exponent=a, target_exponent=b)})
                    for n in spec.rp3_top_n]
            rp3 += step
            got = max(score(*c)[metric] for c in step)
            if got < best_a * (1.0 - spec.blend_tolerance):
                break
            best_a = max(best_a, got)
    for _ in range(spec.max_widen):  # widen β past a high edge
        b = best_of(rp3)
        beta = b[1][RP3BETA].target_exponent
        if beta != max(p[RP3BETA].target_exponent for _, p in rp3) or beta + 0.25 > 2.0:
            break
        extra = [(rp3_w, {RP3BETA: replace(b[1][RP3BETA], target_exponent=round(beta + 0.25, 6))})]
        for c in extra:
            score(*c)
        rp3 += extra
    best_single[RP3BETA] = best_of(rp3)

    if ease_lambda is not None and spec.ease_top_n:
        ease_w = BlendWeights(neighbours=0.0, neighbour_pop_exponent=0.0, als=0.0, components=(Component(EASE, 1.0),))
        ease = [(ease_w, {EASE: NeighbourParams(top_n=n, kind="ease", ease_lambda=ease_lambda, ease_items=ease_max_items)})
                for n in spec.ease_top_n]
        for c in ease:
            score(*c)
        best_single[EASE] = best_of(ease)

    # 2. blends: coordinate ascent over the weights, from the best single model
    lp = {NEIGHBOURS: best_single["knn"][1][NEIGHBOURS], RP3BETA: best_single[RP3BETA][1][RP3BETA]}
    if EASE in best_single:
        lp[EASE] = best_single[EASE][1][EASE]
    chosen_lists.update(lp)
    top_name = max(best_single, key=lambda n: tried[candidate_key(*best_single[n])][metric])
    current = {"als": 0.0, NEIGHBOURS: 0.0, RP3BETA: 0.0, EASE: 0.0}
    current["als" if top_name == "als" else (NEIGHBOURS if top_name == "knn" else top_name)] = 1.0

    def weights_of(v: dict[str, float], *, beta: float = 0.0, pop: float = 0.0) -> BlendWeights:
        comps = tuple(Component(n, v[n]) for n in (RP3BETA, EASE) if v.get(n) and n in lp)
        return BlendWeights(neighbours=v[NEIGHBOURS], neighbour_pop_exponent=beta, popularity=pop, als=v["als"], components=comps)

    axes = ["als", NEIGHBOURS, RP3BETA] + ([EASE] if EASE in lp else [])
    for _ in range(spec.blend_rounds):
        moved = False
        for axis in axes:
            grid = list(spec.blend_als if axis == "als" else (0.0, *spec.blend_neighbours))
            options: list[tuple[float, float]] = []
            todo = list(grid)
            for _ in range(spec.max_widen + 1):
                for value in todo:
                    v = {**current, axis: value}
                    if any(v[a] for a in axes):
                        options.append((score(weights_of(v), lp)[metric], value))
                best_value = max(options)[1]
                # a term's weight on the grid's high edge: try one step past it
                if axis == "als" or best_value != max(grid) or best_value * 2 > 50:
                    break
                todo = [best_value * 2]
                grid.append(best_value * 2)
            if best_value != current[axis]:
                current[axis], moved = best_value, True
        if not moved:
            break
    beta, pop = 0.0, 0.0
    if current[NEIGHBOURS]:
        beta = max(spec.blend_exponent, key=lambda b: score(weights_of(current, beta=b), lp)[metric])
    pop = max(spec.blend_popularity, key=lambda p: score(weights_of(current, beta=beta, pop=p), lp)[metric])
    best_blend = weights_of(current, beta=beta, pop=pop)

    # 3. refinement on every validation listener with the served formulas
    ranked = sorted(tried.values(), key=lambda r: -r[metric])
    finalists: list[tuple[BlendWeights, dict[str, NeighbourParams]]] = [(best_blend, lp)]
    finalists += list(best_single.values())
    for r in ranked[: spec.refine_top]:
        finalists.append((BlendWeights.from_dict(r["blend"]), {n: NeighbourParams.from_dict(p) for n, p in r["lists"].items()}))
    refined: dict[tuple, dict[str, Any]] = {}
    for w, lpp in finalists:
        key = candidate_key(w, lpp)
        if key in refined:
            continue
        t = time.perf_counter()
        used = {c.name: get_lists(c.name, lpp[c.name]) for c in w.terms} or {NEIGHBOURS: no_lists}
        scorer = BlendScorer(user_factors, item_factors, used, data.train,
                             weights=w, transform=als.weight_transform, epsilon=als.weight_epsilon, clip=als.weight_clip)
        m = evaluate_model(scorer, data, k=k, k_recall=k_recall)
        refined[key] = _row(w, lpp, m, metric=metric, k=k, k_recall=k_recall, stage="validation")
        logger.info(f"[grid] served (all validation listeners) {refined[key]['model']}: {metric} {m[metric]:.4f} "
                    f"({time.perf_counter() - t:.1f}s)")
    rows = list(refined.values())
    top = max(r[metric] for r in rows)
    near = [r for r in rows if r[metric] >= top * (1.0 - spec.blend_tolerance)]
    win = max(near, key=lambda r: (r[cov], r[metric]))
    best = BlendWeights.from_dict(win["blend"])
    win_lists = {n: NeighbourParams.from_dict(p) for n, p in win["lists"].items()}
    neighbours = win_lists.get(NEIGHBOURS, chosen_lists[NEIGHBOURS])
    components = {n: p for n, p in win_lists.items() if n != NEIGHBOURS}
    warnings = []
    if lp[NEIGHBOURS].shrink and lp[NEIGHBOURS].shrink == max(p[NEIGHBOURS].shrink for _, p in knn):
        warnings.append(f"item-kNN shrink={lp[NEIGHBOURS].shrink:g} is on the high edge of the searched values")
    if lp[RP3BETA].target_exponent == max(p[RP3BETA].target_exponent for _, p in rp3):
        warnings.append(f"RP3beta β={lp[RP3BETA].target_exponent:g} is on the high edge of the searched values")
    logger.info(f"[grid] served model chosen: {best.label} ({win[metric]:.4f} on validation)")
    return ServedSearch(
        rows=rows + sorted(tried.values(), key=lambda r: -r[metric]),
        best=best, neighbours=neighbours, components=components, warnings=warnings,
        seconds=time.perf_counter() - start,
    )


def _row(w: BlendWeights, lp: dict[str, NeighbourParams], m: dict[str, float], *, metric: str, k: int, k_recall: int, stage: str) -> dict[str, Any]:
    used = {c.name: lp[c.name] for c in w.terms}
    label = w.label
    if used:
        label += " [" + "; ".join(f"{n}: {p.label}" for n, p in used.items()) + "]"
    return {
        "model": label,
        "stage": stage,
        "blend": w.to_dict(),
        "lists": {n: p.to_dict() for n, p in used.items()},
        # flat copies of the first term's values, as the earlier blend table had them
        "neighbours": w.neighbours, "neighbour_pop_exponent": w.neighbour_pop_exponent,
        "popularity": w.popularity, "als": w.als,
        "top_n": used[NEIGHBOURS].top_n if NEIGHBOURS in used else None,
        metric: m[metric], f"recall@{k_recall}": m[f"recall@{k_recall}"], f"coverage@{k}": m[f"coverage@{k}"],
        "auc": m["auc"], "n_eval_users": m["n_eval_users"],
    }


def json_key(value: Any) -> str:
    """A stable text key of a JSON-ready value."""
    return json.dumps(value, sort_keys=True)
