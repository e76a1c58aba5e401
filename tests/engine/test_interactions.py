"""Listening-data readers on small fixtures (malformed lines included) and on the real files."""

from __future__ import annotations

import argparse
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from engine.__main__ import main as cli_main
from engine.commands.ingest_interactions import add_arguments, main
from engine.core.errors import InputError
from engine.ingest.interactions import write_interactions
from engine.ingest.readers.artists import read_audioscrobbler, read_hetrec
from engine.ingest.readers.events import read_app_events
from engine.ingest.readers.playlists import read_mpd_json, read_playlists_csv
from engine.spark.schemas import interactions_schema
from engine.state.events import EXCLUDE, ListeningEvent, write_events
from engine.streaming.stream import events_to_interactions

DATA = Path(__file__).resolve().parent.parent / "data" / "interactions"


def as_dict(df, item_col: str = "track_id") -> dict[tuple[str, str], float]:
    return {(r["user_id"], r[item_col]): r["weight"] for r in df.collect()}


def reject_reasons(report) -> list[str]:
    """Reasons as written in the rejects file (one JSON object per line)."""
    lines = []
    for part in sorted(Path(report.rejects_path).glob("part-*.json")):
        lines += [json.loads(line) for line in part.read_text().splitlines() if line]
    return sorted(r["reason"] for r in lines)


@pytest.fixture()
def catalogue() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "track_id": [
                "40riOy7x9W7GXjyGp4pjAv",
                "4y1LsJpmMti1PfRQV9AWWe",
                "6fRxMU4LWwyaSSowV441IU",
                "086myS9r57YsLbJpU0TgK9",
                "5Nm9ERjJZ5oyfXZTECKmRt",
                "0000000000000000000001",
            ],
            "name": [
                "Hotel California - 2013 Remaster",
                "Girls Just Want to Have Fun",
                "Beautiful Mistakes (feat. Megan Thee Stallion)",
                "Why'd You Only Call Me When You're High?",
                "Stay With Me",
                "Stay With Me",  # a less popular duplicate: the popular one must win
            ],
            "artist_names": [
                ["Eagles"],
                ["Cyndi Lauper"],
                ["Maroon 5", "Megan Thee Stallion"],
                ["Arctic Monkeys"],
                ["Sam Smith"],
                ["Sam Smith"],
            ],
            "popularity": [84, 79, 90, 86, 83, 10],
        }
    )


# -- MPD -------------------------------------------------------------------------------------


def test_mpd_counts_weights_and_rejects(spark, settings):
    df, report = read_mpd_json(spark, DATA / "mpd.slice.0-2.json", settings=settings)
    assert df.schema == interactions_schema()
    got = as_dict(df)
    assert got[("mpd:0", "40riOy7x9W7GXjyGp4pjAv")] == 2.0  # the same track twice in a playlist
    assert got[("mpd:1", "0k2GOhqsrxDTAbFFSdNJjT")] == 1.0
    assert len(got) == 8
    assert (report.read, report.kept, report.users, report.items) == (12, 9, 3, 7)
    assert report.rejected == {"bad track_uri": 1, "missing track_uri": 1, "missing pid": 1}
    assert reject_reasons(report) == ["bad track_uri", "missing pid", "missing track_uri"]
    ts = {r["user_id"]: r["ts"] for r in df.select("user_id", "ts").distinct().collect()}
    assert str(ts["mpd:0"]) == "2017-04-29 00:00:00"  # modified_at 1493424000, UTC session
    assert {r["source"] for r in df.select("source").distinct().collect()} == {"mpd"}


@pytest.mark.parametrize(
    ("bad_file", "message"),
    [("mpd_truncated.json", "not valid JSON"), ("mpd_no_playlists.json", "'playlists'")],
)
def test_mpd_unusable_file_is_named(spark, settings, bad_file, message):
    with pytest.raises(InputError, match=message) as err:
        read_mpd_json(spark, [DATA / "mpd.slice.0-2.json", DATA / bad_file], settings=settings)
    assert bad_file in str(err.value)


