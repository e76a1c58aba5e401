"""The real-listener evaluation: its cases, its metrics, and the app's own path on the demo bundle."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.bundle.load import load_bundle
from engine.core.config import ROOT
from engine.core.matching import CatalogIndex, normalize_artist
from engine.evaluation.listener_cases import (
    Case,
    CaseSet,
    Item,
    catalog_artist_names,
    demo_cases,
    hetrec_cases,
    hetrec_play_cases,
    load_case_set,
    read_hetrec,
)
from engine.evaluation.listeners import (
    MOST_POPULAR,
    NEW,
    OWN_POPULAR,
    SERVED,
    UPPER_BOUND,
    CatalogArtists,
    evaluate_listeners,
    list_metrics,
    most_popular,
    new_to_you,
    prepare,
)
from engine.serving.listening import listening_from_history
from engine.serving.options import Options
from engine.serving.recommender import Recommender

DEMO = ROOT / "models" / "demo"


@pytest.fixture(scope="module")
def demo() -> tuple[Recommender, CatalogIndex]:
    bundle = load_bundle(DEMO)
    return Recommender(bundle), CatalogIndex.from_items(bundle.items)


def write_hetrec(tmp_path: Path, rows: list[tuple[int, int, int]], names: dict[int, str]) -> tuple[Path, Path]:
    ua, ar = tmp_path / "user_artists.dat", tmp_path / "artists.dat"
    ua.write_text("userID\tartistID\tweight\r\n" + "".join(f"{u}\t{a}\t{w}\r\n" for u, a, w in rows))
    ar.write_text("id\tname\turl\tpictureURL\n" + "".join(f'{i}\t{n}\thttp://x\t\n' for i, n in names.items()))
    return ua, ar


def test_hetrec_cases_hold_out_a_fifth_of_the_mapped_artists(tmp_path: Path) -> None:
    names = {i: f"Band {i}" for i in range(1, 13)} | {99: 'The "Unknown" Ones'}
    rows = [(1, a, 10 * a) for a in range(1, 13)] + [(1, 99, 5), (2, 1, 3), (2, 2, 4)]
    plays = read_hetrec(*write_hetrec(tmp_path, rows, names))
    catalog = {normalize_artist(f"Band {i}") for i in range(1, 11)}  # 11, 12 and 99 are not in the catalogue
    cases = hetrec_cases(plays, catalog, seed=1)
    assert [c.user for c in cases.cases] == ["hetrec:1"]  # user 2 has 2 mapped artists: too few
    case = cases.cases[0]
    history = {normalize_artist(i.artist) for i in case.items}
    assert len(case.future) == 2 and case.future <= catalog and not case.future & history  # 20% of 10 mapped
    assert normalize_artist('The "Unknown" Ones') in history  # unmapped artists stay, as the app sees them
    assert all(i.track_id is None and i.weight > 0 for i in case.items)
    assert cases.stats["artists_mapped"] == 10 and cases.stats["cases"] == 1


def test_hetrec_play_cases_split_the_plays_of_each_artist(tmp_path: Path) -> None:
    names = {i: f"Band {i}" for i in range(1, 7)}
    rows = [(1, a, 1000) for a in range(1, 6)] + [(1, 6, 1)]
    plays = read_hetrec(*write_hetrec(tmp_path, rows, names))
    case = hetrec_play_cases(plays, {normalize_artist(n) for n in names.values()}, seed=3).cases[0]
    weights = {i.artist: i.weight for i in case.items}
    for a in range(1, 6):  # a big count is split about 80/20: the artist is in both parts
        assert 700 < weights[f"Band {a}"] < 900 and normalize_artist(f"Band {a}") in case.future
    single = normalize_artist("Band 6")  # one play: either history or future, never both
    assert ("Band 6" in weights) != (single in case.future)


def test_read_hetrec_names_a_missing_column(tmp_path: Path) -> None:
    _, artists = write_hetrec(tmp_path, [], {1: "Band"})
    bad = tmp_path / "user_artists.dat"
    bad.write_text("userID\tartist\tweight\n1\t2\t3\n")
    with pytest.raises(Exception, match=r"user_artists\.dat: no column 'artistID'"):
        read_hetrec(bad, artists)


def test_demo_cases_split_each_listener_by_time() -> None:
    items = pd.DataFrame({"track_id": [f"t{i}" for i in range(10)], "name": [f"Song {i}" for i in range(10)],
                          "artists": [[f"Artist {i}"] for i in range(10)]})
    start = datetime(2025, 1, 1, tzinfo=UTC)
    inter = pd.DataFrame({"user_id": "demo:1", "track_id": [f"t{i}" for i in range(10)], "weight": 2.0,
                          "ts": [start + timedelta(days=10 * i) for i in range(10)]})
    case = demo_cases(inter, items).cases[0]
    # span 90 days, cut at day 72: tracks 0..7 are the history, 8 and 9 the future
    assert [i.track_id for i in case.items] == [f"t{i}" for i in range(8)]
    assert case.items[0].title == "Song 0" and case.items[0].artist == "Artist 0"
    assert case.future == {normalize_artist("Artist 8"), normalize_artist("Artist 9")}


def test_metrics_of_a_known_list(demo: tuple[Recommender, CatalogIndex]) -> None:
    rec, index = demo
    cat = CatalogArtists(rec)
    artists = [a for a, rows in cat.tracks.items() if len(rows) >= 3][:3]
    hist = tuple(Item(None, "", cat.display[a], 5.0) for a in artists[:2])
    p = prepare(Case("u", hist, frozenset({artists[1], artists[2]})), rec, index, cat)
    elsewhere = next(r for r in cat.by_popularity if not set(cat.names[r]) & (p.history_artists | p.case.future))
    rows = np.concatenate([cat.tracks[artists[1]][:2], cat.tracks[artists[2]][:1], [elsewhere]])
    m = list_metrics(rows, p, cat, k=4)
    assert m["artist_hit"] == pytest.approx(3 / 4)  # 2 by a returning artist, 1 by a new one
    assert m["new_artist_hit"] == pytest.approx(1 / 4)
    assert m["new_artist_recall"] == 1.0 and m["new_share"] == pytest.approx(2 / 4)  # artists[2], elsewhere


def test_evaluation_runs_the_apps_path_on_the_demo_bundle(demo: tuple[Recommender, CatalogIndex]) -> None:
    rec, index = demo
    bundle = rec.bundle
    cases = demo_cases(bundle.tables["demo_history"], bundle.items, seed=0)
    subset = CaseSet(cases.name, cases.description, cases.cases[:40], cases.stats)
    report = evaluate_listeners(rec, index, subset, k=50)
    assert report.matching["by_id"] > 0 and report.matching["unmatched"] == 0
    bound = report.row(UPPER_BOUND)
    for row in report.rows:
        assert row["listeners"] == 40
        for metric in ("artist_hit", "new_artist_hit"):
            assert 0.0 <= row[metric] <= bound[metric] + 1e-12, (row["list"], metric)
    assert report.row(MOST_POPULAR)["mean_popularity"] > report.row(SERVED)["mean_popularity"]
    assert report.row(OWN_POPULAR)["new_share"] == 0.0  # only the listener's own artists
    # the served row is exactly what the app serves for that history
    case = subset.cases[0]
    listening, _ = listening_from_history(case.items, index)
    direct = rec.recommend(listening, Options(k=50))
    p = prepare(case, rec, index, CatalogArtists(rec))
    assert set(direct.indices.tolist()).isdisjoint(p.known)
    assert "| served" in report.to_markdown() and json.dumps(report.to_dict())


def load_script() -> object:
    spec = importlib.util.spec_from_file_location("evaluate_listeners", ROOT / "scripts" / "evaluate_listeners.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_export_is_split_by_time_and_evaluated(tmp_path: Path, demo: tuple[Recommender, CatalogIndex]) -> None:
    rec, index = demo
    cat = CatalogArtists(rec)
    artists = [cat.display[a] for a, rows in cat.tracks.items() if len(rows) >= 3][:4]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    plays = []
    for day in range(100):  # artists 0-2 all along, artist 3 only in the last 10 days
        artist = artists[3] if day >= 90 else artists[day % 3]
        plays.append({"ts": (start + timedelta(days=day)).isoformat(), "ms_played": 200_000, "skipped": False,
                      "master_metadata_track_name": f"Unknown song {day}", "master_metadata_album_artist_name": artist,
                      "spotify_track_uri": f"spotify:track:{day:022d}"})
    export = tmp_path / "Streaming_History_Audio_2025_0.json"
    export.write_text(json.dumps(plays))
    script = load_script()
    hist_items, future, counts = script.split_export(export)  # type: ignore[attr-defined]
    assert counts == {"plays": 100, "history_plays": 80, "future_full_plays": 20}
    assert {i.artist for i in hist_items} == set(artists[:3]) and artists[3] in future
    case_set = script.export_cases([export])  # type: ignore[attr-defined]
    report = evaluate_listeners(rec, index, case_set, k=50)
    assert report.matching["by_artist_only"] == 80  # unknown titles and ids: matched by artist
    assert report.row(OWN_POPULAR)["artist_hit"] > 0  # the returning artists are in the catalogue


def test_load_case_set_names_the_choices(settings) -> None:
    with pytest.raises(Exception, match="expected one of hetrec, hetrec-plays, demo"):
        load_case_set("nope", settings, pd.DataFrame({"artists": []}))


def test_real_hetrec_users_map_onto_the_demo_catalogue(shared_data: Path, settings, demo) -> None:
    rec, _ = demo
    s = settings.with_overrides(shared_data_dir=shared_data)
    cases = load_case_set("hetrec", s, rec.bundle.items)
    assert cases.stats["artists_mapped"] > 1000 and len(cases.cases) > 1000
    assert all(c.future <= catalog_artist_names(rec.bundle.items) for c in cases.cases[:50])


def test_new_to_you_beats_popularity_on_real_hetrec_listeners(shared_data: Path, settings, demo) -> None:
    """Issue 17's "New to you" targets on 300 real HetRec users (the README has all of them)."""
    rec, index = demo
    cases = load_case_set("hetrec", settings.with_overrides(shared_data_dir=shared_data), rec.bundle.items)
    subset = CaseSet(cases.name, cases.description, cases.cases[:300], cases.stats)
    report = evaluate_listeners(rec, index, subset, lists={NEW: new_to_you, MOST_POPULAR: most_popular})
    new, popular = report.row(NEW), report.row(MOST_POPULAR)
    assert new["new_artist_hit"] >= 2 * popular["new_artist_hit"] > 0
    assert new["new_artist_recall"] >= 0.25
