"""The replay tool: realistic events from listeners' histories, paced writers, playlist files."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from engine.commands.replay import add_arguments, main
from engine.core.errors import InputError
from engine.state.events import KIND_WEIGHTS, read_events
from engine.streaming.replay import (
    EventGenerator,
    demo_history,
    dir_writer,
    parse_rate,
    playlist_history,
    replay,
)
from spotify.playlists import tracks_to_csv


def history() -> pd.DataFrame:
    # two communities: u0-u3 share tracks t0-t9, u4-u7 share t10-t19
    rows = []
    for u in range(8):
        base = 0 if u < 4 else 10
        for j in range(6):
            rows.append((f"demo:{u}", f"t{base + (u + j) % 10:02d}", float(1 + j)))
    return pd.DataFrame(rows, columns=["user_id", "track_id", "weight"])


def test_parse_rate() -> None:
    assert parse_rate("50/s") == 50 and parse_rate("120/m") == 2 and parse_rate("0") == 0
    assert parse_rate("7") == 7 and parse_rate("3600/h") == 1
    with pytest.raises(InputError, match="--rate"):
        parse_rate("fast")


def test_events_are_realistic_and_reproducible() -> None:
    h = history()
    known = set(zip(h["user_id"], h["track_id"]))
    gen = EventGenerator(h, seed=7, explore=0.4)
    evs = [gen.next_event() for _ in range(2000)]
    assert {e.kind for e in evs} <= set(KIND_WEIGHTS)  # the app's own vocabulary
    assert sum(e.kind == gen.kinds[0] for e in evs) > len(evs) / 2  # mostly plays
    pairs = [(e.user_id, e.track_id) for e in evs]
    new = [p for p in pairs if p not in known]
    assert 0.05 < len(new) / len(pairs) < 0.4  # discoveries happen, replays dominate
    # discoveries go through co-listeners: they stay inside the listener's community
    assert all((int(t[1:]) < 10) == (int(u.split(":")[1]) < 4) for u, t in new)
    assert len({e.event_id for e in evs}) == len(evs)
    again = EventGenerator(h, seed=7, explore=0.4)
    assert [(e.user_id, e.track_id, e.kind) for e in (again.next_event() for _ in range(2000))] == [
        (e.user_id, e.track_id, e.kind) for e in evs
    ]
    only_replays = EventGenerator(h, seed=7, explore=0.0)
    assert all((e.user_id, e.track_id) in known for e in (only_replays.next_event() for _ in range(500)))


def test_replay_to_dir_writes_batches_the_stream_can_read(tmp_path) -> None:
    out = tmp_path / "events"
    report = replay(iter(EventGenerator(history(), seed=1)), dir_writer(out), target=str(out), limit=250, batch_size=100)
    files = sorted(out.glob("*.jsonl"))
    assert report.events == 250 and report.flushes == len(files) == 3
    evs = list(read_events(out))
    assert len(evs) == 250 and len({e.event_id for e in evs}) == 250
    assert not list(out.glob(".*"))


def test_playlist_files(tmp_path) -> None:
    ids = ["4uLU6hMCjMI75M1A2tKUQC", "7ouMYWpwJ422jRcDASZB7P", "0VjIjW4GlUZAMYd2vXMi3b"]
    csv_path = tmp_path / "recs.csv"
    csv_path.write_text(tracks_to_csv([{"track_id": t, "name": f"Song {t[:3]}", "artists": ["A"]} for t in ids]))
    txt = tmp_path / "list.txt"
    txt.write_text(f"spotify:track:{ids[0]}\nhttps://open.spotify.com/track/{ids[1]}?si=x\n\n{ids[2]}\n{ids[0]}\n")
    js = tmp_path / "pl.json"
    js.write_text(json.dumps({"items": [{"track": {"id": ids[0]}}, {"item": {"id": ids[1]}}, {"track": {"uri": f"spotify:track:{ids[2]}"}}]}))
    for path in (csv_path, txt, js):
        h = playlist_history(path, user_id="me")
        assert list(h["track_id"]) == ids and set(h["user_id"]) == {"me"}
    bad = tmp_path / "empty.txt"
    bad.write_text("nothing here\n")
    with pytest.raises(InputError, match="no Spotify track ids"):
        playlist_history(bad)


def test_cli_replays_a_playlist_into_the_events_dir(settings, tmp_path, capsys) -> None:
    txt = tmp_path / "list.txt"
    txt.write_text("4uLU6hMCjMI75M1A2tKUQC\n7ouMYWpwJ422jRcDASZB7P\n")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--from", str(txt), "--user", "me", "--rate", "0", "--limit", "40"])
    assert main(args, settings) == 0
    evs = list(read_events(settings.events_dir))
    assert len(evs) == 40 and {e.user_id for e in evs} == {"me"}
    assert {e.track_id for e in evs} == {"4uLU6hMCjMI75M1A2tKUQC", "7ouMYWpwJ422jRcDASZB7P"}
    assert "replayed 40 events of 1 listeners" in capsys.readouterr().out


def test_no_demo_listeners_is_one_clear_line(settings) -> None:
    with pytest.raises(InputError, match="no demo listeners"):
        demo_history(settings)
