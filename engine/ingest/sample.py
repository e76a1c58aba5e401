"""Build ``data/sample/``, the small real catalogue slice that ships with the repo.

``python scripts/build_sample.py [--source DIR] [--out DIR]`` (a maintainer tool) reads the
real Kaggle datasets in ``DIR`` (default ``SHARED_DATA_DIR``) and writes:

- ``tracks.csv.gz``: the random 10,000-track sample of the Kaggle ``tracks.csv``, copied
  byte for byte;
- ``artists.csv.gz``: the rows of the random 10,000-artist sample of ``artists.csv`` whose
  artist appears on one of those tracks (the two samples are independent: few overlap);
- ``genres.csv.gz``: the ``artists, genres`` rows (by artist name, from the 160k-tracks
  dataset's ``data_w_genres.csv``) for the artists named by those tracks;
- ``README.md``: source, attribution and licence.

The output is deterministic (gzip without timestamps), so rebuilding changes no bytes.
Runs without Spark: the inputs are small and this is a packaging step, not the pipeline.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pandas as pd

from engine.core.config import ROOT
from engine.ingest.catalog import SAMPLE_FILES
from engine.ingest.catalog_parse import parse_list_literal

SOURCES = {
    "tracks": "tracks_sample10k.csv.gz",
    "artists": "artists_sample10k.csv.gz",
    "genres": "artist_genres_160k.csv.gz",
}

README = """# The shipped catalogue sample

A small, real slice of the Spotify catalogue so that `make run` works without a download.
Built by `python scripts/build_sample.py --source DIR` from the real Kaggle files (see `engine/ingest/sample.py`).

| file | rows | what it is |
|---|---|---|
| `tracks.csv.gz` | {tracks:,} | a random sample of the Kaggle `tracks.csv` (all 20 columns; the leading unnamed column is the row index in the original 586,672-row file) |
| `artists.csv.gz` | {artists:,} | the rows of a random 10,000-row sample of the Kaggle `artists.csv` whose artist appears on one of these tracks (independent samples, so few) |
| `genres.csv.gz` | {genres:,} | `artists, genres` by artist name for the artists of these tracks, from `data_w_genres.csv` of the sister "160k+ Tracks" dataset; gives genres to about half of the tracks |

Ingest it with `python -m engine ingest-catalog --sample` (done by `make run`).

## Source and attribution

- Kaggle dataset "Spotify Dataset 1921-2020, 600k+ Tracks" by the Kaggle user yamaerenay,
  https://www.kaggle.com/datasets/yamaerenay/spotify-dataset-19212020-600k-tracks
  (`tracks.csv`, `artists.csv`), and its sister dataset "Spotify Dataset 1921-2020, 160k+
  Tracks" by the same author (`data_w_genres.csv`).
- The data were collected from the Spotify Web API. Spotify is a trademark of Spotify AB;
  this project is not affiliated with or endorsed by Spotify.
- The sample files were taken from public copies of those files on GitHub
  (ATGT92/Proyecto-Visualizaci-n for the tracks and artists samples,
  veronicasoden/Spotify-Recs for the genres file).

## Licence

The data come from the Spotify Web API and remain subject to Spotify's Developer Terms;
check the Kaggle dataset page for its terms before any other use. We redistribute only
this small, attributed sample for development and demonstration; it is not covered by the
licence of this project's code. For real use, download the full dataset from Kaggle and run

    python -m engine ingest-catalog --tracks tracks.csv --artists artists.csv

(add `--genres data_w_genres.csv` for name-based genres of artists `artists.csv` lacks).
"""


def _read(path: Path) -> pd.DataFrame:
    # Everything as text, nothing turned into NaN: rows are written back unchanged.
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _write_gz(df: pd.DataFrame, path: Path) -> None:
    """CSV written like pandas wrote the originals, gzipped without a timestamp (stable bytes)."""
    # pandas reads the originals' empty index header as "Unnamed: 0"; write it back empty.
    df = df.rename(columns=lambda c: "" if c.startswith("Unnamed: ") else c)
    text = df.to_csv(index=False, lineterminator="\n")
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("utf-8"))


def build_sample(source: Path, out: Path = ROOT / "data" / "sample") -> dict[str, int]:
    """Write the sample files into ``out``; returns the row count of each file.

    Parameters
    ----------
    source : Path
        Folder with the real datasets (``tracks_sample10k.csv.gz`` ...).
    out : Path
        Destination, normally ``data/sample``.
    """
    missing = [name for name in SOURCES.values() if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{source}: missing {', '.join(missing)} (the Kaggle 600k-tracks and 160k-tracks files)")
    out.mkdir(parents=True, exist_ok=True)
    tracks = _read(source / SOURCES["tracks"])
    shutil.copyfile(source / SOURCES["tracks"], out / SAMPLE_FILES["tracks"])
    ids: set[str] = set()
    names: set[str] = set()
    for cell in tracks["id_artists"]:
        ids.update(parse_list_literal(cell) or [])
    for cell in tracks["artists"]:
        names.update(parse_list_literal(cell) or [])
    artists = _read(source / SOURCES["artists"])
    artists = artists[artists["id"].isin(ids)]
    genres = _read(source / SOURCES["genres"])
    genres = genres[genres["artists"].isin(names)]
    _write_gz(artists, out / SAMPLE_FILES["artists"])
    _write_gz(genres, out / SAMPLE_FILES["genres"])
    counts = {"tracks": len(tracks), "artists": len(artists), "genres": len(genres)}
    (out / "README.md").write_text(README.format(**counts), encoding="utf-8")
    return counts