def test_missing_file_is_named(spark, settings):
    with pytest.raises(InputError, match="nope.json: no such file"):
        read_mpd_json(spark, DATA / "nope.json", settings=settings)


# -- playlists CSV ---------------------------------------------------------------------------


def test_playlists_csv_matches_by_normalized_name(spark, settings, catalogue):
    df, report = read_playlists_csv(spark, DATA / "playlists.csv", catalogue, settings=settings)
    got = as_dict(df)
    assert got == {
        # "Hotel California" and "Hotel California - Live" both match the 2013 Remaster
        ("9cc0cfd4d7d7885102480dd99e7a90d6", "40riOy7x9W7GXjyGp4pjAv"): 2.0,
        ("9cc0cfd4d7d7885102480dd99e7a90d6", "4y1LsJpmMti1PfRQV9AWWe"): 1.0,
        # by the first artist without "feat.", and by the featured artist
        ("07f0fc3be95dcd878966b1f9572ff670", "6fRxMU4LWwyaSSowV441IU"): 2.0,
        ("f0aed6ed31ed9eec4bd7bcbc6a7e6c4f", "086myS9r57YsLbJpU0TgK9"): 1.0,
        ("4bd83bf2d3e3a5b1a5a5e3d1c2b4a6f7", "5Nm9ERjJZ5oyfXZTECKmRt"): 1.0,
    }
    assert report.read == 12
    assert report.rejected == {"malformed CSV line": 2, "missing artistname": 1, "no catalogue match": 2}
    assert report.kept == report.matched == 7
    assert report.match_rate == pytest.approx(7 / 9)
    reasons = reject_reasons(report)
    assert reasons.count("no catalogue match") == 2  # unmatched rows are written, not dropped
    assert df.schema == interactions_schema()


