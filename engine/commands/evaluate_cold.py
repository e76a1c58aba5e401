"""Hybrid similar songs for cold tracks: ALS cosine blended with content similarity.

Serving (numpy only; :func:`engine.serving.hybrid.similar_items` calls it for ``Recommender.similar``)::

    sim(q, i)     = w·cos(y_q, y_i) + (1 − w)·content(q, i),     w = β·t_q·t_i
    t             = n / (n + shrink) for an item with n listeners (0 without ALS factors)
    content(q, i) = weighted mean of the available signals: audio cosine (standardized
                    features), genre overlap |G_q ∩ G_i| / sqrt(|G_q|·|G_i|), same artist (1/0)

so a well-played pair is judged by who listens to it and a track with few or no listeners
by how it sounds, which genres it has and who made it. A signal is "available" when both
sides have it (audio features; at least one genre); a pair with neither factors nor any
content signal is not ranked.

Choosing the weights: :func:`evaluate_cold_items`, ``python -m engine.serving.hybrid``. Protocol
(cold-item split, fixed seed):

1. Items with at least ``min_listeners`` listeners are eligible; ``n_cold`` of them are drawn.
   Half keep ``few`` of their listeners in training (a track with few interactions), half
   keep none (a new track); all their other interactions are held out. The drawn items are
   split again into a tuning half and a test half.
2. ALS is trained on what is left (the bundle's parameters).
3. Ground truth for a held-out item ``c``: the items most co-listened with it *by its held-out
   listeners* — top ``k`` by Jaccard of ``c``'s held-out listener set with each other item's
   training listener set, at least 2 shared listeners. Drawn items are never candidates.
4. Each method ranks all other items for ``c``; recall@k = hits / min(k, |truth|).
   ALS alone = factor cosine (nothing for an item without factors), content alone, hybrid.
5. Weights = the grid point with the best mean recall@20 on the tuning half (both groups
   averaged); the numbers reported are on the test half.

Measured (``python -m engine.serving.hybrid --data demo|hetrec``; 400 cold items, 200 tuning, 200
test; ALS rank 32, 10 iterations, binary weights; recall@20 on the test half)::

    data                             group    ALS alone  content  hybrid  popularity    n
    demo (synthetic, 1.5k x 6.1k)    few=2      0.165     0.216    0.281     0.010     105
                                     new        0.000     0.245    0.245     0.011      95
    HetRec 2011 Last.fm artists      few=2      0.042     0.115    0.068     0.036     105
    (1.9k users x 17.6k artists)     new        0.000     0.131    0.131     0.031      95

Demo tuning chose β=1.0, shrink=2, audio 0.25, genre 1, artist 1 (:data:`DEFAULT_WEIGHTS`;
the content mix and shrink are what serving uses — β comes from ``Recommender``'s
``similar_factor_weight``, 0.7 by default, which the demo tuning would raise to 1.0). The demo
listeners are synthetic and were drawn from genre/sound/artist neighbourhoods, so content helps
there by construction. HetRec is the real-data check, with genres only (from the 160k-tracks
artist genres, matched by name: 26% of all artists, 71% of those with 8+ listeners): there, tuning picked β=0.3 and
shrink=20 (the grid's most content-leaning corner), and content alone still beat the hybrid on
2-listener artists (0.115 vs 0.068) — two listeners give ALS factors that are mostly noise.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace
from pathlib import Path

from engine.core.config import Settings
from engine.evaluation.cold_items import (
    demo_inputs,
    hetrec_inputs,
    run_cold_evaluation,
)
from engine.spark.session import get_spark
from engine.training.als import AlsParams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m engine evaluate-cold``."""
    parser.add_argument("--data", choices=("demo", "hetrec"), default="demo",
                        help="demo listeners (track level) or Last.fm HetRec (artist level)")
    parser.add_argument("--shared-data", type=Path, default=None,
                        help="folder with the HetRec files (default: SHARED_DATA_DIR)")
    parser.add_argument("--n-cold", type=int, default=400, help="cold items to hide (half tune, half test)")
    parser.add_argument("--rank", type=int, default=32)


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Print the cold-item evaluation table and the tuned hybrid weights."""
    spark = get_spark(settings, app_name="evaluate-cold")
    params = replace(AlsParams.from_settings(settings), rank=args.rank, weight_transform="binary")
    if args.data == "demo":
        pairs, items, audio = demo_inputs(settings)
        report = run_cold_evaluation(spark, pairs, items, audio=audio, params=params, n_cold=args.n_cold)
    else:
        pairs, items = hetrec_inputs(args.shared_data or settings.shared_data_dir)
        report = run_cold_evaluation(spark, pairs, items, audio=None, params=params, item_col="artist_id", n_cold=args.n_cold)
    print(report.table())
    print(f"weights: {asdict(report.weights)}; tune recall@{report.k} {report.tune_recall:.3f}; {report.seconds}s")
    return 0
