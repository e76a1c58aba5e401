"""The two lists at catalogue size: what the artist signals cost to build and hold, and per request.

Writes one bundle of ~600k items (bench/serve.py's realistic items table: Zipf artists with
1–3 per track, genres per artist; random rank-64 factors, no item neighbours) and, in a fresh
process that loads it like the app, measures:

- building :class:`engine.serving.artists.ArtistSignals` (artist × genre and collaboration
  matrices; no artist × artist matrix is built) — seconds, and the bytes of its sparse arrays;
- p50 of ``recommend`` with the default request (the blend of the two lists) and with
  ``discovery=None`` (the model's own ranking), for a 200-track history and for an artist-only
  history of 300 artists, each as a ratio to one bare ``Y @ x`` timed in the same loop.

Prints numbers, never a pass/fail. Usage: ``python bench/lists.py [--items 600000] [--reps 50]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.serve import write_bundles  # noqa: E402


def _sparse_bytes(*matrices: object) -> int:
    return sum(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes for m in matrices if m is not None)  # type: ignore[attr-defined]


def measure(models: Path, *, reps: int, seed: int = 1) -> dict:
    """Child process: load like the app and time the lists."""
    from engine.serving.artists import ArtistSignals
    from engine.serving.listening import Listening
    from engine.serving.options import Options
    from engine.serving.recommender import Recommender

    t0 = time.perf_counter()
    rec = Recommender.load(models)
    load_s = time.perf_counter() - t0
    a = rec.artists
    t0 = time.perf_counter()
    ArtistSignals(a.arrays, rec.bundle.items["genres"], extra=rec.bundle.extra, rank=rec.rank, fold=a.fold_params)
    build_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    ids = rec.bundle.items["track_id"].to_numpy()
    artist_ids = rec.arrays.artist_ids
    tracks = [dict(zip(ids[rng.choice(len(ids), 200, replace=False)], rng.geometric(0.1, 200).astype(float)))
              for _ in range(10)]
    artists = [Listening(artists=dict(zip(artist_ids[rng.choice(len(artist_ids), 300, replace=False)].tolist(),
                                          rng.geometric(0.05, 300).astype(float)))) for _ in range(10)]
    y, x = rec._scan, rng.normal(size=rec.rank).astype(np.float32)
    for h in tracks[:2] + artists[:2]:  # warm up
        rec.recommend(h, Options(k=50))
    times: dict[str, list[float]] = {"bare": [], "tracks_lists": [], "tracks_model": [], "artists_lists": []}
    for r in range(reps):
        t = time.perf_counter()
        y @ x
        times["bare"].append(time.perf_counter() - t)
        for name, h, opts in (("tracks_lists", tracks[r % 10], Options(k=50)),
                              ("tracks_model", tracks[r % 10], Options(k=50, discovery=None)),
                              ("artists_lists", artists[r % 10], Options(k=50))):
            t = time.perf_counter()
            rec.recommend(h, opts)
            times[name].append(time.perf_counter() - t)
    p50 = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
    return {"n_items": rec.bundle.n_items, "n_artists": a.n_artists, "load_s": load_s, "build_s": build_s,
            "signal_mib": _sparse_bytes(a.item_artist, a.artist_items, a._genre, a._collab) / 2**20,
            "genre_pairs": int(a._genre.nnz), "collab_pairs": int(a._collab.nnz), "p50_ms": p50}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=600_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, reps=args.reps)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-lists-") as tmp:
        models = write_bundles(Path(tmp), n_items=args.items, ranks=[64], top_n=0)[64]
        child = subprocess.run([sys.executable, __file__, "--measure", str(models), "--reps", str(args.reps)],
                               capture_output=True, text=True, check=True)
    m = json.loads(child.stdout.strip().splitlines()[-1])
    p = m["p50_ms"]
    print(f"{m['n_items']:,} items, {m['n_artists']:,} artists, rank 64, k=50:\n"
          f"  artist signals: built in {m['build_s']:.1f} s (bundle load {m['load_s']:.1f} s in all), "
          f"{m['signal_mib']:.0f} MiB sparse ({m['genre_pairs']:,} artist-genre pairs, {m['collab_pairs']:,} collaboration pairs)\n"
          f"  bare Y @ x                                 p50 {p['bare']:.1f} ms\n"
          f"  200-track history, model order only        p50 {p['tracks_model']:.1f} ms (x{p['tracks_model'] / p['bare']:.1f} of bare)\n"
          f"  200-track history, the two lists + blend   p50 {p['tracks_lists']:.1f} ms (x{p['tracks_lists'] / p['bare']:.1f})\n"
          f"  300 artists only, the two lists + blend    p50 {p['artists_lists']:.1f} ms (x{p['artists_lists'] / p['bare']:.1f})")
    print(f"ratio: {p['tracks_lists'] / p['tracks_model']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
