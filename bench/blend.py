"""The Blend (engine.serving.together): how well a shared list serves both listeners, and its cost.

On the committed demo bundle, for random pairs of (synthetic) demo listeners (seed 42):

- the taste match of pairs that share a taste centre and of pairs that do not (medians);
- three lists of 20 for each pair, scored by each listener's percentile of the catalogue:
  the **Blend** (soft minimum + balance), the **union** of the two listeners' own top 10s
  (``Recommender.recommend``, model order, interleaved) and the **average** of the two
  percentiles (no minimum, no balance). For each: the worse-served listener's mean percentile
  (averaged over pairs), and the share of tracks one of the two ranks below their median
  ("left out");
- p50 of one Blend (taste match + shared list + both listeners' listens) against one
  ``recommend(k=20)`` on the same machine.

``--items N`` repeats the timing on a synthetic bundle of N items (bench/serve.py's items,
rank 64) in a fresh process. Prints numbers, never a pass/fail.
Usage: ``python bench/blend.py [--pairs 300] [--items 600000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._synthetic import add_synthetic_args, measure_in_child, print_child_result, print_ratio  # noqa: E402
from engine.bundle.load import load_bundle  # noqa: E402
from engine.serving.listens import listens_behind  # noqa: E402
from engine.serving.options import Options  # noqa: E402
from engine.serving.recommender import Recommender  # noqa: E402
from engine.serving.together import listener_scores, percentiles, shared_list, taste_match  # noqa: E402


def _histories(rec: Recommender) -> tuple[dict[str, dict[str, float]], dict[str, set[str]]]:
    listeners, rows = rec.bundle.tables["demo_listeners"], rec.bundle.tables["demo_history"]
    sums = rows.groupby(["user_id", "track_id"])["weight"].sum()
    histories: dict[str, dict[str, float]] = {}
    for (user, track), weight in sums.items():
        histories.setdefault(str(user), {})[str(track)] = float(weight)
    centres = {str(u): set(c) for u, c in zip(listeners["user_id"], listeners["centres"])}
    return histories, centres


def _blend_once(rec: Recommender, a: dict[str, float], b: dict[str, float]) -> None:
    taste_match(rec, a, b)
    ids = list(shared_list(rec, a, b).track_ids)
    listens_behind(rec, a, ids)
    listens_behind(rec, b, ids)


def quality(rec: Recommender, *, pairs: int, seed: int = 42) -> dict:
    histories, centres = _histories(rec)
    users = sorted(histories)
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(rec.arrays.has_factors)
    position = np.full(len(rec.arrays.has_factors), -1)
    position[rows] = np.arange(len(rows))
    matches: dict[str, list[float]] = {"shared centre": [], "no shared centre": []}
    worse: dict[str, list[float]] = {"blend": [], "union": [], "average": []}
    left_out: dict[str, list[float]] = {"blend": [], "union": [], "average": []}
    for _ in range(pairs):
        u, v = rng.choice(users, 2, replace=False)
        a, b = histories[str(u)], histories[str(v)]
        matches["shared centre" if centres[str(u)] & centres[str(v)] else "no shared centre"].append(
            taste_match(rec, a, b).percent)
        p = np.stack([percentiles(s) for s in listener_scores(rec, [a, b], rows)], axis=1)
        own = [rec.recommend(h, Options(k=10, discovery=None)).track_ids for h in (a, b)]
        union = list(dict.fromkeys(t for pair in zip(*own) for t in pair))[:20]
        lists = {"blend": list(shared_list(rec, a, b).track_ids), "union": union,
                 "average": list(shared_list(rec, a, b, mix=1.0, balance=0.0).track_ids)}
        for name, ids in lists.items():
            q = p[position[rec.index_of(ids)]]
            worse[name].append(float(q.mean(axis=0).min()))
            left_out[name].append(float((q.min(axis=1) < 0.5).mean()))
    return {"matches": {k: (float(np.median(v)), len(v)) for k, v in matches.items()},
            "worse": {k: float(np.mean(v)) for k, v in worse.items()},
            "left_out": {k: float(np.mean(v)) for k, v in left_out.items()}}


def timing(rec: Recommender, pairs: list[tuple[dict[str, float], dict[str, float]]], *, reps: int) -> dict:
    _blend_once(rec, *pairs[0])
    blend, alone = [], []
    for r in range(reps):
        a, b = pairs[r % len(pairs)]
        t = time.perf_counter()
        _blend_once(rec, a, b)
        blend.append(time.perf_counter() - t)
        t = time.perf_counter()
        rec.recommend(a, Options(k=20))
        alone.append(time.perf_counter() - t)
    return {"n_items": rec.bundle.n_items, "blend_ms": float(np.median(blend)) * 1e3,
            "recommend_ms": float(np.median(alone)) * 1e3}


def synthetic_timing(models: Path, *, reps: int) -> dict:
    """Child process: random 200-track histories over a synthetic bundle."""
    rec = Recommender.load(models)
    rng = np.random.default_rng(1)
    ids = rec.bundle.items["track_id"].to_numpy()[rec.arrays.has_factors]
    def one() -> dict[str, float]:
        return dict(zip(ids[rng.choice(len(ids), 200, replace=False)].tolist(), rng.geometric(0.1, 200).astype(float)))
    return timing(rec, [(one(), one()) for _ in range(5)], reps=reps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=300)
    add_synthetic_args(parser, reps=30)
    args = parser.parse_args()
    if args.measure:
        print_child_result(synthetic_timing(args.measure, reps=args.reps))
        return 0
    rec = Recommender(load_bundle(ROOT / "models" / "demo"))
    q = quality(rec, pairs=args.pairs)
    print(f"demo bundle, {args.pairs} random pairs of demo listeners (synthetic), lists of 20:")
    for name, (median, n) in q["matches"].items():
        print(f"  taste match, {name:<17} median {median:5.1f}%  ({n} pairs)")
    for name in ("blend", "union", "average"):
        print(f"  {name:<8} worse-served listener's mean percentile {q['worse'][name]:.3f}, "
              f"tracks one of them ranks below their median {q['left_out'][name]:.1%}")
    histories, _ = _histories(rec)
    users = sorted(histories)
    rng = np.random.default_rng(7)
    pairs = [(histories[str(u)], histories[str(v)]) for u, v in (rng.choice(users, 2, replace=False) for _ in range(10))]
    t = timing(rec, pairs, reps=args.reps)
    print(f"  one Blend p50 {t['blend_ms']:.1f} ms vs recommend(k=20) p50 {t['recommend_ms']:.1f} ms "
          f"({t['n_items']:,} items)")
    print_ratio(t["blend_ms"] / t["recommend_ms"])
    if args.items:
        s = measure_in_child(__file__, n_items=args.items, reps=args.reps, prefix="bench-blend-")
        print(f"synthetic {s['n_items']:,} items, rank 64, 200-track histories: one Blend p50 {s['blend_ms']:.0f} ms "
              f"vs recommend(k=20) p50 {s['recommend_ms']:.0f} ms")
        print_ratio(s["blend_ms"] / s["recommend_ms"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
