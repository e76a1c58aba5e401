"""The served model: ALS blended with item–item neighbours and a popularity prior (numpy).

For a listener with fold-in vector ``x`` and history ``{j: r_j}`` (``w_j`` = the bundle's
weight transform of ``r_j``, the same one ALS was trained with), every item ``i`` scores

    score_i = a_i + σ_a · ( w_nb · n_i / σ_n  +  w_pop · p_i / σ_p )

    a_i = y_iᵀx                                   the ALS score
    n_i = d_i · Σ_j w_j · cos(j, i)               over j's top-N neighbours (engine.serving.neighbours)
    d_i = listeners_i^(−β)                        neighbour popularity discount
    p_i = log(1 + listeners_i)                    popularity prior

with ``σ_a, σ_n, σ_p`` the standard deviations of each term over the items that have factors,
per listener. So each signal is standardised before the weights apply (a per-listener constant
shift does not change a ranking and is left out), and the blend is expressed in ALS units:
with both weights 0 the scores *are* the ALS scores, and the re-ranker's novelty / freshness
terms keep their meaning. σ_a costs O(k²), not a pass over the items: with ``G = YᵀY`` and
``s = Σ_i y_i`` over the n items, ``mean = sᵀx / n`` and ``E[a²] = xᵀGx / n``.

The weights (``w_nb``, ``β``, ``w_pop``) are chosen on the validation split by
``python -m engine evaluate --grid`` (engine.evaluation.tuning.search_blend) and recorded in the bundle
manifest as ``params["blend"]``; a bundle without neighbours (or without ``params["blend"]``)
serves ALS alone. Explanations stay per history item: item ``j``'s part of ``score_i`` is its
ALS contribution (Hu–Koren–Volinsky §5) plus ``σ_a·w_nb/σ_n · d_i·w_j·cos(j, i)``; the prior's
part is reported as a ``popularity`` reason.

The same formulas score the evaluation (:class:`engine.evaluation.scorers.BlendScorer`), so the served model is what
``evaluate`` measures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from engine.serving.groups import group_by_item
from engine.serving.neighbours import NEIGHBOURS, ItemNeighbours, segment_positions


@dataclass(frozen=True)
class Component:
    """One item–item term of the blend beyond the first: which lists, its weight, its discount.

    ``name`` picks the bundle's lists (``extra/<name>_*.npy``, built as ``params["components"]
    [name]`` says: item-kNN, RP3beta or EASE, :class:`~engine.serving.neighbours.NeighbourParams`).
    """

    name: str
    weight: float
    pop_exponent: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for manifests)."""
        return asdict(self)


