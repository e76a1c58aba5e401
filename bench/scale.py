"""Scaling study: Spark ALS training time vs interactions, and serving p50 vs catalogue size.

Training: synthetic listening data with the distribution of the demo listeners (heavy-tailed
tracks per listener around 40, clustered tastes, popularity bias, heavy-tailed play counts;
:func:`engine.ingest.synthetic.make_synthetic_interactions`) over a synthetic 600k-track
catalogue shaped like the real one (:func:`engine.ingest.synthetic.synthesize_catalog` from
``data/sample/tracks.csv.gz``). For each size the interactions are written as parquet and the
training stages that grow with them are timed in one ``local[*]`` (or ``SPARK_MASTER``) session:
read -> sum per (user, track) -> StringIndexer ids -> ALS(implicitPrefs, rank 64, 10
iterations, log1p) -> collect factors — the same functions ``python -m engine train`` runs
(KMeans depends on the catalogue only, so it is left out). The growth exponent ``b`` of
``time ∝ n^b`` is a least-squares fit on log-log. Shuffle bytes come from Spark's REST API.

Serving: bundles of 100k, 300k, 600k and 2.4M items with random rank-64 float32 factors, served
the way the app serves them (``Recommender.load``, memory-mapped; fold-in + recommend k=50 with
re-ranking and explanations for a 200-track history), each in a fresh process
(``bench/serve.py --measure``).

Last, an estimate for a 1-billion-interaction refresh on a cluster, derived from the fit.
Prints measurements, never pass/fail. Usage: ``python bench/scale.py [--quick]`` (full: about
15-25 minutes on 2 cores; ``--quick`` runs small sizes in a couple of minutes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.core.config import Settings
from engine.ingest.synthetic import make_synthetic_interactions, synthesize_catalog

FULL = {"train": [1_000_000, 2_000_000, 4_000_000, 8_000_000], "catalog": 600_000,
        "serve": [100_000, 300_000, 600_000, 2_400_000], "reps": 100}
QUICK = {"train": [100_000, 200_000, 400_000], "catalog": 50_000,
         "serve": [20_000, 50_000, 100_000], "reps": 30}
#: Tracks per listener: the demo listeners' mean (engine.ingest.demo_listeners.make_demo_listeners, mean_tracks).
MEAN_PER_USER = 40.0
TARGET = 1_000_000_000


def growth_exponent(n: list[float], t: list[float]) -> float:
    """Least-squares slope ``b`` of ``log t = a + b log n``."""
    return float(np.polyfit(np.log(n), np.log(t), 1)[0])


def _shuffle_bytes(spark: Any) -> dict[int, int]:
    """Shuffle write bytes per stage id, from the driver's REST API (empty without a UI)."""
    sc = spark.sparkContext
    url = sc.uiWebUrl
    if not url:
        return {}
    try:
        with urllib.request.urlopen(f"{url}/api/v1/applications/{sc.applicationId}/stages", timeout=10) as r:
            stages = json.load(r)
    except OSError:
        return {}
    return {int(s["stageId"]) * 1000 + int(s["attemptId"]): int(s.get("shuffleWriteBytes", 0)) for s in stages}


def time_training(spark: Any, path: Path, *, rank: int, max_iter: int) -> dict[str, Any]:
    """Run the interaction-dependent training stages on the parquet at ``path``; return timings."""
    from engine.training.als import AlsParams, fit_als, index_interactions, item_factors, user_factors
    from engine.training.inputs import read_interactions

    params = AlsParams(rank=rank, max_iter=max_iter)
    before = _shuffle_bytes(spark)
    t0 = time.perf_counter()
    inter = read_interactions(spark, [path], Settings.from_env())
    indexed = index_interactions(inter)
    indexed.df.cache()
    n_rows = indexed.df.count()
    t_index = time.perf_counter() - t0
    model = fit_als(indexed.df, params)
    users, items = user_factors(model, len(indexed.user_ids)), item_factors(model, len(indexed.item_ids))
    total = time.perf_counter() - t0
    indexed.df.unpersist()
    after = _shuffle_bytes(spark)
    shuffle = sum(v for k, v in after.items() if k not in before)
    return {"rows": n_rows, "users": users.shape[0], "items": items.shape[0], "index_s": t_index,
            "als_s": total - t_index, "total_s": total, "shuffle_bytes": shuffle}


