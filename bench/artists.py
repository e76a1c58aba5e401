"""The artist model at catalogue scale: time and sizes of ``fit_artist_model`` on Spark.

A synthetic catalogue shaped like the real one (:func:`engine.ingest.synthetic.synthesize_catalog`
from ``data/sample/tracks.csv.gz``: artist sizes, artists per track) gets synthetic genres —
each artist 0–4 of 3,000 genres drawn Zipf-like, so a few genres are held by thousands of
artists, as "pop" or "rock" are — and a track's genres are the union of its artists', as the
catalogue ingest makes them. Listening comes from
:func:`engine.ingest.synthetic.make_synthetic_interactions`. Then the artist model of
``python -m engine train`` runs: listener × artist, ALS (rank 64, 10 iterations), and the
similar-artist blend (co-listening, genres with the 1,000-artist cap, collaborations), top 50.

Prints the sizes (artists, listeners, listener × artist pairs, similar pairs kept), the time
and the bytes of the artist arrays; never pass/fail. Usage: ``python bench/artists.py
[--full]`` (default, as ``make bench`` runs it: 50k tracks and 100k interactions; ``--full``:
600k tracks and 1M interactions, about 11 minutes on 2 cores with the default 4 GB driver).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.core.config import Settings
from engine.ingest.synthetic import make_synthetic_interactions, synthesize_catalog

N_GENRES = 3000


def canonical_tracks(kaggle: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    """``track_id, artist_ids, genres`` with synthetic Zipf-distributed artist genres."""
    rng = np.random.default_rng(seed)
    artist_ids = [list(ast.literal_eval(cell)) for cell in kaggle["id_artists"]]  # Kaggle list literals
    artists = sorted({a for ids in artist_ids for a in ids})
    popularity = 1.0 / np.arange(1, N_GENRES + 1) ** 1.1
    popularity /= popularity.sum()
    counts = rng.integers(0, 5, size=len(artists))
    drawn = rng.choice(N_GENRES, size=int(counts.sum()), p=popularity)
    genres_of, start = {}, 0
    for a, k in zip(artists, counts):
        genres_of[a] = sorted({f"genre{g}" for g in drawn[start:start + k]})
        start += k
    genres = [list(dict.fromkeys(g for a in ids for g in genres_of[a])) for ids in artist_ids]
    return pd.DataFrame({"track_id": kaggle["id"].to_numpy(), "artist_ids": artist_ids, "genres": genres})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="600k tracks, 1M interactions (default 50k, 100k)")
    args = parser.parse_args()
    n_tracks, n_inter = (600_000, 1_000_000) if args.full else (50_000, 100_000)

    from engine.spark.session import get_spark
    from engine.training.als import AlsParams
    from engine.training.artist_similarity import ArtistSimilarityParams
    from engine.training.artists import fit_artist_model

    t0 = time.perf_counter()
    kaggle = synthesize_catalog(pd.read_csv(ROOT / "data" / "sample" / "tracks.csv.gz"), n_tracks, seed=7)
    tracks_pdf = canonical_tracks(kaggle)
    plays = make_synthetic_interactions(kaggle, n_inter, seed=1, mean_per_user=40.0)
    print(f"synthetic data: {len(tracks_pdf):,} tracks, {len(plays):,} interactions ({time.perf_counter() - t0:.0f}s)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tracks_pdf.to_parquet(work / "tracks.parquet", index=False)
        plays.drop(columns=["ts"]).to_parquet(work / "plays.parquet", index=False)
        settings = Settings.from_env(env_file=None).with_overrides(
            data_dir=work / "data", spark_driver_memory=os.environ.get("SPARK_DRIVER_MEMORY", "4g"),
        )
        spark = get_spark(settings, app_name="bench-artists")
        tracks = spark.read.parquet(str(work / "tracks.parquet"))
        inter = spark.read.parquet(str(work / "plays.parquet"))
        t = time.perf_counter()
        model = fit_artist_model(spark, tracks=tracks, interactions=inter, als=AlsParams(),
                                 similarity=ArtistSimilarityParams())
        total = time.perf_counter() - t
        spark.stop()
    info = model.info
    size = sum(np.asarray(a).nbytes for a in model.to_extra().values())
    per_row = np.diff(model.similar_indptr)
    print(f"artists {info['n_artists']:,} ({info['n_with_factors']:,} with factors), listeners "
          f"{info['n_listeners']:,}, listener x artist pairs {info['n_listener_artist_pairs']:,}")
    print(f"similar pairs kept {info['n_similar_pairs']:,} (per artist: median {np.median(per_row):.0f}, "
          f"empty rows {(per_row == 0).sum():,})")
    print(f"fit_artist_model: {total:.0f} s on {os.cpu_count()} cores; artist arrays {size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
