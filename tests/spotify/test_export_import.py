"""Importing a listener's Spotify data export: both formats, zip or JSON, bad files named."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spotify.errors import ExportError
from spotify.export_import import history_from_plays, read_export, read_plays
from tests.conftest import TEST_DATA

EXPORT = TEST_DATA / "spotify"
ACCOUNT = "StreamingHistory_music_0.json"
EXTENDED = "Streaming_History_Audio_2025-2026_0.json"
DOMO, RIVERS, EMMYLOU = "6xHEqpTvQh2ZTcUb2JROo9", "2hnxrRNzF74mdDzpQZQukQ", "4nVBt6MZDDP6tRVdQTgxJg"


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_with_mixed_valid_and_invalid_files_imports_the_valid_ones() -> None:
    data = make_zip({
        f"Spotify Account Data/{ACCOUNT}": (EXPORT / ACCOUNT).read_bytes(),
        "Spotify Account Data/StreamingHistory_music_1.json": b'[{"endTime": "2026-01-01 10:00", "artistName"',
        "Spotify Account Data/StreamingHistory_podcast_0.json": b"[]",
        "Spotify Account Data/Userdata.json": b'{"username": "x"}',
        f"Spotify Extended Streaming History/{EXTENDED}": (EXPORT / EXTENDED).read_bytes(),
        "Spotify Extended Streaming History/Streaming_History_Audio_2024_1.json": b'{"not": "a list"}',
        "Spotify Extended Streaming History/Streaming_History_Audio_2024_2.json": b'[{"foo": 1}, {"bar": 2}]',
    })

    result = read_export(data, name="my_spotify_data.zip")

    assert sorted(p.rsplit("/", 1)[-1] for p in result.files) == [ACCOUNT, EXTENDED]
    problems = {p.name.rsplit("/", 1)[-1]: p.message for p in result.problems}
    assert set(problems) == {"StreamingHistory_music_1.json", "Streaming_History_Audio_2024_1.json",
                             "Streaming_History_Audio_2024_2.json"}
    assert problems["StreamingHistory_music_1.json"].startswith("not valid JSON")
    assert problems["Streaming_History_Audio_2024_1.json"] == "expected a JSON list of plays"
    assert "row 0" in problems["Streaming_History_Audio_2024_2.json"]
    assert any("StreamingHistory_music_1.json" in w for w in result.history.warnings)
    assert len(result.history) == 3  # the valid files' tracks are all there


def test_weights_skips_duplicates_and_ids_across_both_formats() -> None:
    result = read_export([(ACCOUNT, (EXPORT / ACCOUNT).read_bytes()), (EXTENDED, (EXPORT / EXTENDED).read_bytes())])
    history = result.history

    assert result.counts == {"plays": 10, "full_plays": 7, "short_or_skipped": 3, "ignored": 3,
                             "duplicates": 1, "bad_rows": 0}
    by_title = {i.title: i for i in history}
    # Two plays each; Rivers was played more recently than the older Emmylou play.
    assert list(by_title) == ["Dancing On My Own", "I Follow Rivers", "Emmylou"]  # by weight
    assert (by_title["Dancing On My Own"].track_id, by_title["Dancing On My Own"].plays) == (DOMO, 3)
    assert (by_title["I Follow Rivers"].track_id, by_title["I Follow Rivers"].plays) == (RIVERS, 2)
    assert by_title["Emmylou"].track_id == EMMYLOU and by_title["Emmylou"].artist == "First Aid Kit"
    # Recent full plays weigh ~1 each (a year-long half-life over a few days).
    assert 2.9 < by_title["Dancing On My Own"].weight < 3.0
    # Short or skipped plays count against a track; those end up negative.
    negative = {i.title: i for i in history.negative}
    assert set(negative) == {"Call Your Girlfriend", "Some Song I Skip"}
    assert negative["Some Song I Skip"].skips == 2 and negative["Some Song I Skip"].weight < 0
    assert history.origin == "spotify_export"
    # Every play and skip keeps its time and signed weight; together they are the weight.
    domo = by_title["Dancing On My Own"]
    assert len(domo.play_times) == 3 and sum(domo.play_weights) == pytest.approx(domo.weight, abs=1e-6)
    skipped = negative["Some Song I Skip"]
    assert len(skipped.play_weights) == 2 and all(w < 0 for w in skipped.play_weights)
    assert max(domo.play_times) == domo.last_played.timestamp()


def test_podcasts_and_null_rows_are_ignored_not_errors() -> None:
    rows = [{"ts": "2026-01-01T10:00:00Z", "ms_played": 600000, "master_metadata_track_name": None,
             "master_metadata_album_artist_name": None, "spotify_track_uri": None,
             "spotify_episode_uri": "spotify:episode:1bbbbbbbbbbbbbbbbbbbbb"}]
    result = read_export(json.dumps(rows).encode(), name="Streaming_History_Audio_2026.json")
    assert len(result.history) == 0 and result.counts["ignored"] == 1 and result.problems == ()


def test_partly_bad_rows_are_counted_and_the_rest_kept() -> None:
    rows = json.loads((EXPORT / ACCOUNT).read_text()) + [{"endTime": "yesterday", "artistName": "X",
                                                          "trackName": "Y", "msPlayed": 1}, "junk"]
    result = read_export(json.dumps(rows).encode(), name="upload.json")
    assert result.counts["bad_rows"] == 2
    assert any("upload.json: 2 unreadable rows" in w and "'endTime'" in w for w in result.history.warnings)
    assert {i.title for i in result.history} == {"Dancing On My Own", "Emmylou", "I Follow Rivers"}


def test_folder_and_zip_path_sources(tmp_path: Path) -> None:
    folder = tmp_path / "Spotify Account Data"
    folder.mkdir()
    (folder / ACCOUNT).write_bytes((EXPORT / ACCOUNT).read_bytes())
    (folder / "Playlist1.json").write_text("{}")
    from_folder = read_export(tmp_path)
    zipped = tmp_path / "export.zip"
    zipped.write_bytes(make_zip({ACCOUNT: (EXPORT / ACCOUNT).read_bytes()}))
    from_zip = read_export(zipped)
    assert from_folder.history.items == from_zip.history.items and len(from_zip.history) == 3


def test_nothing_readable_is_an_error_naming_each_file() -> None:
    data = make_zip({"StreamingHistory_music_0.json": b"[oops", "Streaming_History_Audio_1.json": b"\xff\xfe"})
    with pytest.raises(ExportError) as info:
        read_export(data, name="export.zip")
    message = str(info.value)
    assert "StreamingHistory_music_0.json: not valid JSON" in message
    assert "Streaming_History_Audio_1.json: not UTF-8 text" in message
    with pytest.raises(ExportError, match="export.zip: holds no streaming history"):
        read_export(make_zip({"Userdata.json": b"{}"}), name="export.zip")
    with pytest.raises(ExportError, match="not a readable zip"):
        read_export(b"PK\x03\x04garbage", name="broken.zip")


# -- files recognised by their rows ------------------------------------------------------------
RENAMED = {  # names owners published their exports under, each rejected by name alone before
    "StreamingHistory0_NEW.json": ACCOUNT,
    "endsong.json": EXTENDED,
    "StreamingHistory0A.json": ACCOUNT,
}


@pytest.mark.parametrize("renamed", list(RENAMED))
def test_a_renamed_history_file_is_recognised_by_its_rows(renamed: str, tmp_path: Path) -> None:
    original = RENAMED[renamed]
    expected = read_export([(original, (EXPORT / original).read_bytes())])
    zipped = make_zip({f"my_spotify_data/{renamed}": (EXPORT / original).read_bytes(),
                       "my_spotify_data/Userdata.json": b'{"username": "x"}',
                       "my_spotify_data/SearchQueries.json": b'[{"searchTime": "2024-01-01", "searchQuery": "robyn"}]',
                       "my_spotify_data/StreamingHistory_podcast_0.json":
                           b'[{"endTime": "2024-01-01 10:00", "podcastName": "P", "episodeName": "E", "msPlayed": 1}]'})
    (tmp_path / renamed).write_bytes((EXPORT / original).read_bytes())
    for result in (read_export(zipped, name="export.zip"), read_export([(renamed, (EXPORT / original).read_bytes())]),
                   read_export(tmp_path)):
        assert [f.rsplit("/", 1)[-1] for f in result.files] == [renamed]
        assert result.problems == ()
        assert result.history.items == expected.history.items and result.counts == expected.counts


def test_both_formats_renamed_in_one_zip_still_merge() -> None:
    result = read_export(make_zip({"a/StreamingHistory0A.json": (EXPORT / ACCOUNT).read_bytes(),
                                   "b/endsong.json": (EXPORT / EXTENDED).read_bytes()}), name="export.zip")
    assert result.counts["duplicates"] == 1 and len(result.files) == 2


def test_unrelated_json_is_refused_with_a_sentence() -> None:
    for name, data in (("Userdata.json", b'{"username": "x", "country": "SE"}'),
                       ("SearchQueries.json", b'[{"searchTime": "2024-01-01", "searchQuery": "robyn"}]'),
                       ("notes.json", b"[1, 2, 3]")):
        with pytest.raises(ExportError) as info:
            read_export([(name, data)])
        assert str(info.value).startswith(f"Could not read any streaming history: {name}: ")
        assert ("not a streaming history: its rows have neither endTime, artistName, trackName, msPlayed"
                in str(info.value)) or "expected a JSON list of plays" in str(info.value)
    with pytest.raises(ExportError, match="empty.json: holds no plays"):
        read_export([("empty.json", b"[]")])
    with pytest.raises(ExportError, match=r"export.zip: holds no streaming history \(expected"):
        read_export(make_zip({"Userdata.json": b"{}", "Playlist1.json": b'{"playlists": []}',
                              "SearchQueries.json": b'[{"searchQuery": "x"}]'}), name="export.zip")


def test_read_plays_then_weighing_equals_read_export_and_a_part_weighs_alone() -> None:
    log = read_plays(EXPORT)
    whole, counts = history_from_plays(log)
    export = read_export(EXPORT)
    assert whole.items == export.history.items and counts == export.counts
    start, end = log.span_us()
    cut = start + (end - start) // 2
    early, early_counts = history_from_plays(log, until_us=cut)
    cut_time = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=cut)
    assert 0 < len(early.items) <= len(whole.items) and early_counts["plays"] < counts["plays"]
    assert all(i.last_played is not None and i.last_played <= cut_time for i in early.items)
    assert log.full_play_artists(cut) and not log.full_play_artists(end)


def test_a_time_cut_history_counts_only_the_rows_of_its_own_span() -> None:
    def play(ts: str, uri: str | None, title: object = "Song") -> dict[str, object]:
        return {"ts": ts, "ms_played": 200_000, "master_metadata_track_name": title,
                "master_metadata_album_artist_name": "Robyn", "spotify_track_uri": uri}

    rows = [play("2024-01-01T10:00:00Z", f"spotify:track:{DOMO}"),
            play("2024-01-02T10:00:00Z", None),  # a podcast episode: ignored, early
            play("2024-01-03T10:00:00Z", f"spotify:track:{DOMO}", title=7),  # unreadable, early
            play("2024-06-01T10:00:00Z", f"spotify:track:{RIVERS}"),
            play("2024-06-02T10:00:00Z", None), play("2024-06-03T10:00:00Z", None),  # ignored, late
            play("2024-06-04T10:00:00Z", f"spotify:track:{RIVERS}", title=["x"]),  # unreadable, late
            play("not a time", f"spotify:track:{RIVERS}")]  # unreadable, no time: in every part
    log = read_plays(json.dumps(rows).encode(), name="Streaming_History_Audio_2024.json")
    cut = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp()) * 1_000_000

    early, counts = history_from_plays(log, until_us=cut)
    whole, whole_counts = history_from_plays(log)
    assert [i.track_id for i in early.items] == [DOMO]
    assert counts == {"plays": 1, "full_plays": 1, "short_or_skipped": 0, "ignored": 1, "duplicates": 0,
                      "bad_rows": 2}
    assert early.counts["ignored"] == 1 and early.counts["bad_rows"] == 2  # the history's own counts agree
    assert whole_counts["ignored"] == 3 and whole_counts["bad_rows"] == 3 and log.counts == {"ignored": 3,
                                                                                           "bad_rows": 3}