def run_training(sizes: list[int], catalog_size: int, *, rank: int, max_iter: int, work: Path) -> list[dict[str, Any]]:
    """Generate, write and train each size in one Spark session; print one line per size."""
    from engine.spark.session import get_spark

    t0 = time.perf_counter()
    reference = pd.read_csv(ROOT / "data" / "sample" / "tracks.csv.gz")
    catalog = synthesize_catalog(reference, catalog_size, seed=7)
    print(f"synthetic catalogue: {len(catalog):,} tracks ({time.perf_counter() - t0:.0f}s)", flush=True)
    settings = Settings.from_env(env_file=None).with_overrides(
        data_dir=work / "data", spark_driver_memory=os.environ.get("SPARK_DRIVER_MEMORY", "6g"),
    )
    spark = get_spark(settings, app_name="bench-scale", extra_conf={"spark.ui.showConsoleProgress": "false"})
    cores = spark.sparkContext.defaultParallelism
    print(f"spark {spark.version}, master {spark.sparkContext.master}, {cores} cores, "
          f"rank {rank}, {max_iter} iterations", flush=True)
    results = []
    warm = work / "warmup"
    make_synthetic_interactions(catalog, max(20_000, sizes[0] // 20), seed=1, mean_per_user=MEAN_PER_USER).to_parquet(warm)
    time_training(spark, warm, rank=rank, max_iter=2)  # JVM warm-up, not reported
    for n in sizes:
        t = time.perf_counter()
        pdf = make_synthetic_interactions(catalog, n, seed=n, mean_per_user=MEAN_PER_USER)
        path = work / f"interactions_{n}.parquet"
        pdf.to_parquet(path, index=False)
        gen_s = time.perf_counter() - t
        del pdf
        r = time_training(spark, path, rank=rank, max_iter=max_iter)
        r.update(n=n, cores=cores, gen_s=gen_s)
        results.append(r)
        print(f"  {n:>11,} interactions ({r['users']:,} listeners x {r['items']:,} tracks): "
              f"train {r['total_s']:7.1f} s (index {r['index_s']:.1f} s, ALS {r['als_s']:.1f} s), "
              f"shuffle {r['shuffle_bytes'] / 2**20:,.0f} MiB  [data generated in {gen_s:.0f} s]", flush=True)
        path.unlink()
    spark.stop()
    return results


def run_serving(sizes: list[int], *, reps: int, work: Path) -> list[dict[str, Any]]:
    """Serving p50 per catalogue size, each bundle measured in a fresh process."""
    sys.path.insert(0, str(ROOT / "bench"))
    from serve import (
        write_bundles,  # bench/serve.py: realistic items table + random factors
    )

    out = []
    for n in sizes:
        models = write_bundles(work / f"serve{n}", n_items=n, ranks=[64])[64]
        child = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "serve.py"), "--measure", str(models), "--reps", str(reps),
             "--history", "200", "--k", "50"],
            capture_output=True, text=True, check=True,
        )
        m = json.loads(child.stdout.strip().splitlines()[-1])
        out.append(m)
        print(f"  {n:>11,} items: fold-in + recommend p50 {m['serve_p50_ms']:7.2f} ms "
              f"(p99 {m['serve_p99_ms']:.2f} ms; bare Y @ x {m['bare_p50_ms']:.2f} ms), "
              f"load {m['load_s']:.1f} s, RSS {m['rss_served_mib']['VmRSS']} MiB", flush=True)
        subprocess.run(["rm", "-rf", str(work / f"serve{n}")], check=True)
    return out


