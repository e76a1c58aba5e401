"""Training cost of Spark ALS (``engine.training.als.fit_als``) vs the ``implicit`` library's CPU ALS.

    python bench/train.py [--tracks 600000] [--interactions 1000000] [--sweep]

Data (SYNTHETIC, cached under ``data/raw/bench_train/``): a catalogue of ``--tracks`` tracks
synthesized from the real sample's distributions (``engine.ingest.synthetic``) and
``--interactions`` clustered, popularity-biased listening rows over it. The evaluation protocol
of the evaluation protocol (``engine.evaluation.splits``: items with < 2 listeners dropped, per-listener 20% holdout,
seed 42) gives one training matrix that both libraries fit with the same rank, iterations and
confidence ``c = 1 + α·transform(r)`` (implicit receives c itself, with its own ``alpha=1``);
the parameters are the shipped ones (Settings, ``ALS_*``) unless flags override them.

Regularisation cannot be made identical: Spark multiplies regParam by each user's/item's number
of ratings (ALS-WR), implicit uses one λ. implicit runs with λ = regParam·(mean ratings per
listener) — matched on the user side, as ``bench/quality.py`` does — and, for NDCG only, with
λ = regParam (literal).

Each fit runs in its own process (``--worker``), so peak memory is that process tree's: the
driver python + its JVM for Spark (summed RSS, sampled every 50 ms), the python process for
implicit. Timings are the fit alone (Spark: ``ALS.fit``, which materializes the factors;
collecting them to numpy is shown separately). Prints one table and ``ratio: spark/implicit``;
a measurement, not a pass/fail. ``--sweep`` times Spark under each tuning variant instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from engine.core.config import Settings
from engine.evaluation import metrics as M
from engine.evaluation.scoring import top_k
from engine.training.als import AlsParams

WORK = ROOT / "data" / "raw" / "bench_train"

#: ``--sweep`` variants: label -> (Spark conf, AlsParams overrides). Each runs in a fresh JVM.
#: The shipped session (engine.spark.session) uses native BLAS and netlib's Java LAPACK.
SWEEP: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "as shipped": ({}, {}),
    "native LAPACK (OpenBLAS)": ({"spark.driver.extraJavaOptions": "-Ddev.ludovic.netlib.lapack.allowNative=true"}, {}),
    "native LAPACK, blocks 1": ({"spark.driver.extraJavaOptions": "-Ddev.ludovic.netlib.lapack.allowNative=true"}, {"num_blocks": 1}),
    "Java BLAS too": ({"spark.driver.extraJavaOptions": "-Ddev.ludovic.netlib.blas.allowNative=false"}, {}),
    "blocks 1": ({}, {"num_blocks": 1}),
    "blocks 4": ({}, {"num_blocks": 4}),
    "no checkpoint": ({}, {"checkpoint_interval": -1}),
    "ParallelGC": ({"spark.driver.extraJavaOptions": "-XX:+UseParallelGC"}, {}),
    "Java serializer": ({"spark.serializer": "org.apache.spark.serializer.JavaSerializer"}, {}),
    "driver memory 2g": ({"spark.driver.memory": "2g"}, {}),
}


# -- peak memory of a process tree -----------------------------------------------------------


def _children(pid: int) -> list[int]:
    """All descendants of ``pid`` (from /proc/*/stat parent ids)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out.extend(kids)
        todo.extend(kids)
    return out


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process and its live descendants (the
    JVM). On a shared host, CPU time measures the work done; wall time also counts waiting."""
    total = 0
    for pid in [os.getpid(), *_children(os.getpid())]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


class PeakRss(threading.Thread):
    """Samples the summed RSS of this process and its descendants; ``peak_mb`` is the maximum."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak_kb, self._halt = interval, 0, threading.Event()

    def run(self) -> None:
        me, tick, kids = os.getpid(), 0, []
        while not self._halt.is_set():
            if tick % 20 == 0:  # the tree rarely changes; rescanning /proc costs CPU
                kids = _children(me)
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in [me, *kids]))
            tick += 1
            self._halt.wait(self.interval)

    def stop(self) -> float:
        """Stop sampling; return the peak in MB."""
        self._halt.set()
        self.join()
        return self.peak_kb / 1024


# -- workers (each runs in its own process) --------------------------------------------------


def worker_prep(work: Path, *, tracks: int, interactions: int, seed: int) -> dict[str, Any]:
    """Synthesize the catalogue and listeners, split them and write
    ``train.parquet`` (Spark input), ``train.npz`` / ``test.npz`` (csr) and ``meta.json``."""
    import pandas as pd

    from engine.evaluation.datasets import index_split
    from engine.evaluation.splits import holdout_split, prepare_interactions
    from engine.ingest.demo_listeners import load_tracks
    from engine.ingest.synthetic import make_synthetic_interactions, synthesize_catalog
    from engine.spark.session import get_spark
    from engine.training.als import index_interactions

    settings = Settings.from_env()
    start = time.perf_counter()
    catalog = synthesize_catalog(load_tracks(settings.sample_dir / "tracks.csv.gz"), tracks, seed=seed)
    rows = make_synthetic_interactions(catalog, interactions, seed=seed)
    del catalog
    print(f"[prep] synthesized {tracks:,} tracks, {len(rows):,} interactions ({time.perf_counter() - start:.0f}s)", flush=True)
    spark = get_spark(settings, app_name="bench-train-prep")
    work.mkdir(parents=True, exist_ok=True)
    raw = work / "interactions.parquet"
    rows[["user_id", "track_id", "weight"]].to_parquet(raw, index=False)
    prepared = prepare_interactions(spark.read.parquet(str(raw)), item_col="track_id").cache()
    indexed = index_interactions(prepared)
    split = holdout_split(prepared, item_col="track_id", seed=42)
    s = index_split(split.train, split.test, user_ids=indexed.user_ids, item_ids=indexed.item_ids, item_col="track_id")
    sp.save_npz(work / "train.npz", s.train)
    sp.save_npz(work / "test.npz", s.test)
    coo = s.train.tocoo()
    pd.DataFrame({"user_idx": coo.row.astype("int32"), "item_idx": coo.col.astype("int32"), "weight": coo.data}).to_parquet(
        work / "train.parquet", index=False
    )
    raw.unlink()
    meta = {
        "tracks": tracks, "interactions": interactions, "seed": seed,
        "n_users": len(indexed.user_ids), "n_items": len(indexed.item_ids),
        "n_train": int(s.train.nnz), "n_test": int(s.test.nnz),
    }
    (work / "meta.json").write_text(json.dumps(meta, indent=1))
    spark.stop()
    print(f"[prep] split: {meta} ({time.perf_counter() - start:.0f}s)", flush=True)
    return meta


def worker_spark(work: Path, *, params: AlsParams, conf: dict[str, str], out: Path) -> dict[str, Any]:
    """Fit ``engine.training.als.fit_als`` on ``train.parquet``; save factors to ``out``; return timings."""
    from engine.spark.session import get_spark
    from engine.training.als import fit_als, item_factors, user_factors

    peak = PeakRss()
    peak.start()
    settings = Settings.from_env()
    meta = json.loads((work / "meta.json").read_text())
    spark = get_spark(settings, app_name="bench-train-spark", extra_conf=conf)
    jvm = spark._jvm
    blas = jvm.java.lang.Class.forName("org.apache.spark.ml.linalg.BLAS$").getField("MODULE$").get(None)
    lapack = jvm.dev.ludovic.netlib.lapack.LAPACK.getInstance()
    # As in engine.training.run.train: the indexed input is cached and counted before ALS.
    df = spark.read.parquet(str(work / "train.parquet")).cache()
    n = df.count()
    cpu, start = tree_cpu_s(), time.perf_counter()
    model = fit_als(df, params)
    fit_s, cpu_s = time.perf_counter() - start, tree_cpu_s() - cpu
    start = time.perf_counter()
    U, Y = user_factors(model, meta["n_users"]), item_factors(model, meta["n_items"])
    collect_s = time.perf_counter() - start
    np.save(out / "U.npy", U)
    np.save(out / "Y.npy", Y)
    result = {
        "fit_s": fit_s, "cpu_s": cpu_s, "collect_s": collect_s, "rows": n, "peak_mb": peak.stop(),
        "blas": blas.nativeBLAS().getClass().getSimpleName(), "lapack": lapack.getClass().getSimpleName(),
        "blocks": params.num_blocks or spark.sparkContext.defaultParallelism,
        "cores": spark.sparkContext.defaultParallelism,
    }
    spark.stop()
    return result


def worker_implicit(work: Path, *, params: AlsParams, regularization: float, use_cg: bool, out: Path) -> dict[str, Any]:
    """Fit implicit's CPU ALS on confidences ``1 + α·transform(r)`` of ``train.npz``."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    from engine.core.weights import transform_weights

    conf = sp.load_npz(work / "train.npz").tocsr().astype(np.float32)
    conf.data = (1.0 + params.alpha * transform_weights(
        conf.data, params.weight_transform, epsilon=params.weight_epsilon, clip=params.weight_clip
    )).astype(np.float32)
    model = AlternatingLeastSquares(
        factors=params.rank, regularization=regularization, alpha=1.0, iterations=params.max_iter,
        random_state=params.seed, use_cg=use_cg,
    )
    with threadpool_limits(1, "blas"):  # implicit runs one thread per core itself
        cpu, start = time.process_time(), time.perf_counter()
        model.fit(conf, show_progress=False)
        fit_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    np.save(out / "U.npy", model.user_factors)
    np.save(out / "Y.npy", model.item_factors)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec, so it would report the
    # parent's size (this process is forked from a parent holding the evaluation matrices).
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return {"fit_s": fit_s, "cpu_s": cpu_s, "collect_s": 0.0, "peak_mb": int(hwm.split()[1]) / 1024}


# -- the parent: run the workers, evaluate, print --------------------------------------------


def run_worker(args: list[str]) -> dict[str, Any]:
    """Run ``bench/train.py --worker ...`` in a fresh process; return its JSON result line."""
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"worker {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    for line in proc.stdout.splitlines():
        if line.startswith("[prep]"):
            print(line, flush=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ndcg_at_10(U: np.ndarray, Y: np.ndarray, train: sp.csr_matrix, test: sp.csr_matrix, *, users: np.ndarray) -> float:
    """Mean NDCG@10 over ``users`` under the protocol of ``engine.evaluation.scoring.evaluate_model``
    (candidates: items with training data, minus the listener's own). Hand-rolled because
    ``build_eval_data`` also samples AUC negatives per listener, which costs minutes here."""
    candidates = np.diff(sp.csc_matrix(train).indptr) > 0
    U, Y = np.asarray(U, dtype=np.float32), np.asarray(Y, dtype=np.float32)
    values = []
    for lo in range(0, len(users), 512):
        rows = users[lo : lo + 512]
        S = U[rows] @ Y.T
        S[:, ~candidates] = -np.inf
        sub = train[rows]
        S[np.repeat(np.arange(len(rows)), np.diff(sub.indptr)), sub.indices] = -np.inf
        ranked = top_k(S, 10)
        for j, u in enumerate(rows):
            r = ranked[j][np.isfinite(S[j, ranked[j]])]
            values.append(M.ndcg_at_k(r, test.indices[test.indptr[u] : test.indptr[u + 1]], 10))
    return M.mean_over_users(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=600_000, help="synthetic catalogue size")
    parser.add_argument("--interactions", type=int, default=1_000_000, help="synthetic (user, track) rows")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, default=None, help=f"data cache (default {WORK}/<tracks>-<interactions>)")
    parser.add_argument("--sweep", action="store_true", help="time Spark under each tuning variant (slow)")
    parser.add_argument("--only", nargs="*", default=None, help="with --sweep: run only these variants")
    for flag, typ in (("--rank", int), ("--max-iter", int), ("--reg-param", float), ("--alpha", float)):
        parser.add_argument(flag, type=typ, default=None, help="default: Settings (ALS_*)")
    parser.add_argument("--weight-transform", default=None, help="default: Settings (ALS_WEIGHT_TRANSFORM)")
    parser.add_argument("--repeat", type=int, default=1, help="Spark/implicit fit pairs (median reported)")
    parser.add_argument("--eval-users", type=int, default=0, help="NDCG on a sample of test listeners (0: all)")
    parser.add_argument("--worker", choices=("prep", "spark", "implicit"), help=argparse.SUPPRESS)
    parser.add_argument("--payload", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    work = args.work or WORK / f"{args.tracks}-{args.interactions}"

    if args.worker:
        payload = json.loads(args.payload)
        out = Path(payload.pop("out", work))
        out.mkdir(parents=True, exist_ok=True)
        params = AlsParams(**payload.get("params", {}))
        if args.worker == "prep":
            result = worker_prep(work, tracks=args.tracks, interactions=args.interactions, seed=args.seed)
        elif args.worker == "spark":
            result = worker_spark(work, params=params, conf=payload.get("conf", {}), out=out)
        else:
            result = worker_implicit(work, params=params, regularization=payload["regularization"], use_cg=payload.get("use_cg", True), out=out)
        print(json.dumps(result))
        return 0

    meta_path = work / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if (meta.get("tracks"), meta.get("interactions"), meta.get("seed")) != (args.tracks, args.interactions, args.seed):
        meta = run_worker(["--worker", "prep", "--work", str(work), "--tracks", str(args.tracks),
                           "--interactions", str(args.interactions), "--seed", str(args.seed)])
    train, test = sp.load_npz(work / "train.npz").tocsr(), sp.load_npz(work / "test.npz").tocsr()
    # Resolved once here and handed to every worker, so all fits of a run share them.
    params = AlsParams.from_settings(
        Settings.from_env(), rank=args.rank, max_iter=args.max_iter, reg_param=args.reg_param, alpha=args.alpha,
        weight_transform=args.weight_transform,
    )
    active = np.diff(train.indptr) > 0
    mean_per_user = train.nnz / max(1, int(active.sum()))
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    if args.eval_users and args.eval_users < len(users):
        users = np.sort(np.random.default_rng(args.seed).choice(users, args.eval_users, replace=False))
    print(f"SYNTHETIC data: {args.tracks:,}-track catalogue; after the §9 split {train.nnz:,} training rows, "
          f"{meta['n_users']:,} listeners x {meta['n_items']:,} items (tracks with >= 2 listeners), "
          f"{test.nnz:,} held out; NDCG over {len(users):,} listeners", flush=True)
    print(f"params: rank {params.rank}, {params.max_iter} iterations, regParam {params.reg_param} (Spark: x n per "
          f"row; implicit: λ = regParam·{mean_per_user:.1f} mean ratings per listener), alpha {params.alpha}, "
          f"{params.weight_transform} weights", flush=True)

    def spark_run(label: str, conf: dict[str, str], overrides: dict[str, Any], *, score: bool = True) -> dict[str, Any]:
        out = work / "factors" / "".join(c if c.isalnum() else "_" for c in label)
        res = run_worker(["--worker", "spark", "--work", str(work),
                          "--payload", json.dumps({"params": {**params.to_dict(), **overrides}, "conf": conf, "out": str(out)})])
        if score:
            res["ndcg"] = ndcg_at_10(np.load(out / "U.npy"), np.load(out / "Y.npy"), train, test, users=users)
        return res

    def implicit_run(regularization: float, use_cg: bool = True, *, score: bool = True) -> dict[str, Any]:
        out = work / "factors" / f"implicit_{regularization:g}_{'cg' if use_cg else 'chol'}"
        res = run_worker(["--worker", "implicit", "--work", str(work), "--payload",
                          json.dumps({"params": params.to_dict(), "regularization": regularization, "use_cg": use_cg, "out": str(out)})])
        if score:
            res["ndcg"] = ndcg_at_10(np.load(out / "U.npy"), np.load(out / "Y.npy"), train, test, users=users)
        return res

    lam = params.reg_param * mean_per_user
    if args.sweep:
        # The machine is shared: each variant is paired with an implicit fit run just before
        # it, and "x implicit" divides by that neighbour, so slow phases of the host cancel out.
        print(f"{'Spark variant':<26} {'fit s':>6} {'CPU s':>6} {'impl. s':>7} {'impl. CPU':>9} {'x impl.':>7} {'CPU x':>6} {'peak MB':>7} {'NDCG@10':>7}  BLAS/LAPACK, blocks")
        for label, (conf, overrides) in SWEEP.items():
            if args.only and label not in args.only:
                continue
            for _ in range(args.repeat):
                ref = implicit_run(lam, score=False)
                r = spark_run(label, conf, overrides)
                print(f"{label:<26} {r['fit_s']:6.1f} {r['cpu_s']:6.1f} {ref['fit_s']:7.1f} {ref['cpu_s']:9.1f} "
                      f"{r['fit_s'] / ref['fit_s']:7.1f} {r['cpu_s'] / ref['cpu_s']:6.1f} {r['peak_mb']:7.0f} "
                      f"{r['ndcg']:7.4f}  {r['blas']}/{r['lapack']}, {r['blocks']}", flush=True)
        return 0

    # Spark and implicit alternate (--repeat pairs); the ratio is the median of the pairs' ratios.
    pairs = []
    for i in range(args.repeat):
        s_r, i_r = spark_run("spark", {}, {}, score=i == 0), implicit_run(lam, score=i == 0)
        pairs.append((s_r, i_r))
        print(f"pair {i + 1}: Spark {s_r['fit_s']:.1f}s, implicit {i_r['fit_s']:.1f}s, ratio {s_r['fit_s'] / i_r['fit_s']:.1f}", flush=True)
    spark_r, impl_r = pairs[0]
    for key in ("fit_s", "cpu_s", "collect_s", "peak_mb"):
        spark_r[key] = float(np.median([p[0][key] for p in pairs]))
        impl_r[key] = float(np.median([p[1][key] for p in pairs]))
    rows = {
        "Spark ALS (fit_als)": spark_r,
        f"implicit CG, λ={lam:.2f}": impl_r,
        f"implicit Cholesky, λ={lam:.2f}": implicit_run(lam, use_cg=False),
        f"implicit CG, λ={params.reg_param:g}": implicit_run(params.reg_param),
    }
    print(f"Spark: {spark_r['cores']} cores, {spark_r['blocks']} blocks, BLAS {spark_r['blas']}, LAPACK {spark_r['lapack']}"
          + (f"; medians of {args.repeat} runs" if args.repeat > 1 else ""))
    print(f"{'model':<30} {'fit s':>7} {'CPU s':>7} {'collect s':>9} {'peak MB':>8} {'NDCG@10':>8}")
    for name, r in rows.items():
        print(f"{name:<30} {r['fit_s']:7.1f} {r['cpu_s']:7.1f} {r['collect_s']:9.1f} {r['peak_mb']:8.0f} {r['ndcg']:8.4f}")
    print(f"NDCG@10 Spark / implicit (CG, λ={lam:.2f}): {spark_r['ndcg'] / impl_r['ndcg']:.3f}")
    print(f"peak memory Spark / implicit: {spark_r['peak_mb'] / impl_r['peak_mb']:.1f}")
    cpu_ratio = float(np.median([s["cpu_s"] / i["cpu_s"] for s, i in pairs]))
    print(f"CPU time Spark / implicit: {cpu_ratio:.1f} (robust to other load on the host; wall time is not)")
    ratio = float(np.median([s["fit_s"] / i["fit_s"] for s, i in pairs]))
    print(f"ratio: {ratio:.1f}  (Spark fit / implicit CG fit)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
