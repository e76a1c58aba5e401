"""Listening sources -> the canonical interactions table: the readers in one place.

The canonical interactions table has the columns ``user_id, track_id, weight, source, ts``
(``artist_id`` instead of ``track_id`` for artist-level sources; schema in
:mod:`engine.spark.schemas`); every later stage reads it. This module re-exports the readers of
:mod:`engine.ingest.readers` and holds :data:`FORMATS` and :func:`write_interactions`.

Readers (each returns the interactions DataFrame, the artist-level ones also an artists table,
and a :class:`ReadReport` with read / kept / rejected counts by reason; rejected records go to
``settings.rejects_dir/<source>/``):

- :func:`read_mpd_json` — Million Playlist Dataset JSON slices (``source = "mpd"``)
- :func:`read_playlists_csv` — ``user_id, artistname, trackname, playlistname`` CSV, matched to
  catalogue tracks by name (``source = "playlists"``)
- :func:`read_app_events` — the app's JSON-lines events (``source = "app"``)
- :func:`read_audioscrobbler` — Audioscrobbler artist play counts, aliases applied as read
  (``source = "audioscrobbler"``; items are ``artist_id``)
- :func:`read_hetrec` — Last.fm HetRec 2011 artist play counts (``source = "lastfm"``)

``python -m engine ingest-interactions --format FORMAT PATH... [--out DIR]``
(:mod:`engine.commands.ingest_interactions`) runs one reader and writes parquet (plus an
artists table for the artist-level formats).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.ingest.readers.artists import read_audioscrobbler, read_hetrec
from engine.ingest.readers.common import ReadReport
from engine.ingest.readers.events import read_app_events
from engine.ingest.readers.playlists import read_mpd_json, read_playlists_csv
from engine.spark.io import replace_parquet

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

__all__ = [
    "FORMATS",
    "ReadReport",
    "read_app_events",
    "read_audioscrobbler",
    "read_hetrec",
    "read_mpd_json",
    "read_playlists_csv",
    "write_interactions",
]

FORMATS = ("mpd", "playlists-csv", "events", "audioscrobbler", "hetrec")


def write_interactions(df: "DataFrame", path: str | Path) -> None:
    """Write an interactions (or artists) DataFrame as parquet at ``path``, replacing it.

    Written beside it and swapped in by renames (:func:`engine.spark.io.replace_parquet`), as
    the catalogue is: a failed write leaves the previous table, readers never see half of one,
    and a table can be rewritten from itself. The CLI refuses to write an empty result.
    """
    replace_parquet(df, Path(path))
