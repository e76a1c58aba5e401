"""Catalogue ingest at full size, on a SYNTHETIC catalogue (the real full file is not available).

Builds a 586,672-row tracks CSV in the Kaggle format (the size of the real ``tracks.csv``) by
resampling the rows of the real 10k sample (``data/sample/tracks.csv.gz``) with replacement and
giving each row a fresh synthetic id (``syn:...``); names, artists, dates and features are
real values, repeated. Then ingests the sample and the full-size file with ``local[*]`` (or
``SPARK_MASTER``) and prints rows/s and the time ratio full/sample: a measurement, not a
pass/fail. Run from the repository root: ``python bench/ingest.py``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from engine.core.config import Settings  # noqa: E402
from engine.core.progress import log_to_stdout  # noqa: E402
from engine.core.schemas import SYNTHETIC_ID_PREFIX  # noqa: E402
from engine.ingest.catalog import SAMPLE_FILES, ingest_catalog  # noqa: E402
from engine.spark.session import get_spark  # noqa: E402

FULL_ROWS = 586_672


def make_synthetic_tracks(sample: Path, out: Path, *, rows: int = FULL_ROWS, seed: int = 7) -> Path:
    """Write a Kaggle-format tracks CSV of ``rows`` rows resampled from ``sample``, with fresh
    ``syn:`` ids (the sample's leading index column is dropped, as in the real file)."""
    real = pd.read_csv(sample, dtype=str, keep_default_na=False)
    real = real.drop(columns=[c for c in real.columns if c.startswith("Unnamed")])
    picks = np.random.default_rng(seed).integers(0, len(real), rows)
    synthetic = real.iloc[picks].reset_index(drop=True)
    synthetic["id"] = [f"{SYNTHETIC_ID_PREFIX}{i:08d}" for i in range(rows)]
    synthetic.to_csv(out, index=False, lineterminator="\n")
    return out


def _timed_ingest(spark: "SparkSession", settings: Settings, tracks: Path, label: str) -> tuple[float, int]:
    """Seconds and rows read for one ingest of ``tracks`` with the shipped artists/genres."""
    shipped = ROOT / "data" / "sample"
    start = time.perf_counter()
    report = ingest_catalog(
        spark,
        settings,
        tracks_path=tracks,
        artists_path=shipped / SAMPLE_FILES["artists"],
        genres_path=shipped / SAMPLE_FILES["genres"],
        out_dir=settings.data_dir / "parquet" / label,
    )
    return time.perf_counter() - start, report.read


def main(argv: list[str] | None = None) -> int:
    """Generate, ingest, print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help="rows of the synthetic file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    log_to_stdout()  # the ingest's progress lines, as `python -m engine ingest-catalog` shows them
    sample = ROOT / "data" / "sample" / SAMPLE_FILES["tracks"]
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        settings = Settings.from_env().with_overrides(data_dir=work / "data")
        t0 = time.perf_counter()
        full = make_synthetic_tracks(sample, work / "tracks_synthetic.csv", rows=args.rows)
        print(
            f"SYNTHETIC full-size catalogue: {args.rows:,} rows resampled from the real 10k sample with "
            f"fresh '{SYNTHETIC_ID_PREFIX}' ids, {full.stat().st_size / 1e6:.0f} MB, "
            f"built in {time.perf_counter() - t0:.1f}s (not real data)"
        )
        spark = get_spark(settings, app_name="bench-ingest")
        print(f"spark master {settings.spark_master}, {spark.sparkContext.defaultParallelism} cores")
        _timed_ingest(spark, settings, sample, "warmup")  # JVM/JIT and Python workers warm up
        t_sample, n_sample = _timed_ingest(spark, settings, sample, "sample")
        t_full, n_full = _timed_ingest(spark, settings, full, "full")
        print(f"sample (real, {n_sample:,} rows): {t_sample:.1f}s, {n_sample / t_sample:,.0f} rows/s")
        print(f"full (synthetic, {n_full:,} rows): {t_full:.1f}s, {n_full / t_full:,.0f} rows/s")
        print(
            f"time ratio full/sample: {t_full / t_sample:.1f} for {n_full / n_sample:.1f}x the rows "
            f"(per-row cost ratio {(t_full / n_full) / (t_sample / n_sample):.2f})"
        )
        spark.stop()
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
