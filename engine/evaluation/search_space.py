"""The search space of ``evaluate --grid``: ALS, EASE λ and the served model's candidates.

One frozen dataclass, :class:`GridSpec`, read by the ALS grid (:mod:`engine.evaluation.tuning`)
and the served-model search (:mod:`engine.evaluation.served_search`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.training.als import AlsParams


def _default_alpha() -> dict[str, tuple[float, ...]]:
    return {"raw": (0.03, 0.3), "log1p": (3.0, 15.0), "binary": (1.0, 3.0), "clip": (0.1, 1.0)}


@dataclass(frozen=True)
class GridSpec:
    """The search space. ``alpha`` maps each weight transform to its alpha values."""

    rank: tuple[int, ...] = (32, 64, 128)
    #: Widening never goes past this rank: Spark's ALS solves a rank×rank system per row and
    #: iteration, so on 2 cores a rank-256 fit on 550k pairs takes over 20 minutes (raise it
    #: on a cluster). A best point at the cap is reported as a warning.
    max_rank: int = 128
    reg_param: tuple[float, ...] = (0.03, 0.3)
    alpha: Mapping[str, tuple[float, ...]] = field(default_factory=_default_alpha)
    max_iter: tuple[int, ...] = (10,)
    ease_lambda: tuple[float, ...] = (30.0, 100.0, 300.0, 1000.0)
    #: Served-model search (engine.evaluation.served_search; empty ``blend_neighbours``: none).
    #: Weights tried for each item–item term, and for ALS, in the blend's coordinate ascent.
    blend_neighbours: tuple[float, ...] = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
    blend_als: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
    blend_exponent: tuple[float, ...] = (0.0, 0.35, 0.7)
    blend_popularity: tuple[float, ...] = (-0.1, 0.0, 0.1)
    blend_rounds: int = 3
    #: item-kNN list lengths (the bundle holds 8 bytes per neighbour per played item) and shrinks.
    blend_top_n: tuple[int, ...] = (50, 100, 200)
    knn_shrink: tuple[float, ...] = (0.0, 10.0, 50.0)
    #: RP3beta: α (transition exponent), β (popularity exponent), list lengths.
    rp3_alpha: tuple[float, ...] = (0.5, 0.75, 1.0)
    rp3_beta: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
    rp3_top_n: tuple[int, ...] = (100, 200)
    #: EASE served from its largest weights: list lengths (empty: EASE is not a candidate).
    ease_top_n: tuple[int, ...] = (200, 500)
    #: Validation listeners of the first pass (0: all); the best ``refine_top`` candidates and
    #: every single model's best are then scored on all of them.
    search_users: int = 2000
    refine_top: int = 4
    #: ALS first pass: listeners of the sample (0: no first pass, every point on all of them)
    #: and how many of its best points are fitted again on all validation listeners.
    first_pass_users: int = 2000
    first_pass_keep: int = 3
    #: ... of which only those within this relative distance of the sample's best: the first pass
    #: scores every point on the same listeners, so its order is a paired comparison (on the
    #: 550k-pair playlists the second point was 5% behind on the sample and 5% behind on all
    #: listeners; refitting it cost a full fit and changed nothing).
    first_pass_within: float = 0.03
    #: The rank of the first pass (0: the grid's smallest; widening is screened at the middle). Spark
    #: solves one rank×rank system per item and iteration, whatever the number of listeners, so
    #: a sample of listeners barely shortens a fit over tens of thousands of items; a lower rank
    #: does (the solve is cubic in it). λ and α are chosen there, rank on all listeners.
    first_pass_rank: int = 0
    #: Sample fits run this many at a time (threads on one SparkSession). A small fit leaves
    #: cores idle between its stages, so two overlap: on the 2-core machine, 4 rank-64 sample
    #: fits took 161 s two at a time against 230 s one after the other (scratch measurement at
    #: load ~10). The seeds and the rank ladder on all listeners also run this many at a time
    #: (or ``parallelism``, if higher); other fits on all listeners use ``parallelism``.
    first_pass_parallelism: int = 2
    #: A widening step screened on the sample is fitted on all listeners only when it beats the
    #: best point there by this relative margin (on the 550k-pair playlists, 20 iterations beat
    #: 10 by 0.7% on the sample and lost on all listeners, after a 5-minute fit).
    screen_margin: float = 0.01
    blend_tolerance: float = 0.01
    metric: str = "ndcg@10"
    max_widen: int = 6
    parallelism: int = 1
    #: False: ALS is not searched (the given parameters are fitted once on the validation
    #: split) and only the served model is chosen, what ``evaluate`` does without ``--grid``.
    als_grid: bool = True

    def points(self, base: "AlsParams") -> list["AlsParams"]:
        """Every grid point as AlsParams (other fields from ``base``); just ``base`` without an ALS grid."""
        if not self.als_grid:
            return [base]
        out = []
        for transform, alphas in self.alpha.items():
            for rank, reg, alpha, iters in itertools.product(self.rank, self.reg_param, alphas, self.max_iter):
                out.append(replace(base, rank=rank, reg_param=reg, alpha=alpha, weight_transform=transform, max_iter=iters))
        return out
