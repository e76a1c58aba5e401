"""``python -m engine evaluate``: the served model, ALS and the baselines on one held-out split.

The served model is chosen on a validation split carved from the training part (ALS as
configured; the item–item terms and blend weights searched), unless ``models/best_params.json``
already holds this dataset's choice or ``--no-search`` is given. ``--grid`` also tunes ALS and
EASE λ and writes the choice to ``models/best_params.json``, which ``train`` serves. The work is
done by :mod:`engine.evaluation.protocol`.
``--listeners hetrec,hetrec-plays,demo`` runs the real-listener evaluation instead (no Spark:
:mod:`engine.evaluation.listeners`); Spotify exports are evaluated by ``scripts/evaluate_listeners.py``.
``--continuation [--data playlists,hetrec,demo]`` evaluates playlist continuation as the RecSys
Challenge 2018 does (:mod:`engine.evaluation.continuation`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.core.config import WEIGHT_TRANSFORMS, Settings
from engine.core.errors import InputError
from engine.evaluation.continuation import (
    CONTINUATION_DATA,
    SEEDS,
    evaluate_continuation,
    load_playlists,
    write_continuation_reports,
)
from engine.evaluation.continuation import DEFAULT_PLAYLISTS as CONTINUATION_PLAYLISTS
from engine.evaluation.continuation import N_TEST as CONTINUATION_TEST
from engine.evaluation.datasets import load_dataset
from engine.evaluation.listener_cases import CASE_SETS
from engine.evaluation.listeners import K, run_listener_evaluation, write_listener_reports
from engine.evaluation.protocol import evaluate
from engine.evaluation.report import store_in_current_bundle, write_report
from engine.evaluation.reproduction import reproduce_book
from engine.evaluation.search_space import GridSpec
from engine.evaluation.tuning import save_kmeans_selection, select_kmeans_k
from engine.ingest.playlists_synthetic import DEFAULT_PLAYLISTS
from engine.serving.blend import BlendWeights
from engine.spark.session import get_spark
from engine.training.als import AlsParams
from engine.training.params import BEST_PARAMS_FILE, ServedChoice, load_best_params, write_best_params

# -- CLI -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine evaluate``."""
    parser.add_argument("--data", default=None, help="hetrec | hetrec-binary (HetRec, every weight 1.0) | audioscrobbler | "
                        "demo | playlists (synthetic playlist-shaped benchmark, generated on the fly) | PATH to "
                        "interactions parquet (default: data/parquet/interactions if present, else demo)")
    parser.add_argument("--playlists", type=int, default=None,
                        help=f"size of --data playlists (default {DEFAULT_PLAYLISTS:,} playlists, ~550k pairs; "
                        f"{CONTINUATION_PLAYLISTS:,} with --continuation, which trains a bundle on them)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder of the raw datasets (default: data/raw, then SHARED_DATA_DIR)")
    parser.add_argument("--split", choices=("holdout", "time"), default="holdout", help="per-listener random or time split")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--k", type=int, default=10, help="list length for NDCG/precision/MAP/coverage")
    parser.add_argument("--grid", action="store_true", help="tune ALS (+ EASE λ, KMeans k) on a validation split first")
    parser.add_argument("--no-search", action="store_true",
                        help="evaluate the configured served model as it is (default: choose it on a validation split "
                             "unless best_params.json holds this dataset's choice)")
    parser.add_argument("--max-widen", type=int, default=6, help="rounds of widening a grid whose best point is on its edge")
    parser.add_argument("--parallelism", type=int, default=1, help="grid points fitted at once")
    parser.add_argument("--kmeans-k", default="4:24:2", help="KMeans k range start:stop:step for the silhouette search")
    parser.add_argument("--reproduce-book", action="store_true", help="also run the Advanced Analytics with Spark ch. 3 protocol")
    parser.add_argument("--out", type=Path, default=None, help="report directory (default data/reports)")
    parser.add_argument("--store", action="store_true", help="store the summary in the current bundle's manifest")
    for flag, typ in (("--rank", int), ("--reg-param", float), ("--alpha", float), ("--max-iter", int)):
        parser.add_argument(flag, type=typ, default=None, help="ALS override")
    parser.add_argument("--weight-transform", choices=WEIGHT_TRANSFORMS, default=None, help="ALS override")
    parser.add_argument("--ease-lambda", type=float, default=100.0)
    parser.add_argument("--ease-items", type=int, default=8000, help="EASE's item subset size N")
    parser.add_argument("--neighbours", type=int, default=100, help="item-kNN neighbours per item")
    parser.add_argument("--listeners", default=None, metavar="NAMES",
                        help=f"real-listener evaluation through the app's path instead: comma-separated {', '.join(CASE_SETS)} "
                        "(exports: scripts/evaluate_listeners.py)")
    parser.add_argument("--bundle", type=Path, default=None,
                        help="--listeners: the bundle to serve (default: the serving bundle, else models/demo)")
    parser.add_argument("--top", type=int, default=K, help=f"--listeners: list length (default {K})")
    parser.add_argument("--dials", default="", help="--listeners: also the blend at these discovery settings, e.g. 0,0.2,0.6,1")
    parser.add_argument("--continuation", action="store_true",
                        help="playlist continuation as the RecSys Challenge 2018 evaluates it; --data takes a "
                        f"comma-separated list of {', '.join(CONTINUATION_DATA)} (default: all; a missing one is skipped)")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)),
                        help="--continuation: seed sizes (the first k items of each test playlist)")
    parser.add_argument("--test-playlists", type=int, default=CONTINUATION_TEST,
                        help=f"--continuation: validation and test playlists each (default {CONTINUATION_TEST}, "
                        "at most 15%% of the playlists)")
    parser.add_argument("--blend-neighbours", type=float, default=None,
                        help="served blend: weight of the neighbour score (0: ALS alone); default: tuned or built in")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run the evaluation and write the report."""
    if args.listeners:
        return _listeners(args, settings)
    if args.continuation:
        return _continuation(args, settings)
    spark = get_spark(settings, app_name="evaluate")
    name = args.data or (
        str(settings.parquet_dir / "interactions") if (settings.parquet_dir / "interactions").exists() else "demo"
    )
    dataset = load_dataset(spark, settings, name, data_dir=args.data_dir, n_playlists=args.playlists or DEFAULT_PLAYLISTS)
    saved, params, served = _saved_choice(args, settings, dataset.name)
    blend, neighbour_params = served.blend, served.neighbours
    # the served model is chosen on validation unless it was chosen for this data already
    # (best_params.json) or is given on the command line
    search = not (args.no_search or "blend" in saved)
    if args.blend_neighbours is not None:
        blend = BlendWeights(args.blend_neighbours, blend.neighbour_pop_exponent, blend.popularity)
        search = False
    grid = GridSpec(max_widen=args.max_widen, parallelism=args.parallelism) if args.grid else None
    report = evaluate(
        spark,
        settings,
        dataset=dataset,
        params=params,
        split=args.split,
        seed=args.seed,
        k=args.k,
        ease_lambda=args.ease_lambda,
        ease_max_items=args.ease_items,
        knn_neighbours=args.neighbours,
        grid=grid,
        blend=blend,
        neighbour_params=neighbour_params,
        components=served.components,
        search=search,
    )
    if args.grid:
        kmeans = None
        tracks = settings.parquet_dir / "tracks"
        if tracks.exists():
            start, stop, step = (int(v) for v in args.kmeans_k.split(":"))
            kmeans = select_kmeans_k(spark.read.parquet(str(tracks)), k_values=range(start, stop + 1, step))
            save_kmeans_selection(settings, kmeans)
            report.kmeans = kmeans
        else:
            report.notes.append(f"KMeans k not searched: no tracks parquet at {tracks}")
        path = write_best_params(
            settings, als=report.params, kmeans_k=kmeans["best_k"] if kmeans else None,
            meta={"dataset": report.dataset, "split": report.protocol["split"], "metric": "ndcg@10"},
            blend=report.params["blend"], neighbours=report.params["neighbours"],
            components=report.params.get("components", {}), selection=report.served_selection(),
        )
        print(f"[evaluate] chosen parameters written to {path}")
    if args.reproduce_book:

        report.book = reproduce_book(spark, settings, dataset=dataset, seed=args.seed)
    json_path, md_path = write_report(report, args.out or settings.data_dir / "reports")
    print(report.to_markdown())
    print(f"[evaluate] report written to {json_path} and {md_path}")
    if args.store:
        print(f"[evaluate] stored in bundle {store_in_current_bundle(settings, report)}")
    return 0


def _listeners(args: argparse.Namespace, settings: Settings) -> int:
    names = [n.strip() for n in args.listeners.split(",") if n.strip()]
    reports = run_listener_evaluation(settings, names, bundle_dir=args.bundle, data_dir=args.data_dir,
                                      seed=args.seed, k=args.top, dials=_dials(args.dials))
    for report in reports:
        print(report.to_markdown())
    json_path, md_path = write_listener_reports(reports, args.out or settings.data_dir / "reports")
    print(f"[evaluate] report written to {json_path} and {md_path}")
    return 0


def _continuation(args: argparse.Namespace, settings: Settings) -> int:
    names = [n.strip() for n in (args.data or ",".join(CONTINUATION_DATA)).split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTINUATION_DATA]
    if unknown:
        raise InputError(f"--continuation --data {','.join(unknown)}: expected some of {', '.join(CONTINUATION_DATA)}")
    seeds = _ints(args.seeds, "--seeds")
    n_playlists = args.playlists or CONTINUATION_PLAYLISTS
    spark = get_spark(settings, app_name="evaluate-continuation")
    reports = []
    for name in names:
        try:
            data = load_playlists(name, settings, data_dir=args.data_dir, n_playlists=n_playlists, seed=args.seed)
        except InputError as exc:  # a dataset that is not here is skipped with the reason, the rest goes on
            print(f"[evaluate] {name} skipped: {exc}")
            continue
        _, params, served = _saved_choice(args, settings, name)
        report = evaluate_continuation(spark, settings, data, params=params, served=served, seeds=seeds,
                                       n_test=args.test_playlists, seed=args.seed)
        print(report.to_markdown())
        reports.append(report)
    if not reports:
        raise InputError("no continuation dataset could be read (see the lines above)")
    json_path, md_path = write_continuation_reports(reports, args.out or settings.data_dir / "reports")
    print(f"[evaluate] report written to {json_path} and {md_path}")
    return 0


def _saved_choice(args: argparse.Namespace, settings: Settings, dataset: str) -> tuple[dict[str, Any], AlsParams, ServedChoice]:
    """The choice ``evaluate --grid`` saved in ``best_params.json`` for ``dataset`` (empty when it
    was made on other data: then the settings, as ``engine train`` would use), the ALS parameters
    it gives with the command line's overrides on top, and its served model."""
    saved = load_best_params(settings) or {}
    if saved.get("meta", {}).get("dataset") != dataset:
        saved = {}
    overrides = {k: getattr(args, k) for k in ("rank", "reg_param", "alpha", "max_iter", "weight_transform")}
    params = AlsParams.from_settings(settings, **{**saved, **{k: v for k, v in overrides.items() if v is not None}})
    try:
        served = ServedChoice.from_params(saved)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{settings.models_dir / BEST_PARAMS_FILE}: {exc}") from None
    return saved, params, served


def _ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise InputError(f"{flag} {text!r}: expected positive whole numbers separated by commas")
    return values


def _dials(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--dials {text!r}: expected numbers in [0, 1] separated by commas") from None