@dataclass(frozen=True)
class BlendWeights:
    """Blend weights (``params["blend"]`` in the manifest).

    Attributes
    ----------
    neighbours : float
        ``w_nb``, weight of the standardised score of the first lists (``params["neighbours"]``;
        0: not used).
    neighbour_pop_exponent : float
        ``β`` of that term's discount ``listeners^(−β)``: higher favours less-played items.
    popularity : float
        ``w_pop``, weight of the standardised log-listener prior (negative: a penalty).
    als : float
        Weight of the ALS score itself (1: the blend is ALS plus the other terms; 0: the served
        model is the item–item terms alone, still expressed in ALS units).
    components : tuple of Component
        Further item–item terms (RP3beta, EASE, a second item-kNN), each standardised like the first.
    """

    # Defaults for data nobody tuned on: better than ALS alone on both HetRec and the demo
    # listeners (measured; `evaluate --grid` chooses per dataset, e.g. 0.4 / 0.7 on HetRec).
    neighbours: float = 0.2
    neighbour_pop_exponent: float = 0.35
    popularity: float = 0.0
    als: float = 1.0
    components: tuple[Component, ...] = ()

    @property
    def terms(self) -> tuple[Component, ...]:
        """Every item–item term with a non-zero weight, the first lists named ``neighbours``."""
        first = Component(NEIGHBOURS, self.neighbours, self.neighbour_pop_exponent)
        return tuple(c for c in (first, *self.components) if c.weight != 0.0)

    @property
    def active(self) -> bool:
        """True when the blend changes anything over ALS alone."""
        return bool(self.terms) or self.popularity != 0.0 or self.als != 1.0

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "BlendWeights":
        """From a manifest / best_params block; raises ``ValueError`` naming a bad field."""

        def number(key: str, value: Any) -> float:
            try:
                out = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"blend.{key}={value!r} is not a number") from None
            if not np.isfinite(out):
                raise ValueError(f"blend.{key}={value!r} is not finite")
            return out

        values = values or {}
        out: dict[str, Any] = {k: number(k, v) for k, v in values.items() if k in cls.__dataclass_fields__ and k != "components"}
        parts = []
        for n, c in enumerate(values.get("components") or ()):
            if not isinstance(c, Mapping) or not isinstance(c.get("name"), str) or not c["name"]:
                raise ValueError(f"blend.components[{n}]={c!r} needs a name")
            parts.append(Component(c["name"], number(f"components[{n}].weight", c.get("weight", 0.0)),
                                   number(f"components[{n}].pop_exponent", c.get("pop_exponent", 0.0))))
        names = [NEIGHBOURS, *(c.name for c in parts)]
        if len(set(names)) != len(names):
            raise ValueError(f"blend.components name a list twice: {names}")
        return cls(**out, components=tuple(parts))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for manifests)."""
        return {**{k: getattr(self, k) for k in ("neighbours", "neighbour_pop_exponent", "popularity", "als")},
                "components": [c.to_dict() for c in self.components]}

    @property
    def label(self) -> str:
        """The served model in words, e.g. ``ALS + neighbours 0.4 (β 0.7)``."""
        parts = [] if self.als == 0 else (["ALS"] if self.als == 1 else [f"ALS ×{self.als:g}"])
        parts += [f"{c.name} {c.weight:g}" + (f" (β {c.pop_exponent:g})" if c.pop_exponent else "") for c in self.terms]
        if self.popularity:
            parts.append(f"popularity {self.popularity:+g}")
        return " + ".join(parts) or "nothing"


ALS_ONLY = BlendWeights(neighbours=0.0, neighbour_pop_exponent=0.0, popularity=0.0)


def als_std(x: np.ndarray, gram: np.ndarray, factor_sum: np.ndarray, n: int) -> np.ndarray:
    """Standard deviation of ``Y @ x`` over the ``n`` rows of ``Y`` from ``G = YᵀY`` and
    ``s = Σ y_i`` alone (``x``: ``[k]`` or ``[users, k]``). Zero spread gives 1 (no scaling)."""
    x = np.asarray(x, dtype=np.float64)
    # einsum's own loops rather than BLAS for these tiny products (see sparse_std).
    second = np.einsum("...i,ij,...j->...", x, gram, x) / max(1, n)
    mean = np.einsum("...i,i->...", x, factor_sum) / max(1, n)
    var = second - mean * mean
    return np.where(var > 1e-24, np.sqrt(np.maximum(var, 0.0)), 1.0)


def pop_discount(listeners: np.ndarray, exponent: float) -> np.ndarray:
    """``listeners^(−β)`` per item, 0 for items nobody played (a term's target discount)."""
    listeners = np.asarray(listeners, dtype=np.float64)
    out = np.zeros(len(listeners))
    played = listeners > 0
    out[played] = listeners[played] ** -exponent
    return out


def sparse_std(values: np.ndarray, n: int) -> float:
    """Standard deviation over ``n`` items of a vector that is ``values`` on a few and 0 elsewhere."""
    n = max(1, n)
    mean = float(values.sum()) / n
    # Elementwise, not ``values @ values``: a BLAS dot may wait for its helper threads, which
    # on a busy host costs milliseconds (see engine.serving.foldin.one_blas_thread).
    var = float(np.square(values).sum()) / n - mean * mean
    return float(np.sqrt(var)) if var > 1e-24 else 1.0


@dataclass(frozen=True)
class UserBlend:
    """One listener's blend terms (see the module docstring).

    ``nb_items`` (sorted) / ``nb_values`` are the non-zero item–item bonuses, every term's
    coefficient already applied; ``src``, ``tgt``, ``val`` the per-(history position, item) parts
    of them (coefficients applied too), kept for explanations. With ``starts`` the parts are in
    item order and ``nb_items[j]``'s are ``starts[j]:starts[j + 1]``. The served score of item
    ``i`` is ``als_weight · a_i + bonus(i)``.
    """

    als_scale: float
    als_weight: float
    pop_coef: float
    nb_items: np.ndarray
    nb_values: np.ndarray
    src: np.ndarray
    tgt: np.ndarray
    val: np.ndarray
    prior: np.ndarray
    starts: np.ndarray | None = None

    def bonus(self, items: np.ndarray) -> np.ndarray:
        """``score − als_weight · a`` of the given item indices (float64)."""
        items = np.asarray(items, dtype=np.int64)
        out = np.zeros(len(items))
        if len(self.nb_items):
            at = np.searchsorted(self.nb_items, items)
            at_c = np.minimum(at, len(self.nb_items) - 1)
            hit = self.nb_items[at_c] == items
            out[hit] = self.nb_values[at_c[hit]]
        if self.pop_coef:
            out += self.pop_coef * self.prior[items]
        return out

    def score(self, als_scores: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The served scores of ``items`` from their ALS scores ``a``."""
        return self.als_weight * np.asarray(als_scores, dtype=np.float64) + self.bonus(items)

    def contributions(self, items: np.ndarray, n_history: int) -> np.ndarray:
        """``[len(items), n_history]`` item–item part of each history item's contribution."""
        items = np.asarray(items, dtype=np.int64)
        out = np.zeros((len(items), n_history))
        if not len(self.tgt) or not len(items):
            return out
        if self.starts is None:
            # Many entries for the catalogue (a long history; they are not in item order): a
            # dense item -> row map; the first of repeated items gets the part, as below.
            row = np.full(len(self.prior), -1, dtype=np.int64)
            row[items[::-1]] = np.arange(len(items) - 1, -1, -1)
            at = row[self.tgt]
            hit = at >= 0
            np.add.at(out, (at[hit], self.src[hit]), self.val[hit])
            return out
        # The parts of each asked item are one slice of the item-ordered entries.
        at = np.minimum(np.searchsorted(self.nb_items, items), len(self.nb_items) - 1)
        first = np.zeros(len(items), dtype=bool)
        first[np.unique(items, return_index=True)[1]] = True
        rows = np.flatnonzero((self.nb_items[at] == items) & first)
        lo = self.starts[at[rows]]
        lengths = self.starts[at[rows] + 1] - lo
        flat = segment_positions(lo, lengths)
        np.add.at(out, (np.repeat(rows, lengths), self.src[flat]), self.val[flat])
        return out

    def popularity_part(self, items: np.ndarray) -> np.ndarray:
        """The prior's part of the score of each item."""
        return self.pop_coef * self.prior[np.asarray(items, dtype=np.int64)] if self.pop_coef else np.zeros(len(items))


class Blend:
    """Per-bundle precomputation of the blend (built once; thread-safe, read-only).

    Parameters
    ----------
    weights : BlendWeights
        The blend weights.
    lists : ItemNeighbours or mapping of name -> ItemNeighbours
        The item–item lists of every term of ``weights`` (rows = item indices; one
        ``ItemNeighbours`` is the ``neighbours`` lists). All share one ``listeners`` array.
    gram : numpy.ndarray
        ``YᵀY`` over the scored items, ``[rank, rank]``.
    factor_sum : numpy.ndarray
        ``Σ y_i`` over the scored items.
    scored : numpy.ndarray
        bool ``[n_items]``: the items the standard deviations run over (items with factors).
    """

    def __init__(
        self,
        weights: BlendWeights,
        lists: ItemNeighbours | Mapping[str, ItemNeighbours],
        *,
        gram: np.ndarray,
        factor_sum: np.ndarray,
        scored: np.ndarray,
    ) -> None:
        self.weights = weights
        self.lists = {NEIGHBOURS: lists} if isinstance(lists, ItemNeighbours) else dict(lists)
        missing = [c.name for c in weights.terms if c.name not in self.lists]
        if missing:
            raise ValueError(f"the blend weighs lists the bundle does not have: {', '.join(missing)}")
        self.gram = np.asarray(gram, dtype=np.float64)
        self.factor_sum = np.asarray(factor_sum, dtype=np.float64)
        self.n_scored = int(np.count_nonzero(scored))
        listeners = np.asarray(next(iter(self.lists.values())).listeners, dtype=np.float64)
        #: each term's discount listeners^(−β) of the target item
        self.discounts = {c.name: pop_discount(listeners, c.pop_exponent) for c in weights.terms}
        self.prior = np.log1p(listeners)
        self.prior_std = float(self.prior[scored].std()) if self.n_scored else 1.0
        if not self.prior_std > 0:
            self.prior_std = 1.0

    @property
    def neighbours(self) -> ItemNeighbours | None:
        """The first lists (``neighbours``), when the bundle has them."""
        return self.lists.get(NEIGHBOURS)

    @classmethod
    def from_bundle_parts(
        cls, params: Mapping[str, Any], extra: Mapping[str, np.ndarray], *, factors: np.ndarray,
        gram: np.ndarray, scored: np.ndarray,
    ) -> "Blend | None":
        """The bundle's blend, or None when it serves ALS alone (no ``params["blend"]``, no
        neighbour arrays, or weights that change nothing)."""
        if "blend" not in params:
            return None
        weights = BlendWeights.from_dict(params["blend"])
        if not weights.active:
            return None
        lists = {}
        for name in {NEIGHBOURS, *(c.name for c in weights.terms)}:
            found = ItemNeighbours.from_extra(extra, len(scored), name)
            if found is not None:
                lists[name] = found
        if not lists:
            return None
        if any(c.name not in lists for c in weights.terms):
            raise ValueError(
                "params.blend weighs lists the bundle lacks: "
                + ", ".join(c.name for c in weights.terms if c.name not in lists)
            )
        rows = np.flatnonzero(scored)
        factor_sum = np.zeros(factors.shape[1])
        for lo in range(0, len(rows), 65_536):  # in blocks: no float64 copy of a 600k matrix
            factor_sum += np.asarray(factors[rows[lo : lo + 65_536]], dtype=np.float64).sum(axis=0)
        return cls(weights, lists, gram=gram, factor_sum=factor_sum, scored=scored)

    def for_user(self, x: np.ndarray, items: np.ndarray, weights: np.ndarray) -> UserBlend:
        """One listener's terms from their fold-in ``x`` and history (item indices, transformed weights)."""
        items = np.asarray(items, dtype=np.int64)
        hist_w = np.asarray(weights, dtype=np.float64)
        sigma_a = float(als_std(x, self.gram, self.factor_sum, self.n_scored))
        parts = []
        for c in self.weights.terms:
            lengths, tgt, cosines = self.lists[c.name].gather(items)
            if not len(tgt):
                continue
            groups = group_by_item(tgt, len(self.prior))
            # Each term's entries are taken in its groups' order before the values are formed:
            # the discounts are then read at ascending items, not scattered over the catalogue
            # (the pass has just evicted them from the cache), and one term needs no reordering
            # after. Same products, same sums bit for bit (a stable grouping keeps each item's
            # entries in input order, in every term and across terms).
            src = groups.take(np.repeat(np.arange(len(items)), lengths))
            tgt, cosines = groups.take(tgt), groups.take(cosines)
            val = hist_w[src] * cosines * self.discounts[c.name][tgt]
            coef = sigma_a * c.weight / sparse_std(groups.sums_taken(val), self.n_scored)
            parts.append((src, tgt, coef * val, groups))
        if len(parts) == 1:  # one term: its grouping is the blend's, its entries in its order
            src, tgt, val, groups = parts[0]
            nb_values = groups.sums_taken(val)
        else:
            src = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
            tgt = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
            val = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0)
            groups = group_by_item(tgt, len(self.prior))
            nb_values = groups.sums(val)
            # keep the parts in item order: explanations slice them
            src, tgt, val = groups.take(src), groups.take(tgt), groups.take(val)
        pop_coef = sigma_a * self.weights.popularity / self.prior_std
        return UserBlend(sigma_a, self.weights.als, pop_coef, groups.items, nb_values, src, tgt, val, self.prior,
                         starts=groups.starts)

    def start(self, user: UserBlend, n_positions: int, *, item2pos: np.ndarray | None) -> np.ndarray | None:
        """float32 scores to start a listener's pass from (``Scan.scores(x, start=...)``): the
        neighbour bonuses at their positions, 0 elsewhere; :meth:`add_to` with ``started``
        then adds the rest. Bit for bit the scores :meth:`add_to` alone gives. None when there
        are no bonuses, or when the ALS part is scaled (``als_weight`` ≠ 1: the scaling comes
        before the bonuses there, and a pass cannot scale only its own part)."""
        if not len(user.nb_items) or user.als_weight != 1.0:
            return None
        out = np.zeros(n_positions, dtype=np.float32)
        if item2pos is None:  # positions are items: written, not added (0 + v is v), no mask
            out[user.nb_items] = user.nb_values
        else:
            self._add_neighbours(out, user, item2pos)
        return out

    def add_to(self, scores: np.ndarray, user: UserBlend, *, item2pos: np.ndarray | None, prior_scan: np.ndarray | None,
               started: bool = False) -> None:
        """Turn a listener's ``Y @ x`` scores (positions of the scan) into served scores, in place
        (``started``: the pass began from :meth:`start`, so the neighbour bonuses are in)."""
        if user.als_weight != 1.0:
            scores *= scores.dtype.type(user.als_weight)
        if not started:
            self._add_neighbours(scores, user, item2pos)
        if user.pop_coef and prior_scan is not None:
            scores += np.float32(user.pop_coef) * prior_scan

    @staticmethod
    def _add_neighbours(scores: np.ndarray, user: UserBlend, item2pos: np.ndarray | None) -> None:
        if len(user.nb_items):
            pos = user.nb_items if item2pos is None else item2pos[user.nb_items]
            ok = pos >= 0
            scores[pos[ok]] += user.nb_values[ok].astype(scores.dtype)