def test_playlists_csv_plain_header_and_spark_tracks(spark, settings, catalogue, tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text('"user_id","artistname","trackname","playlistname"\n"u1","eagles","HOTEL CALIFORNIA","x"\n')
    df, report = read_playlists_csv(spark, path, spark.createDataFrame(catalogue), settings=settings)
    assert as_dict(df) == {("u1", "40riOy7x9W7GXjyGp4pjAv"): 1.0}
    assert report.match_rate == 1.0 and report.rejects_path is None


def test_playlists_csv_missing_column(spark, settings, catalogue, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("user_id,artist,trackname\nu1,a,b\n")
    with pytest.raises(InputError, match="bad.csv: required column 'artistname'"):
        read_playlists_csv(spark, path, catalogue, settings=settings)


# -- app events ------------------------------------------------------------------------------


def test_app_events_mapping_and_quarantine(spark, settings):
    df, report = read_app_events(spark, DATA / "events.jsonl", settings=settings)
    assert as_dict(df) == {
        ("u:alice", "4saklk6nie3yiGePpBwUoc"): 2.0,  # two plays, one with the default weight
        ("u:alice", "5Nm9ERjJZ5oyfXZTECKmRt"): 3.0,  # like (default 3), duplicate event once
        ("u:bob", "0k2GOhqsrxDTAbFFSdNJjT"): 2.0,  # save
        ("u:bob", "2iUXsYOEPhVqEBwsqP70rE"): 1.0,  # a play after an earlier dislike counts
        ("u:carol", "3wJVBz7gvGTwTWVAxFa6ny"): 2.0,
    }
    assert report.read == 19
    assert report.rejected == {
        "invalid JSON": 2,
        "unknown kind": 1,
        "missing user_id": 1,
        "missing track_id": 1,
        "bad weight": 1,
        "bad ts": 1,
    }
    assert report.ignored == {
        "duplicate event_id": 1,
        "skip": 1,
        "dislike": 2,
        "recommended": 1,
        "cancelled by a later dislike": 1,
    }
    assert report.kept == 6
    assert len(reject_reasons(report)) == 7
    ts = {r["user_id"]: str(r["ts"]) for r in df.where("user_id = 'u:carol'").collect()}
    assert ts == {"u:carol": "2026-03-02 10:00:00"}  # epoch milliseconds


def test_an_exclusion_cancels_the_pair_like_a_dislike(spark, settings, tmp_path):
    """The app's "exclude" events (a history track unticked) are read, not rejected, and cancel
    the pair when latest; a later play brings it back."""
    at = [datetime(2026, 3, 1, h, tzinfo=UTC) for h in range(3)]
    events = [ListeningEvent.new("u", "t1", "play", now=at[0]), ListeningEvent.new("u", "t1", EXCLUDE, now=at[1]),
              ListeningEvent.new("u", "t2", "like", now=at[0]), ListeningEvent.new("u", "t2", EXCLUDE, now=at[1]),
              ListeningEvent.new("u", "t2", "play", now=at[2])]
    write_events(tmp_path / "ev", events)
    df, report = read_app_events(spark, tmp_path / "ev", settings=settings)
    assert as_dict(df) == {("u", "t2"): 4.0}
    assert report.rejected == {} and report.ignored["exclude"] == 2
    parsed = spark.createDataFrame([(e.user_id, e.track_id, e.kind, e.weight if e.weight > 0 else 0.0,
                                     datetime.fromisoformat(e.ts)) for e in events],
                                   "user_id string, track_id string, kind string, weight double, ts timestamp")
    assert {(r["user_id"], r["track_id"]): r["weight"] for r in events_to_interactions(parsed).collect()} == {
        ("u", "t2"): 4.0}


def test_app_events_directory_and_all_bad(spark, settings, tmp_path):
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.jsonl").write_text('{"user_id": "u", "track_id": "t", "kind": "play"}\n')
    (tmp_path / "ev" / ".b.jsonl").write_text("in progress, skipped\n")
    df, report = read_app_events(spark, tmp_path / "ev", settings=settings)
    assert as_dict(df) == {("u", "t"): 1.0} and report.read == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n{]\n")
    with pytest.raises(InputError, match="bad.jsonl: no valid event"):
        read_app_events(spark, bad, settings=settings)


# -- Audioscrobbler --------------------------------------------------------------------------


def test_audioscrobbler_alias_applied_as_read(spark, settings):
    df, artists, report = read_audioscrobbler(
        spark,
        DATA / "user_artist_data.txt",
        artist_data_path=DATA / "artist_data.txt",
        alias_path=DATA / "artist_alias.txt",
        settings=settings,
    )
    assert df.schema == interactions_schema("artist_id")
    assert as_dict(df, "artist_id") == {
        ("1000002", "1"): 65.0,  # 55 on the good id + 10 on bad id 2
        ("1000002", "1000006"): 33.0,
        ("1000002", "1000007"): 8.0,
        ("1000019", "1000010"): 5.0,  # two lines summed
        ("1000019", "1"): 4.0,  # bad id 3 -> 2 -> 1 (a chain)
    }
    assert report.rejected == {
        "bad count": 1,
        "not 3 space-separated fields": 1,
        "count not positive": 1,
        "bad user id": 1,
        "empty line": 1,
    }
    assert (report.read, report.kept, report.users, report.items) == (12, 7, 2, 4)
    alias_report, artist_report = report.related
    assert alias_report.kept == 2 and alias_report.ignored == {"maps an id to itself": 1}
    assert alias_report.rejected == {"bad id": 1, "not 2 TAB-separated fields": 1}
    assert artist_report.rejected == {"no TAB between id and name": 1, "bad id": 1, "empty name": 1}
    names = {r["artist_id"]: r["name"] for r in artists.collect()}
    assert names["1000010"] == "Aerosmith" and names["1"] == "The Beatles"
    assert artist_report.ignored == {"duplicate artist id": 1}


def test_audioscrobbler_without_aliases_keeps_bad_ids(spark, settings):
    df, artists, report = read_audioscrobbler(spark, DATA / "user_artist_data.txt", settings=settings)
    got = as_dict(df, "artist_id")
    assert got[("1000002", "2")] == 10.0 and got[("1000002", "1")] == 55.0
    assert artists is None and report.related == []


# -- HetRec ----------------------------------------------------------------------------------


def test_hetrec_crlf_and_malformed(spark, settings):
    df, artists, report = read_hetrec(
        spark, DATA / "user_artists.dat", artists_path=DATA / "artists.dat", settings=settings
    )
    assert as_dict(df, "artist_id") == {
        ("2", "51"): 13883.0,
        ("2", "52"): 11690.0,
        ("3", "51"): 10.0,
        ("5", "53"): 7.0,
    }
    assert report.rejected == {
        "bad weight": 1,
        "bad artistID": 1,
        "too few TAB-separated fields": 1,
        "weight not positive": 1,
    }
    assert (report.read, report.kept) == (8, 4)
    rows = {r["artist_id"]: r for r in artists.collect()}
    assert rows["51"]["name"] == "Duran Duran" and rows["52"]["picture_url"] is None
    assert report.related[0].rejected == {"bad id": 1}


def test_hetrec_missing_header_column(spark, settings, tmp_path):
    path = tmp_path / "user_artists.dat"
    path.write_text("user\tartistID\tweight\n2\t51\t3\n")
    with pytest.raises(InputError, match="user_artists.dat: required column 'userID'"):
        read_hetrec(spark, path, settings=settings)


# -- real files ------------------------------------------------------------------------------


def test_real_audioscrobbler(spark, settings, shared_data):
    alias_path = shared_data / "audioscrobbler_artist_alias_small.txt.gz"
    df, artists, report = read_audioscrobbler(
        spark,
        shared_data / "audioscrobbler_user_artist_data_small.txt.gz",
        artist_data_path=shared_data / "audioscrobbler_artist_data_small.txt.gz",
        alias_path=alias_path,
        settings=settings,
    )
    assert (report.read, report.kept, report.n_rejected) == (49_481, 49_481, 0)
    assert (report.interactions, report.users) == (48_943, 50)
    alias_report, artist_report = report.related
    assert (alias_report.read, alias_report.kept) == (587, 577)
    assert (artist_report.read, artist_report.kept, artist_report.n_rejected) == (30_536, 30_533, 3)
    # No bad id survives: every aliased id's plays moved to its good id.
    pairs = [line.split("\t") for line in _gz_lines(alias_path)]
    bad_ids = {bad.strip() for bad, good in pairs if bad.strip() != good.strip()}
    out_ids = {r["artist_id"] for r in df.select("artist_id").distinct().collect()}
    assert not (bad_ids & out_ids)
    raw_lines = _gz_lines(shared_data / "audioscrobbler_user_artist_data_small.txt.gz")
    raw_total = sum(int(line.split()[2]) for line in raw_lines)
    assert df.agg({"weight": "sum"}).first()[0] == raw_total  # plays moved, none lost


def test_real_hetrec(spark, settings, shared_data):
    df, artists, report = read_hetrec(
        spark,
        shared_data / "hetrec2011_user_artists.dat.gz",
        artists_path=shared_data / "hetrec2011_artists.dat.gz",
        settings=settings,
    )
    assert (report.read, report.kept, report.n_rejected) == (92_834, 92_834, 0)
    assert (report.interactions, report.users, report.items) == (92_834, 1_892, 17_632)
    assert report.related[0].kept == 17_632
    assert df.agg({"weight": "max"}).first()[0] == 352_698.0


def _gz_lines(path: Path) -> list[str]:
    import gzip

    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [line for line in fh if line.strip()]


# -- writing and the CLI ---------------------------------------------------------------------


def test_write_and_cli(spark, settings, tmp_path, capsys):
    df, _ = read_mpd_json(spark, DATA / "mpd.slice.0-2.json", settings=settings)
    write_interactions(df, tmp_path / "out")
    assert spark.read.parquet(str(tmp_path / "out")).count() == 8

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--format", "hetrec", str(DATA / "artists.dat"), str(DATA / "user_artists.dat"), "--out", str(tmp_path)]
    )
    assert main(args, settings) == 0
    out = capsys.readouterr().out
    assert "lastfm: read 8, kept 4, rejected 4" in out
    assert spark.read.parquet(str(tmp_path / "interactions_lastfm")).count() == 4
    assert spark.read.parquet(str(tmp_path / "artists_lastfm")).count() == 3
    args = parser.parse_args(["--format", "audioscrobbler", str(DATA / "events.jsonl")])
    with pytest.raises(InputError, match="cannot tell which file"):
        main(args, settings)


# -- refusing what would lose data -----------------------------------------------------------


@pytest.fixture()
def cli_env(settings, monkeypatch):
    """The CLI reuses the test session; its settings equal the fixture's."""
    for var, value in {"DATA_DIR": settings.data_dir, "SPARK_MASTER": "local[2]", "SPARK_SHUFFLE_PARTITIONS": 4}.items():
        monkeypatch.setenv(var, str(value))
    return settings


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_an_empty_events_file_is_refused_and_the_table_kept(spark, cli_env, tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps({"event_id": f"e{i}", "user_id": "u1", "track_id": f"t{i}", "kind": "play"}) + "\n"
                              for i in range(3)))
    out = tmp_path / "parquet"
    assert cli_main(["ingest-interactions", "--format", "events", str(events), "--out", str(out)]) == 0
    assert spark.read.parquet(str(out / "interactions_app")).count() == 3
    capsys.readouterr()

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert cli_main(["ingest-interactions", "--format", "events", str(empty), "--out", str(out)]) == 2
    err = _one_error_line(capsys)
    assert str(empty) in err and "no interactions to write" in err and "left as it was" in err
    assert spark.read.parquet(str(out / "interactions_app")).count() == 3  # not replaced by nothing
    assert sorted(p.name for p in out.iterdir()) == ["interactions_app"]  # no temporary tables left