def estimate(train: list[dict[str, Any]], b: float, *, rank: int, target: int = TARGET) -> list[str]:
    """Lines estimating a ``target``-interaction refresh from the measured runs.

    With ``b < 1`` the power law mostly describes fixed overhead (JVM, job scheduling, the
    catalogue-sized item side), and extrapolating it 100x would promise too much. ALS work per
    iteration is linear in interactions once listeners grow with them (``O(n k^2 + (m + u) k^3)``),
    so the estimate uses the affine fit ``t = a + c n`` (the marginal cost ``c``) and shows the
    power-law figure only for comparison.
    """
    ns = np.array([r["n"] for r in train], dtype=float)
    ts = np.array([r["total_s"] for r in train], dtype=float)
    cores = train[-1]["cores"]
    c, a = np.polyfit(ns, ts, 1)
    c = max(c, 1e-12)
    core_s = c * target * cores  # marginal core-seconds for the target
    power_s = ts[-1] * (target / ns[-1]) ** b
    users = train[-1]["users"] * target / ns[-1]  # listeners grow with interactions (~40 tracks each)
    items = 2_400_000  # a catalogue grows slowly: assume 4x the full Spotify 600k
    factors_gib = (users + items) * rank * 4 / 2**30
    sh = np.array([r["shuffle_bytes"] for r in train], dtype=float)
    shuffle_gib = max(0.0, np.polyfit(ns, sh, 1)[0]) * target / 2**30
    # Spark ALS keeps each rating in an in-block and an out-block (ids + float, ~24 bytes
    # serialized) plus the cached ratings table (~16 bytes); x2 for JVM object overhead.
    ratings_gib = target * 2 * (24 + 16) / 2**30
    lines = [
        f"fit over {ns[0]:,.0f}-{ns[-1]:,.0f}: t = {a:.0f} s + {c * 1e6:.2f} s per million interactions "
        f"on {cores} cores ({1 / c / cores:,.0f} interactions per core-second, marginal)",
        f"  {target:,} interactions: {core_s / 3600:,.0f} core-hours, i.e. {core_s / cores / 3600:,.0f} h "
        f"on this {cores}-core machine (the power law n^{b:.2f} would say {power_s / 3600:,.1f} h)",
        f"  model: {users / 1e6:,.0f}M listeners + {items / 1e6:.1f}M tracks at rank {rank}: "
        f"{factors_gib:,.0f} GiB of factors; ratings in ALS blocks and cache ~{ratings_gib:,.0f} GiB; "
        f"shuffle ~{shuffle_gib:,.0f} GiB per run",
    ]
    for executors, per in ((25, 4), (50, 4), (100, 4)):
        total = executors * per
        # Ideal speed-up over cores, then x2 for a real network shuffle and stragglers (an
        # assumption: on this machine the shuffle never leaves the box).
        hours = core_s / total / 3600 * 2
        mem = max(8, math.ceil((ratings_gib + 2 * factors_gib) / executors * 1.5))
        lines.append(f"  {executors} executors x {per} cores, ~{mem} GiB each: ~{hours:.1f} h "
                     f"(ideal scaling {hours / 2:.1f} h)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a couple of minutes)")
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-serve", action="store_true")
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        train: list[dict[str, Any]] = []
        if not args.skip_train:
            print("== Spark ALS training time vs interactions", flush=True)
            train = run_training(cfg["train"], cfg["catalog"], rank=args.rank, max_iter=args.max_iter, work=work)
            b = growth_exponent([r["n"] for r in train], [r["total_s"] for r in train])
            b_als = growth_exponent([r["n"] for r in train], [r["als_s"] for r in train])
            print(f"growth exponent: time ∝ n^{b:.2f} (ALS stage alone n^{b_als:.2f})", flush=True)
        if not args.skip_serve:
            print("== serving: fold-in + recommend p50 vs catalogue size (rank 64)", flush=True)
            serve = run_serving(cfg["serve"], reps=cfg["reps"], work=work)
            bs = growth_exponent([m["n_items"] for m in serve], [m["serve_p50_ms"] for m in serve])
            print(f"serving growth exponent: p50 ∝ items^{bs:.2f}", flush=True)
        if train:
            print("== estimate for a 1-billion-interaction refresh", flush=True)
            print("\n".join(estimate(train, b, rank=args.rank)), flush=True)
            print(f"b: {b:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
