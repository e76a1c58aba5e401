"""Catalogue ingest on real Spark: list literals, dates, rejects, errors, the shipped sample,
and the real files of ../shared/data.

The three ingests (tiny tricky fixture, shipped sample, real shared files) run once per module;
the tests then look at their outputs.
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from engine.__main__ import main as cli_main
from engine.core.config import ROOT, Settings
from engine.core.errors import InputError
from engine.core.schemas import SPOTIFY_ID_PATTERN, SYNTHETIC_ID_PREFIX, TRACK_COLUMNS
from engine.ingest.catalog import CatalogReport, ingest_catalog, ingest_sample
from engine.ingest.catalog_parse import (
    parse_list_literal,
    plausible_year,
    release_year,
    to_double,
    to_integral,
)
from engine.spark.schemas import artists_schema, tracks_schema

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "catalog"
T = lambda n: f"Trk{n:019d}"  # noqa: E731  (ids of tests/data/catalog/tracks_tricky.csv)
A = lambda n: f"Art{n:019d}"  # noqa: E731


def _settings(tmp: Path) -> Settings:
    (tmp / "data").mkdir(parents=True, exist_ok=True)
    return Settings.from_env({}, env_file=None).with_overrides(
        data_dir=tmp / "data", models_dir=tmp / "models", spark_master="local[2]", spark_shuffle_partitions=4
    )


def _tracks(spark, report: CatalogReport) -> pd.DataFrame:
    return spark.read.parquet(str(report.tracks_path)).toPandas().set_index("track_id", drop=False)


# -- pure parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("['Uli']", ["Uli"]),
        ("['Uli', 'X']", ["Uli", "X"]),
        ("[]", []),
        ("['Tyler, The Creator', 'Earl']", ["Tyler, The Creator", "Earl"]),
        ('["Guns N\' Roses"]', ["Guns N' Roses"]),
        ("[\"Sergio Mendes & Brasil '66\", 'Zé']", ["Sergio Mendes & Brasil '66", "Zé"]),
        ("['Björk', '坂本龍一', 'Beyoncé 🎤']", ["Björk", "坂本龍一", "Beyoncé 🎤"]),
        ("['It\\'s \\\\ odd', 'a, b']", ["It's \\ odd", "a, b"]),
        ("['He said \"hi\"']", ['He said "hi"']),
        ("['line\\nbreak']", ["line\nbreak"]),
        (" ['padded'] ", ["padded"]),
        ("['Uli", None),
        ("Uli", None),
        ("[1, 2]", None),
        ("['a'] + ['b']", None),
        ("__import__('os')", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_list_literal(text: str | None, expected: list[str] | None) -> None:
    assert parse_list_literal(text) == expected


def test_release_year_accepts_every_form_and_rejects_impossible_dates(spark) -> None:
    cases = {
        "2019-05-17": 2019,
        "1999": 1999,
        "1971-03": 1971,
        "22-02-1922": 1922,  # spreadsheet day-first
        "01-06-1922": 1922,
        "7/11/1950": 1950,
        "12/31/1999": 1999,  # month-first, as a US-locale spreadsheet writes it
        "31.12.1960": 1960,
        " 2001 ": 2001,
        "1900-01-01": 1900,  # Spotify's placeholder for unknown dates: kept
        "2021-13-01": None,
        "1922-02-30": None,
        "31-31-1999": None,
        "2019-5-17": None,
        "0000": None,
        "1849": None,
        "2031": None,
        "someday": None,
        "": None,
    }
    df = spark.createDataFrame([(k,) for k in cases] + [(None,)], "d string")
    year = release_year(df["d"])
    checked = df.select("d", F.when(plausible_year(year, max_year=2030), year).alias("y"))
    got = {r["d"]: r["y"] for r in checked.collect()}
    assert got == {**cases, None: None}


def test_numbers_parse_strictly(spark) -> None:
    values = ["4", "4.0", " 4 ", "-7.5", "1e3", ".5", "4.5", "NaN", "Infinity", "loud", "", "0x10"]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    rows = df.select("v", to_double(df["v"]).alias("d"), to_integral(df["v"], "bigint").alias("i")).collect()
    got = {r["v"]: (r["d"], r["i"]) for r in rows}
    assert got == {
        "4": (4.0, 4),
        "4.0": (4.0, 4),
        " 4 ": (4.0, 4),
        "-7.5": (-7.5, None),
        "1e3": (1000.0, None),
        ".5": (0.5, None),
        "4.5": (4.5, None),
        "NaN": (None, None),
        "Infinity": (None, None),
        "loud": (None, None),
        "": (None, None),
        "0x10": (None, None),
    }


# -- the tricky fixture --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tricky(spark, tmp_path_factory) -> tuple[Settings, CatalogReport]:
    settings = _settings(tmp_path_factory.mktemp("tricky"))
    report = ingest_catalog(
        spark,
        settings,
        tracks_path=FIXTURES / "tracks_tricky.csv",
        artists_path=FIXTURES / "artists.csv",
        genres_path=FIXTURES / "genres.csv",
    )
    return settings, report


def test_tricky_counts_by_reason(tricky) -> None:
    _, report = tricky
    assert (report.read, report.kept) == (16, 7)
    assert dict(report.rejected) == {
        "malformed CSV row": 1,
        "bad track_id": 1,
        "bad artists list": 1,
        "artists/id_artists length mismatch": 1,
        "bad release_date": 2,
        "non-numeric energy": 1,
        "bad explicit": 1,
        "duplicate track_id": 1,
    }
    assert report.tracks.summary().startswith("read 16, kept 7, rejected 9: bad release_date 2, ")
    assert (report.artists.read, report.artists.kept, dict(report.artists.rejected)) == (
        5,
        3,
        {"bad artist_id": 1, "non-numeric followers": 1},
    )
    assert dict(report.genres.rejected) == {"bad genres list": 1}


def test_tricky_values_survive_quotes_commas_newlines_unicode(spark, tricky) -> None:
    _, report = tricky
    t = _tracks(spark, report)
    assert list(t.columns) == list(TRACK_COLUMNS)
    assert list(t["track_id"]) == [T(1), T(2), T(3), T(4), T(5), f"{SYNTHETIC_ID_PREFIX}000000000001", T(16)]
    assert t.loc[T(1), "name"] == 'Hello, "World"'  # the first copy of the duplicated id wins
    assert list(t.loc[T(1), "artist_names"]) == ["Tyler, The Creator", "Guns N' Roses"]
    assert list(t.loc[T(1), "artist_ids"]) == [A(1), A(2)]
    assert t.loc[T(2), "name"] == "Line one\nLine two"
    assert bool(t.loc[T(2), "explicit"]) is True
    assert t.loc[T(3), "name"] == "Ça va — 日本語 🎵"
    assert list(t.loc[T(3), "artist_names"]) == ["Sergio Mendes & Brasil '66", "Zé"]
    assert list(t.loc["syn:000000000001", "artist_names"]) == ["It's \\ odd", "Uli"]
    dates = t.set_index("track_id")[["release_date", "release_year"]].to_dict("index")
    assert dates[T(1)] == {"release_date": "2019-05-17", "release_year": 2019}
    assert dates[T(3)] == {"release_date": "1971-03", "release_year": 1971}
    assert dates[T(4)] == {"release_date": "22-02-1922", "release_year": 1922}
    assert dates[T(5)] == {"release_date": "07/11/1950", "release_year": 1950}
    assert t.loc[T(16), "popularity"] == 45  # "45.0", as pandas writes ints with NaNs
    row = t.loc[T(1)]
    assert (row["duration_ms"], row["key"], row["tempo"], row["loudness"]) == (200000, 5, 120.0, -7.5)


def test_genres_by_artist_id_then_by_name_for_artists_the_table_lacks(spark, tricky) -> None:
    _, report = tricky
    genres = {k: list(v) for k, v in _tracks(spark, report)["genres"].items()}
    assert genres[T(1)] == ["hip hop", "rap", "hard rock"]  # union in artist order, deduplicated
    assert genres[T(2)] == []  # Björk is in the artists table with no genres: the name file is not used
    assert genres[T(3)] == ["bossa nova"]
    assert genres[T(4)] == ["krautrock"]
    assert genres["syn:000000000001"] == ["krautrock"]
    assert report.tracks_with_genres == 6


def test_artists_table_has_file_rows_then_track_only_artists(spark, tricky) -> None:
    _, report = tricky
    a = spark.read.parquet(str(report.artists_path)).toPandas()
    assert list(a["artist_id"]) == [A(1), A(3), A(4), A(2), A(5), A(6), A(7)]
    rows = a.set_index("artist_id")
    assert rows.loc[A(1), "followers"] == 1000 and rows.loc[A(1), "popularity"] == 80
    assert pd.isna(rows.loc[A(4), "followers"])  # blank in the file: null, row kept
    assert rows.loc[A(2), "name"] == "Guns N' Roses" and list(rows.loc[A(2), "genres"]) == ["hard rock", "rap"]
    assert pd.isna(rows.loc[A(6), "followers"]) and list(rows.loc[A(6), "genres"]) == ["krautrock"]


def test_rejects_file_holds_raw_row_and_reason(tricky) -> None:
    settings, report = tricky
    assert report.tracks.rejects_path == settings.rejects_dir / "catalog_tracks.csv"
    rejects = pd.read_csv(report.tracks.rejects_path, dtype=str, keep_default_na=False)
    assert list(rejects.columns[:2]) == ["reason", "source_file"]
    assert len(rejects) == 9
    by_id = rejects.set_index("id")
    assert by_id.loc["not-an-id", "reason"] == "bad track_id"
    assert by_id.loc[T(13), "reason"] == "non-numeric energy" and by_id.loc[T(13), "energy"] == "loud"
    assert by_id.loc[T(12), "release_date"] == "someday"
    assert by_id.loc[T(9), "artists"] == "['Uli"
    assert by_id.loc[T(15), "reason"] == "malformed CSV row"
    assert by_id.loc[T(15), "raw_record"] == f"15,{T(15)},Too few fields,40"
    dup = rejects[rejects["reason"] == "duplicate track_id"]
    assert list(dup["name"]) == ["Duplicate of row 1"]
    assert rejects["source_file"].str.endswith("tracks_tricky.csv").all()
    artist_rejects = pd.read_csv(report.artists.rejects_path, dtype=str, keep_default_na=False)
    assert sorted(artist_rejects["id"]) == [A(8), "bad id"]


# -- errors --------------------------------------------------------------------------------


def test_missing_column_names_the_file_and_the_column(spark, settings) -> None:
    path = FIXTURES / "tracks_missing_column.csv"
    with pytest.raises(InputError, match=r"missing required column 'release_date'") as info:
        ingest_catalog(spark, settings, tracks_path=path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_cli_prints_one_line_and_exits_2_on_a_missing_column(spark, settings, monkeypatch, capsys) -> None:
    # the CLI reuses the test session; keep its settings equal to the fixture's
    env = {"DATA_DIR": settings.data_dir, "SPARK_MASTER": "local[2]", "SPARK_SHUFFLE_PARTITIONS": 4}
    for var, value in env.items():
        monkeypatch.setenv(var, str(value))
    path = FIXTURES / "tracks_missing_column.csv"
    assert cli_main(["ingest-catalog", "--tracks", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "release_date" in err and str(path) in err
    assert "\n" not in err and "Traceback" not in err


@pytest.mark.parametrize("content", [None, b"this is not gzip data", b""])
def test_unreadable_file_is_one_clear_line(spark, settings, tmp_path, content: bytes | None) -> None:
    path = tmp_path / "tracks.csv.gz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=r"^cannot read tracks file .*tracks\.csv\.gz: ") as info:
        ingest_catalog(spark, settings, tracks_path=path)
    assert "\n" not in str(info.value)


def test_nothing_usable_is_an_error_after_writing_rejects(spark, settings, tmp_path) -> None:
    lines = (FIXTURES / "tracks_tricky.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    bad = [lines[0]] + [ln for ln in lines if ln.startswith(("8,", "11,", "12,"))]
    path = tmp_path / "all_bad.csv"
    path.write_text("".join(bad), encoding="utf-8")
    with pytest.raises(InputError, match=r"nothing usable in tracks file .*read 3, kept 0, rejected 3"):
        ingest_catalog(spark, settings, tracks_path=path)
    assert len(pd.read_csv(settings.rejects_dir / "catalog_tracks.csv")) == 3
    assert not (settings.parquet_dir / "tracks").exists()


# -- the shipped sample and the real files ---------------------------------------------------


def test_shipped_sample_round_trip(spark, tmp_path) -> None:
    settings = _settings(tmp_path)
    (settings.data_dir / "sample").symlink_to(ROOT / "data" / "sample", target_is_directory=True)
    report = ingest_sample(spark, settings)
    # PROVENANCE: the sample's tracks name 8,557 distinct artists (66 of them in the artists file)
    assert (report.read, report.kept, report.n_artists, report.artists.kept) == (10_000, 10_000, 8_557, 66)
    assert report.tracks.n_rejected == 0 and report.artists.n_rejected == 0 and report.genres.n_rejected == 0
    assert report.tracks_path == settings.parquet_dir / "tracks"
    tracks = spark.read.parquet(str(report.tracks_path))
    assert [(f.name, f.dataType) for f in tracks.schema] == [(f.name, f.dataType) for f in tracks_schema()]
    artists = spark.read.parquet(str(report.artists_path))
    assert [(f.name, f.dataType) for f in artists.schema] == [(f.name, f.dataType) for f in artists_schema()]
    stats = tracks.selectExpr(
        "count(distinct track_id) AS ids",
        f"sum(CAST(track_id RLIKE '{SPOTIFY_ID_PATTERN}' AS INT)) AS spotify_ids",
        "min(release_year) AS y0",
        "max(release_year) AS y1",
        "sum(CAST(size(genres) > 0 AS INT)) AS with_genres",
    ).first()
    assert (stats["ids"], stats["spotify_ids"], stats["y0"], stats["y1"]) == (10_000, 10_000, 1922, 2021)
    assert stats["with_genres"] == report.tracks_with_genres
    assert 0.4 < report.tracks_with_genres / report.kept < 0.7  # PROVENANCE: ~50% by name
    # every artist of every track can be looked up in the artists table
    missing = tracks.selectExpr("explode(artist_ids) AS artist_id").join(artists, "artist_id", "left_anti")
    assert missing.count() == 0


def test_real_shared_files_keep_every_row(spark, shared_data, tmp_path) -> None:
    settings = _settings(tmp_path)
    report = ingest_catalog(
        spark,
        settings,
        tracks_path=shared_data / "tracks_head10k.csv.gz",
        artists_path=shared_data / "artists_sample10k.csv.gz",
        genres_path=shared_data / "artist_genres_160k.csv.gz",
    )
    assert (report.tracks.read, report.tracks.kept) == (10_124, 10_124)
    assert (report.artists.read, report.artists.kept) == (10_000, 10_000)
    assert report.genres.read == report.genres.kept == 32_539
    day_first = "sum(CAST(release_date RLIKE '^[0-9]{2}-[0-9]{2}-[0-9]{4}$' AS INT))"
    years = spark.read.parquet(str(report.tracks_path)).selectExpr("min(release_year)", "max(release_year)", day_first)
    years = years.first()
    assert (years[0], years[1]) == (1922, 1935)
    assert years[2] > 5_000  # the spreadsheet-damaged DD-MM-YYYY dates, all kept
    assert report.tracks_with_genres / report.kept > 0.5


def test_shipped_sample_is_the_real_random_sample(shared_data) -> None:
    shipped = ROOT / "data" / "sample" / "tracks.csv.gz"
    assert shipped.read_bytes() == (shared_data / "tracks_sample10k.csv.gz").read_bytes()
    assert sum(p.stat().st_size for p in shipped.parent.iterdir()) < 2_000_000


def test_sample_script_rebuilds_the_shipped_files_byte_for_byte(shared_data, tmp_path) -> None:
    from engine.ingest.sample import build_sample

    counts = build_sample(shared_data, tmp_path)
    assert counts == {"tracks": 10_000, "artists": 66, "genres": 4_010}
    for name in ("tracks.csv.gz", "artists.csv.gz", "genres.csv.gz", "README.md"):
        assert (tmp_path / name).read_bytes() == (ROOT / "data" / "sample" / name).read_bytes(), name
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "yamaerenay" in readme and "Spotify Web API" in readme


def test_progress_reports_while_spark_works(spark, caplog) -> None:
    from engine.core.progress import Progress

    caplog.set_level(logging.INFO, logger="engine")
    progress = Progress("ingest-catalog", heartbeat_s=0.05)
    with progress.working(spark, "checking tracks"):
        spark.range(1000).selectExpr("sum(id)").collect()
        time.sleep(0.3)
    out = "\n".join(caplog.messages)
    assert "[ingest-catalog] checking tracks: still running, " in out


def _tricky_with_column(tmp_path: Path, name: str) -> Path:
    """The tricky fixture with one more column ``name``, holding each row's energy again."""
    with open(FIXTURES / "tracks_tricky.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    energy = rows[0].index("energy")
    path = tmp_path / f"tracks_{name}.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([rows[0] + [name]] + [r + [r[energy] if len(r) > energy else ""] for r in rows[1:]])
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("energy.1", "column 'energy' appears more than once (also as 'energy.1', how pandas writes a repeated column)"),
        ("Energy", "column 'energy' appears more than once (also as 'Energy'); keep one"),
        ("energy", "column 'energy' appears more than once; keep one"),
    ],
)
def test_a_repeated_column_is_one_line_naming_the_file(spark, settings, monkeypatch, capsys, tmp_path, extra, message) -> None:
    for var, value in {"DATA_DIR": settings.data_dir, "SPARK_MASTER": "local[2]", "SPARK_SHUFFLE_PARTITIONS": 4}.items():
        monkeypatch.setenv(var, str(value))
    path = _tricky_with_column(tmp_path, extra)
    assert cli_main(["ingest-catalog", "--tracks", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: tracks file {path}: ") and message in err
    assert "\n" not in err and "Traceback" not in err
    assert not (settings.parquet_dir / "tracks").exists()


def test_an_extra_column_with_a_dot_is_kept_in_the_rejects(spark, settings, tmp_path) -> None:
    """A dot in a column name means a struct field to Spark unless quoted: it must not crash."""
    report = ingest_catalog(spark, settings, tracks_path=_tricky_with_column(tmp_path, "notes.v2"))
    rejects = pd.read_csv(report.tracks.rejects_path)
    assert "notes.v2" in rejects.columns and report.tracks.n_rejected == len(rejects) > 0
