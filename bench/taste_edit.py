"""Untick -> re-folded recommendations, for a 2,000-track history (target: under 100 ms).

What the Recommendations page recomputes after the listener unticks an artist, a song or a
month of listening: the exclusions applied to the request (``webapp.taste_edit.taste_request``:
``engine.serving.exclusions`` over the history and its timeline), the exact fold-in and
recommend (k=20, the page's default re-ranking, explanations), and the "Why this?" listens of
the 20 cards (``engine.serving.listens``, one fold-in for all). Streamlit's own drawing is not
included. Each repetition unticks one new thing of the full history (in turn an artist, a
song, a month), so no two requests fold the same history and each folds ~2,000 tracks.

Two bundles: the committed demo bundle (``models/demo``) and, unless ``--items 0``, a synthetic
one of the real catalogue's size written by ``bench/serve.py``'s builder (random factors,
realistic items table, ``--top-n`` item neighbours per item: the served blend). The synthetic
history has 2,000 tracks with factors, heavy-tailed play counts, and one timed entry per play
spread over two years (like a data export).

Prints p50/p95 in ms of each part, never a pass/fail. The last line is ``ratio: N.NN``: the
worst p95 of the whole re-fold (exclusions + recommend + listens) over the 100 ms target.
Usage: ``python bench/taste_edit.py [--items 600000] [--history 2000] [--reps 60] [--top-n 100]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serve import write_bundles
from engine.bundle.load import load_bundle
from engine.serving.exclusions import Exclusions, Timeline, history_artists
from engine.serving.listens import listens_behind
from engine.serving.recommender import Recommender
from engine.state.store import Feedback
from webapp.listeners import KIND_EXPORT, Listener, RecControls
from webapp.taste_edit import taste_request

TARGET_MS = 100.0
DAY = 86_400
START = 1_700_000_000  # November 2023: two years of listening from here


def synthetic_listener(rec: Recommender, n_tracks: int, rng: np.random.Generator) -> Listener:
    """``n_tracks`` tracks with factors, play counts ~ geometric (mean 5), one timed entry per play."""
    rows = np.flatnonzero(rec.arrays.has_factors)
    if len(rows) < n_tracks:
        raise SystemExit(f"the bundle has {len(rows):,} tracks with factors, fewer than --history {n_tracks:,}")
    picked = rng.choice(rows, n_tracks, replace=False)
    ids = rec.bundle.items["track_id"].to_numpy(dtype=object)[picked]
    plays = rng.geometric(0.2, n_tracks)
    codes = np.repeat(np.arange(n_tracks, dtype=np.int32), plays)
    epochs = START + rng.integers(0, 730 * DAY, size=len(codes), dtype=np.int64)
    weights = 0.5 ** ((START + 730 * DAY - epochs) / (365.0 * DAY))  # the export's one-year half-life
    timeline = Timeline(tuple(str(t) for t in ids), codes, epochs, weights)
    history = {str(t): float(w) for t, w in zip(ids, np.bincount(codes, weights=weights, minlength=n_tracks))}
    return Listener(kind=KIND_EXPORT, label="bench", history=history, timeline=timeline)


def edits(rec: Recommender, listener: Listener, reps: int) -> list[Exclusions]:
    """``reps`` single unticks of the full history, in turn an artist (heaviest first), a song
    and a month (which lowers every track played in it)."""
    artists = [a.artist_id for a in history_artists(rec, listener.history)]
    tracks = list(listener.history)
    out = []
    for r in range(reps):
        step = r // 3
        if r % 3 == 0:
            out.append(Exclusions(artists={artists[step % len(artists)]}))
        elif r % 3 == 1:
            out.append(Exclusions(tracks={tracks[(7 * step) % len(tracks)]}))
        else:
            month = START + (step % 24) * 30 * DAY
            out.append(Exclusions(periods=[(month, month + 30 * DAY)]))
    return out


def measure(rec: Recommender, *, history_len: int, reps: int, seed: int = 3) -> dict[str, float]:
    """Time each part of the re-fold over ``reps`` unticks (after 3 warm-up requests)."""
    rng = np.random.default_rng(seed)
    listener = synthetic_listener(rec, history_len, rng)
    steps = edits(rec, listener, reps + 3)
    plays = listener.timeline.plays() if listener.timeline is not None else None
    controls, feedback = RecControls(), Feedback()
    parts: dict[str, list[float]] = {"exclusions": [], "recommend": [], "listens": [], "total": []}
    removed = [0]
    for r, excl in enumerate(steps):
        t0 = time.perf_counter()
        history, options, edit = taste_request(rec, listener, controls, feedback, excl)
        t1 = time.perf_counter()
        out = rec.recommend(history, options)
        t2 = time.perf_counter()
        why = listens_behind(rec, history, out.track_ids, plays=plays)
        t3 = time.perf_counter()
        if r < 3:
            continue  # warm-up: page in the factors, build lazy tables
        assert len(out) == options.k and len(why) == len(out) and not set(edit.removed) & set(out.track_ids)
        removed.append(len(edit.removed))
        for name, value in (("exclusions", t1 - t0), ("recommend", t2 - t1), ("listens", t3 - t2), ("total", t3 - t0)):
            parts[name].append(value * 1e3)
    result = {f"{k}_p{q}": float(np.percentile(v, q)) for k, v in parts.items() for q in (50, 95)}
    result.update(n_items=float(rec.bundle.n_items), rank=float(rec.rank), entries=float(len(listener.timeline or ())),
                  removed_max=float(max(removed)))
    return result


def report(name: str, m: dict[str, float], history_len: int) -> None:
    print(f"{name}: {int(m['n_items']):,} items, rank {int(m['rank'])}, {history_len:,}-track history "
          f"({int(m['entries']):,} timed plays; one untick removes up to {int(m['removed_max']):,} tracks):", flush=True)
    for part, what in (("exclusions", "apply exclusions"), ("recommend", "fold-in + recommend k=20"),
                       ("listens", "Why this? for 20 cards"), ("total", "untick -> re-folded list")):
        print(f"  {what:<26} p50 {m[f'{part}_p50']:7.2f} ms, p95 {m[f'{part}_p95']:7.2f} ms", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=ROOT / "models" / "demo", help="the demo bundle directory")
    parser.add_argument("--items", type=int, default=600_000, help="synthetic bundle size (0: demo bundle only)")
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--top-n", type=int, default=100, help="neighbours per item in the synthetic bundle")
    parser.add_argument("--history", type=int, default=2_000)
    parser.add_argument("--reps", type=int, default=60)
    args = parser.parse_args()
    worst = []
    demo = measure(Recommender(load_bundle(args.demo)), history_len=args.history, reps=args.reps)
    report(f"demo bundle ({args.demo.name})", demo, args.history)
    worst.append(demo["total_p95"])
    if args.items:
        with tempfile.TemporaryDirectory(prefix="bench-taste-") as tmp:
            (models,) = write_bundles(Path(tmp), n_items=args.items, ranks=[args.rank], top_n=args.top_n).values()
            big = measure(Recommender.load(models), history_len=args.history, reps=args.reps)
        report("synthetic bundle (bench/serve.py builder)", big, args.history)
        worst.append(big["total_p95"])
    print(f"ratio: {max(worst) / TARGET_MS:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
