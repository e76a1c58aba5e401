"""``python -m engine demo``: write the synthetic demo listeners, or (``--tracks N``) a synthetic catalogue.

The work is done by :mod:`engine.ingest.demo_listeners` and :mod:`engine.ingest.synthetic`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.ingest.demo_listeners import (
    DEFAULT_LISTENERS,
    load_tracks,
    write_demo_listeners,
)
from engine.ingest.synthetic import synthesize_catalog

if TYPE_CHECKING:  # pragma: no cover
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine demo``."""
    parser.add_argument("--listeners", type=int, default=DEFAULT_LISTENERS, help="number of demo listeners")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same output)")
    parser.add_argument(
        "--catalog",
        type=Path,
        default=None,
        help="catalogue: tracks parquet (default data/parquet/tracks) or, with --tracks, a Kaggle CSV "
        "reference (default data/sample/tracks.csv.gz)",
    )
    parser.add_argument("--tracks", type=int, default=None, help="synthesize a catalogue of N tracks instead")
    parser.add_argument("--out", type=Path, default=None, help="output CSV(.gz) for --tracks")


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Write the demo listeners, or a synthetic catalogue with ``--tracks``."""
    if args.tracks is not None:
        if args.tracks < 1:
            raise InputError(f"--tracks must be at least 1, got {args.tracks}")
        reference = load_tracks(args.catalog or settings.sample_dir / "tracks.csv.gz")
        out: Path = args.out or settings.data_dir / "raw" / f"tracks_synthetic_{args.tracks}.csv.gz"
        catalog = synthesize_catalog(reference, args.tracks, seed=args.seed)
        out.parent.mkdir(parents=True, exist_ok=True)
        catalog.to_csv(out, index=False)
        artists = catalog["id_artists"].str.extract(r"^\['([^']+)'")[0].nunique()
        print(
            f"wrote a SYNTHETIC catalogue of {len(catalog):,} tracks by {artists:,} artists to {out} "
            f"(not Spotify data: ids start with 'syn:'; distributions follow {len(reference):,} real tracks)"
        )
        return 0
    inter_dir, listeners_path = write_demo_listeners(
        None, settings, n_listeners=args.listeners, seed=args.seed, tracks_path=args.catalog
    )
    inter = pd.read_parquet(inter_dir)
    print(
        f"wrote {args.listeners:,} SYNTHETIC demo listeners ({len(inter):,} interactions over "
        f"{inter['track_id'].nunique():,} tracks) to {inter_dir} and {listeners_path}; "
        "they are generated, not real people's listening"
    )
    return 0
