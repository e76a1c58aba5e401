"""``python -m engine ingest-interactions``: one listening-data reader -> ``interactions_<source>`` parquet.

Artist-level formats also write ``artists_<source>``; the work is done by :mod:`engine.ingest.interactions`.
A read that yields no interactions (an empty file) is refused (exit 2) and leaves the table as
it was; tables are swapped in only once completely written.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.ingest.interactions import FORMATS, write_interactions
from engine.ingest.readers.artists import read_audioscrobbler, read_hetrec
from engine.ingest.readers.common import check_local_paths
from engine.ingest.readers.events import read_app_events
from engine.ingest.readers.playlists import read_mpd_json, read_playlists_csv
from engine.spark.session import get_spark

# -- CLI -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m engine ingest-interactions``."""
    parser.add_argument("--format", required=True, choices=FORMATS, help="input format")
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=(
            "input files; audioscrobbler: user_artist_data [artist_data] [artist_alias], "
            "hetrec: user_artists.dat [artists.dat] (roles told apart by file name)"
        ),
    )
    parser.add_argument("--out", type=Path, default=None, help="output directory (default data/parquet)")
    parser.add_argument(
        "--tracks",
        type=Path,
        default=None,
        help="catalogue tracks parquet for --format playlists-csv (default data/parquet/tracks)",
    )


def _roles(paths: list[str], patterns: dict[str, str]) -> dict[str, str]:
    """Assign each path a role by the first pattern its file name matches (in dict order)."""
    roles: dict[str, str] = {}
    for p in paths:
        name = Path(p).name.lower()
        role = next((r for r, pattern in patterns.items() if re.search(pattern, name)), None)
        if role is None:
            raise InputError(f"{p}: cannot tell which file this is (expected names like {', '.join(patterns)})")
        if role in roles:
            raise InputError(f"{p}: a second {role} file (first was {roles[role]})")
        roles[role] = p
    return roles


def main(args: argparse.Namespace, settings: Settings) -> int:
    """Run one reader, write parquet, print the report."""

    check_local_paths(args.paths)  # before starting a JVM
    out_dir: Path = args.out or settings.parquet_dir
    spark = get_spark(settings, app_name="ingest-interactions")
    artists = None
    if args.format == "mpd":
        df, report = read_mpd_json(spark, args.paths, settings=settings)
    elif args.format == "events":
        if len(args.paths) != 1:
            raise InputError("--format events takes one file or directory")
        df, report = read_app_events(spark, args.paths[0], settings=settings)
    elif args.format == "playlists-csv":
        if len(args.paths) != 1:
            raise InputError("--format playlists-csv takes one CSV file")
        tracks_path = args.tracks or settings.parquet_dir / "tracks"
        if not Path(tracks_path).exists():
            raise InputError(f"{tracks_path}: no catalogue tracks; run `python -m engine ingest-catalog` first")
        tracks = spark.read.parquet(str(tracks_path))
        df, report = read_playlists_csv(spark, args.paths[0], tracks, settings=settings)
    elif args.format == "audioscrobbler":
        roles = _roles(
            args.paths,
            {"user_artist_data": r"user_artist", "artist_alias": r"alias", "artist_data": r"artist_data"},
        )
        if "user_artist_data" not in roles:
            raise InputError("--format audioscrobbler needs a user_artist_data file")
        df, artists, report = read_audioscrobbler(
            spark,
            roles["user_artist_data"],
            artist_data_path=roles.get("artist_data"),
            alias_path=roles.get("artist_alias"),
            settings=settings,
        )
    else:  # hetrec
        roles = _roles(args.paths, {"user_artists": r"user_artists", "artists": r"artists"})
        if "user_artists" not in roles:
            raise InputError("--format hetrec needs a user_artists.dat file")
        df, artists, report = read_hetrec(
            spark, roles["user_artists"], artists_path=roles.get("artists"), settings=settings
        )
    name = report.source
    target = out_dir / f"interactions_{name}"
    if report.interactions == 0:  # an empty file must not replace a table that has rows
        raise InputError(f"{', '.join(args.paths)}: no interactions to write ({report.summary()}); "
                         f"{target} left as it was")
    write_interactions(df, target)
    for line in report.summary_lines():
        print(line)
    print(f"wrote {target}")
    if artists is not None:
        write_interactions(artists, out_dir / f"artists_{name}")
        print(f"wrote {out_dir / f'artists_{name}'}")
    return 0
