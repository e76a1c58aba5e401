"""Mixes by taste (engine.serving.mixes): what the demo listeners get, and what a request costs.

On the committed demo bundle, over the synthetic demo listeners it ships:

- how many mixes each listener gets (0–6), their length and share of new artists, how many
  of the familiar tracks come from the listener's artists *in that sound* (the rest are the
  listener's other artists' songs in that sound, which fill in when those run short), and how
  many tracks share a genre with the listener's history in that sound (a mix's coherence);
- p50 of planning the mixes (which clusters, names, shares: no recommendation request), of
  building the first mix's tracks, and of building all of them, against p50 of one
  ``Recommender.lists`` request (the Recommendations page's lists) for the same listeners,
  timed in the same loop. The page plans every run and builds a mix only while its expander is
  open (the first, to begin with), keeping what it built until the taste changes; the printed
  ratio is (plan + first mix) / lists request, what a page run that rebuilds them adds.

With ``--items N`` it also times both on a synthetic N-item bundle (bench/serve.py's realistic
items table, random rank-64 factors) with random 200-track histories, in a fresh process.
Prints numbers, never a pass/fail. Usage: ``python bench/mixes.py [--listeners 300] [--items 600000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._synthetic import add_synthetic_args, measure_in_child, print_child_result, print_ratio  # noqa: E402
from engine.bundle.load import load_bundle  # noqa: E402
from engine.serving.mixes import build_mix, build_mixes, cluster_shares, plan_mixes  # noqa: E402
from engine.serving.options import Options  # noqa: E402
from engine.serving.recommender import Recommender  # noqa: E402


def timed(rec: Recommender, histories: list[dict[str, float]], reps: int) -> dict[str, float]:
    """p50 (ms) of planning the mixes, of building the first one (what a page run with the first
    mix open adds), of building all of them, and of one lists request, interleaved."""
    for h in histories[:2]:  # warm up
        build_mixes(rec, h)
    times: dict[str, list[float]] = {"plan": [], "first": [], "all": [], "lists": []}
    for r in range(reps):
        h = histories[r % len(histories)]
        t = time.perf_counter()
        rec.lists(h, Options())
        times["lists"].append(time.perf_counter() - t)
        t = time.perf_counter()
        plans = plan_mixes(rec, h)
        times["plan"].append(time.perf_counter() - t)
        if plans:
            t = time.perf_counter()
            build_mix(rec, h, plans[0])
            times["first"].append(time.perf_counter() - t)
        t = time.perf_counter()
        build_mixes(rec, h)
        times["all"].append(time.perf_counter() - t)
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}


def report(p: dict[str, float]) -> str:
    return (f"p50 plan {p['plan']:.1f} ms, first mix {p['first']:.1f} ms, all mixes {p['all']:.1f} ms, "
            f"one lists request {p['lists']:.1f} ms")


def demo(listeners: int, reps: int) -> None:
    rec = Recommender(load_bundle(ROOT / "models" / "demo"))
    table = rec.bundle.tables["demo_history"]
    users = sorted(table["user_id"].unique())[:listeners]
    grouped = table[table["user_id"].isin(users)].groupby(["user_id", "track_id"])["weight"].sum()
    histories = [{t: float(w) for t, w in grouped[u].items() if w > 0} for u in users]
    artist_of = dict(zip(rec.bundle.items["track_id"], rec.bundle.items["artist_ids"]))
    genres_of = {t: set(g) for t, g in zip(rec.bundle.items["track_id"], rec.bundle.items["genres"])}
    counts: Counter[int] = Counter()
    lengths, new_shares, in_sound, familiar = [], [], 0, 0
    coherent: dict[str, list[bool]] = {"familiar": [], "new": []}
    for h in histories:
        mixes = build_mixes(rec, h)
        counts[len(mixes)] += 1
        shares = cluster_shares(rec, h)
        for m in mixes:
            lengths.append(len(m))
            new_shares.append(m.stats.share_new)
            part = shares.history(m.cluster)
            here = {a for t in part for a in artist_of[t]}
            sound_genres = {g for t in part for g in genres_of[t]}
            for t, new in zip(m.tracks.track_ids, m.new):
                coherent["new" if new else "familiar"].append(bool(genres_of[t] & sound_genres))
                if not new:
                    familiar += 1
                    in_sound += bool(set(artist_of[t]) & here)
    n = len(lengths)
    print(f"demo bundle ({rec.bundle.n_items:,} items), {len(histories):,} synthetic demo listeners:")
    print("  mixes per listener: " + ", ".join(f"{k}: {counts[k]}" for k in sorted(counts)))
    print(f"  {n:,} mixes: mean length {np.mean(lengths):.1f} (min {min(lengths)}, max {max(lengths)}), "
          f"share of new artists mean {np.mean(new_shares):.0%}, median {np.median(new_shares):.0%}; "
          f"{np.mean(np.asarray(new_shares) <= 0.3):.0%} of mixes at most 30% new")
    print(f"  familiar tracks by the listener's artists in that sound: {in_sound / max(1, familiar):.0%} "
          f"of {familiar:,} (the rest: their other artists' songs in that sound)")
    both = coherent["familiar"] + coherent["new"]
    print(f"  tracks sharing a genre with the listener's history in that sound: {np.mean(both):.0%} "
          f"(familiar {np.mean(coherent['familiar']):.0%}, new {np.mean(coherent['new']):.0%})")
    p = timed(rec, histories, reps)
    print(f"  {report(p)}")
    print_ratio((p["plan"] + p["first"]) / p["lists"])


def measure(models: Path, reps: int, seed: int = 1) -> dict[str, float]:
    """Child process: time the mixes on a synthetic bundle with random 200-track histories."""
    rec = Recommender.load(models)
    rng = np.random.default_rng(seed)
    ids = rec.bundle.items["track_id"].to_numpy()
    histories = [dict(zip(ids[rng.choice(len(ids), 200, replace=False)].tolist(),
                          rng.geometric(0.1, 200).astype(float).tolist())) for _ in range(10)]
    out = timed(rec, histories, reps)
    out["n_mixes"] = float(np.mean([len(build_mixes(rec, h)) for h in histories[:3]]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=300)
    add_synthetic_args(parser, reps=60)
    args = parser.parse_args()
    if args.measure:
        print_child_result(measure(args.measure, args.reps))
        return 0
    demo(args.listeners, args.reps)
    if args.items:
        m = measure_in_child(__file__, n_items=args.items, reps=args.reps, prefix="bench-mixes-")
        print(f"{args.items:,} synthetic items, rank 64, 200-track histories ({m['n_mixes']:.1f} mixes each): "
              f"{report(m)}")
        print_ratio((m["plan"] + m["first"]) / m["lists"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
