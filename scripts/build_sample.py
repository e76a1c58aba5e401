"""Rebuild ``data/sample/`` (the small real catalogue slice shipped with the repo).

    python scripts/build_sample.py [--source DIR] [--out DIR]

``DIR`` holds the real Kaggle files (``tracks_sample10k.csv.gz``, ``artists_sample10k.csv.gz``,
``artist_genres_160k.csv.gz``); the default is ``SHARED_DATA_DIR``. The output is deterministic,
so a rebuild from the same files changes no bytes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.config import ROOT, Settings  # noqa: E402
from engine.ingest.catalog import SAMPLE_FILES  # noqa: E402
from engine.ingest.sample import build_sample  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Build the sample and print what was written."""
    parser = argparse.ArgumentParser(prog="python scripts/build_sample.py", description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None, help="folder with the real datasets (default SHARED_DATA_DIR)")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "sample", help="output folder")
    args = parser.parse_args(argv)
    try:
        counts = build_sample(args.source or Settings.from_env().shared_data_dir, args.out)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for kind, n in counts.items():
        path = args.out / SAMPLE_FILES[kind]
        print(f"{path}: {n:,} rows, {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
