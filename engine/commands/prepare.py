"""``python -m engine prepare``: everything ``make run`` needs before the app starts.

1. the catalogue sample shipped in ``data/sample/`` -> canonical parquet (if missing);
2. the synthetic demo listeners -> ``data/parquet/interactions_demo`` (if missing);
3. a first model trained with Spark, evaluated on a held-out split of the demo listeners
   (the table the Model page shows) and published (if ``models/CURRENT`` is missing), without
   the artist factors: they would be learnt from synthetic listeners
   (:func:`engine.training.sources.without_synthetic_artist_factors`).

Each step runs only when its output is missing (``--force`` redoes them), so a second
``make run`` starts the app at once without starting a JVM. ``--demo-bundle`` rebuilds the
committed ``models/demo/`` bundle instead of publishing a version.
"""

from __future__ import annotations

import argparse
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.bundle.layout import TMP_PREFIX, current_version
from engine.bundle.load import verify_bundle_dir
from engine.bundle.publish import write_bundle
from engine.core.config import Settings
from engine.core.errors import EngineError
from engine.evaluation.datasets import load_dataset
from engine.evaluation.protocol import evaluate
from engine.ingest.catalog import ingest_sample
from engine.ingest.demo_listeners import demo_tables, write_demo_listeners
from engine.spark.session import get_spark
from engine.training.als import AlsParams
from engine.training.run import train

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

#: Settings used for the embedded default model: small enough to train in a couple of minutes
#: on 2 cores and to commit (models/demo), tuned on the demo data by `evaluate --grid`.
DEMO_RANK = 32


@dataclass
class PrepareReport:
    """Which steps ran."""

    steps: list[str] = field(default_factory=list)
    version: str | None = None


def _done(path: Path) -> bool:
    return (path / "_SUCCESS").is_file() or (path.is_dir() and any(path.glob("*.parquet")))


def prepare(
    settings: Settings,
    *,
    spark_factory: Callable[[], "SparkSession"],
    force: bool = False,
    demo_bundle: bool = False,
    n_listeners: int | None = None,
    evaluate: bool = True,
) -> PrepareReport:
    """Run the missing set-up steps; start Spark only when a step needs it."""

    report = PrepareReport()
    spark = None

    def get() -> "SparkSession":
        nonlocal spark
        spark = spark or spark_factory()
        return spark

    tracks_dir = settings.parquet_dir / "tracks"
    if force or not _done(tracks_dir):
        logger.info(f"[prepare] catalogue sample {settings.sample_dir} -> {tracks_dir}")
        ingest_sample(get(), settings)
        report.steps.append("catalog")

    inter_dir = settings.parquet_dir / "interactions_demo"
    if force or not _done(inter_dir) or not (settings.parquet_dir / "demo_listeners.parquet").is_file():
        logger.info("[prepare] generating the synthetic demo listeners")
        write_demo_listeners(get(), settings, **({"n_listeners": n_listeners} if n_listeners else {}))
        report.steps.append("demo")

    needs_model = demo_bundle or force or current_version(settings.models_dir) is None
    if needs_model:
        s = get()
        params = AlsParams.from_settings(settings, rank=DEMO_RANK)
        metrics = _evaluate_demo(s, settings, params) if evaluate else {}
        logger.info(f"[prepare] training the first model with Spark ({settings.spark_master})")
        trained, parts = train(
            s,
            settings,
            interactions=s.read.parquet(str(inter_dir)),
            tracks=s.read.parquet(str(tracks_dir)),
            params=params,
            publish_to=None if demo_bundle else settings.models_dir,
            tables=demo_tables(settings),
            metrics=metrics,
        )
        if demo_bundle:
            report.version = write_demo_bundle(settings.demo_bundle_dir, parts)
            logger.info(f"[prepare] demo bundle {report.version} written to {settings.demo_bundle_dir}")
        else:
            report.version = trained.version
            logger.info(f"[prepare] model {report.version} published in {settings.models_dir}")
        report.steps.append("model")
    if not report.steps:
        logger.info(f"[prepare] nothing to do: model {current_version(settings.models_dir)} is published")
    return report


def _evaluate_demo(spark: "SparkSession", settings: Settings, params: "object") -> dict:
    """The model's evaluation on the demo listeners (served blend, ALS, baselines), stored in the
    manifest so the Model page shows it from the first run. A failure costs the table, not the model."""

    logger.info("[prepare] evaluating on a held-out split of the demo listeners (served model vs baselines)")
    try:
        # the model `prepare` trains, as it is served (the default blend): not searched again
        report = evaluate(spark, settings, dataset=load_dataset(spark, settings, "demo"), params=params, search=False)
    except EngineError as exc:
        logger.warning(f"[prepare] evaluation skipped: {exc}")
        return {}
    return {"evaluation": report.summary()}


def write_demo_bundle(target: Path, parts: dict) -> str:
    """Replace the committed demo bundle at ``target`` with ``parts`` (verified before the swap)."""
    tmp = target.parent / f"{TMP_PREFIX}demo"
    shutil.rmtree(tmp, ignore_errors=True)
    manifest = write_bundle(tmp, **parts)
    verify_bundle_dir(tmp)
    old = target.parent / f"{TMP_PREFIX}demo-old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return manifest["version"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine prepare``."""
    parser.add_argument("--force", action="store_true", help="redo every step even if its output exists")
    parser.add_argument("--demo-bundle", action="store_true", help="rebuild the committed models/demo bundle")
    parser.add_argument("--listeners", type=int, help="number of demo listeners (default: demo module's)")
    parser.add_argument("--no-evaluate", action="store_true",
                        help="skip evaluating the first model (its Model page then shows no table)")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``python -m engine prepare``."""

    prepare(
        settings,
        spark_factory=lambda: get_spark(settings, app_name="prepare"),
        force=args.force,
        demo_bundle=args.demo_bundle,
        n_listeners=args.listeners,
        evaluate=not args.no_evaluate,
    )
    return 0