def test_write_interactions_swaps_a_complete_table_in(spark, settings, tmp_path):
    df, _ = read_mpd_json(spark, DATA / "mpd.slice.0-2.json", settings=settings)
    path = tmp_path / "interactions_mpd"
    write_interactions(df, path)
    # Rewriting a table from itself: an in-place overwrite would delete what it is reading.
    write_interactions(spark.read.parquet(str(path)).where("weight > 1"), path)
    assert spark.read.parquet(str(path)).count() == 1

    from pyspark.sql import functions as F

    @F.udf("double")
    def broken(weight):
        raise RuntimeError("the write fails half-way")

    with pytest.raises(Exception, match="half-way"):
        write_interactions(df.withColumn("weight", broken("weight")), path)
    assert spark.read.parquet(str(path)).count() == 1  # the previous table, whole
    assert [p.name for p in tmp_path.iterdir() if "interactions_mpd" in p.name] == ["interactions_mpd"]  # no .tmp left


def test_a_truncated_mpd_gz_is_one_line_naming_the_file(spark, cli_env, tmp_path, capsys):
    data = gzip.compress((DATA / "mpd.slice.0-2.json").read_bytes())
    cut = tmp_path / "mpd.slice.0-999.json.gz"
    cut.write_bytes(data[: len(data) // 2])
    args = ["ingest-interactions", "--format", "mpd", str(DATA / "mpd.slice.0-2.json"), str(cut), "--out", str(tmp_path / "out")]
    assert cli_main(args) == 2
    err = _one_error_line(capsys)
    assert err.startswith(f"error: {cut}: cannot be read (") and "EOFException" in err
    assert not (tmp_path / "out").exists()
