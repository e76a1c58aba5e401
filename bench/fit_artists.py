"""Fit the artist draw of ``bench/serve.py`` (``--artists kaggle``) to real catalogue samples.

Reads random samples of the Kaggle ``tracks.csv`` (any number of CSV files with an
``id_artists`` column holding a Python-literal list, e.g. ``['3BiJGZsyX9sJchTqcSA7Su']``),
prints what they show per 10k tracks (distinct artists, the share seen once, the top artist,
credits per track), then draws 600k-track catalogues from Zipf-Mandelbrot weights
``1 / (rank + q)^s`` over ``n / per`` artists, samples each back to the files' size and prints
the grid points closest to the files. The constants ``KAGGLE_*`` in ``bench/serve.py`` come
from one run of this script; the bench itself never reads the samples.

Usage: ``python bench/fit_artists.py SAMPLE.csv.gz [SAMPLE_B.csv.gz ...] [--items 600000]``.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def sample_stats(path: Path) -> tuple[np.ndarray, dict[str, float]]:
    """Credits per track and the artist statistics of one sample file."""
    lists = pd.read_csv(path, usecols=["id_artists"])["id_artists"].map(ast.literal_eval)
    per_track = lists.map(len).to_numpy()
    counts = pd.Series([a for cell in lists for a in cell]).value_counts().to_numpy()
    return per_track, {"tracks": len(lists), "distinct": len(counts), "once": float((counts == 1).mean()),
                       "top": int(counts[0]), "credits": float(per_track.mean())}


def drawn_stats(s: float, q: float, per: int, per_track: np.ndarray, *, n: int, size: int,
                rng: np.random.Generator, reps: int = 4) -> tuple[int, dict[str, float]]:
    """The full-size top artist and the mean sample statistics of one draw."""
    credits = rng.choice(per_track, size=n)
    n_artists = n // per
    weights = 1.0 / (np.arange(1, n_artists + 1) + q) ** s
    artist = rng.choice(n_artists, size=int(credits.sum()), p=weights / weights.sum())
    owner = np.repeat(np.arange(n), credits)
    found = []
    for _ in range(reps):
        picked = np.zeros(n, dtype=bool)
        picked[rng.choice(n, size, replace=False)] = True
        c = np.bincount(artist[picked[owner]], minlength=n_artists)
        c = c[c > 0]
        found.append((len(c), float((c == 1).mean()), int(c.max())))
    d, o, t = np.mean(found, axis=0)
    return int(np.bincount(artist).max()), {"distinct": d, "once": o, "top": t}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", type=Path, nargs="+")
    parser.add_argument("--items", type=int, default=600_000)
    args = parser.parse_args()
    per_track, target = [], []
    for path in args.samples:
        credits, stats = sample_stats(path)
        per_track.append(credits)
        target.append(stats)
        print(f"{path.name}: {stats}")
    goal = {key: float(np.mean([t[key] for t in target])) for key in ("distinct", "once", "top")}
    size = int(np.mean([t["tracks"] for t in target]))
    pool = np.concatenate(per_track)
    print("credits per track:", dict(zip(*np.unique(np.minimum(pool, 8), return_counts=True))), "(8: 8 or more)")
    rng = np.random.default_rng(0)
    rows = []
    for s, q, per in itertools.product((0.8, 0.85, 0.9, 0.95, 1.0), (8.0, 12.0, 16.0, 20.0), (4, 6, 8, 10)):
        top_full, got = drawn_stats(s, q, per, pool, n=args.items, size=size, rng=rng)
        # relative errors; the share seen once weighs most, the noisy top artist least
        loss = ((got["distinct"] - goal["distinct"]) / goal["distinct"]) ** 2 \
            + 4 * ((got["once"] - goal["once"]) / goal["once"]) ** 2 + 0.25 * ((got["top"] - goal["top"]) / goal["top"]) ** 2
        rows.append((loss, s, q, per, top_full, got))
    for loss, s, q, per, top_full, got in sorted(rows, key=lambda r: r[0])[:5]:
        print(f"s={s} q={q} n/{per} artists: loss {loss:.4f}, full-size top artist {top_full:,} tracks, "
              f"per sample: {got['distinct']:.0f} distinct, {got['once']:.2f} once, top {got['top']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
