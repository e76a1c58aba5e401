"""The continuation protocol (engine.evaluation.continuation) and the RecSys Challenge 2018 metrics,
against values computed by hand on tiny cases; the scoring runs on a small bundle (no Spark)."""

from __future__ import annotations

import argparse
import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.bundle.load import load_bundle
from engine.bundle.publish import write_bundle
from engine.commands import evaluate as evaluate_command
from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.progress import Progress
from engine.evaluation import metrics as M
from engine.evaluation.continuation import (
    ITEM_KNN,
    MODEL_RANKING,
    MOST_POPULAR,
    SERVED,
    SERVED_TUNED,
    ContinuationSplit,
    PlaylistBaselines,
    PlaylistData,
    choose_weights,
    load_playlists,
    ordered_playlists,
    score_bundle,
    score_lists,
    seed_split,
    split_playlists,
)
from engine.serving.continuation import FitWeights
from engine.serving.recommender import Recommender
from tests.factories import random_bundle_parts


def arr(*values: str) -> np.ndarray:
    return np.array(values, dtype=object)


def test_r_precision_counts_hits_in_the_first_g_recommendations() -> None:
    ranked = arr("a", "b", "c", "d", "e")
    assert M.r_precision(ranked, arr("c", "a", "x")) == pytest.approx(2 / 3)  # {a, b, c} ∩ {c, a, x}
    assert M.r_precision(ranked, arr("e")) == 0.0  # only the first |G| = 1 count
    assert M.r_precision(arr("b", "a"), arr("a", "b")) == 1.0  # order inside them does not matter
    assert math.isnan(M.r_precision(ranked, arr()))


def test_ndcg_is_the_challenges_over_500() -> None:
    ranked = arr("a", "b", "c", "d", "e")
    # hits at positions 1 and 3: DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG (3 relevant) = 1 + 1/log2(3) + 1/2
    expected = 1.5 / (1 + 1 / math.log2(3) + 0.5)
    assert M.ndcg_at_k(ranked, arr("c", "a", "x"), 500) == pytest.approx(expected)
    assert M.ndcg_at_k(arr("x", "a"), arr("a"), 500) == pytest.approx(1 / math.log2(3))


def test_clicks_are_pages_of_ten_before_the_first_hit() -> None:
    ranked = np.array([str(i) for i in range(500)], dtype=object)
    assert M.songs_clicks(ranked, arr("0")) == 0.0
    assert M.songs_clicks(ranked, arr("9")) == 0.0  # still the first page
    assert M.songs_clicks(ranked, arr("22", "480")) == 2.0  # position 23: two refreshes
    assert M.songs_clicks(ranked, arr("nope")) == 51.0  # none of the 500: 500 / 10 + 1
    assert M.songs_clicks(ranked[:30], arr("29")) == 2.0


def test_score_lists_averages_over_playlists() -> None:
    out = score_lists([["a", "b"], ["x", "y"]], [["a"], ["z"]])
    assert out == {"r_precision": 0.5, "ndcg": 0.5, "clicks": 25.5}


def test_seed_is_the_first_k_and_the_rest_is_hidden() -> None:
    assert seed_split(["a", "b", "c", "d"], 2) == (["a", "b"], ["c", "d"])
    assert seed_split(["a"], 5) == (["a"], [])


def test_items_in_one_playlist_are_dropped_and_order_kept() -> None:
    rows = pd.DataFrame({"user_id": ["p1", "p1", "p1", "p1", "p2", "p2"],
                         "track_id": ["c", "a", "solo", "a", "a", "c"]})
    assert ordered_playlists(rows) == {"p1": ["c", "a"], "p2": ["a", "c"]}


def test_the_split_holds_out_two_disjoint_sets_of_long_playlists() -> None:
    playlists = {f"p{i:03d}": [f"t{j}" for j in range(10 + i % 30)] for i in range(200)}
    split = split_playlists(playlists, seeds=(5, 10, 25), n_test=50)
    n = min(50, int(0.15 * 200))  # 30: at most 15% each
    assert len(split.validation) == len(split.test) == n
    held = set(split.validation) | set(split.test)
    assert len(held) == 2 * n and held.isdisjoint(split.train)
    assert set(split.train) | held == set(playlists)
    assert all(len(playlists[p]) >= 30 for p in held)  # a seed of 25 leaves at least 5 hidden
    assert split == split_playlists(playlists, seeds=(5, 10, 25), n_test=50)  # seeded
    assert split != split_playlists(playlists, seeds=(5, 10, 25), n_test=50, seed=7)
    with pytest.raises(InputError, match="no playlist has the 30 items"):
        split_playlists({"p": ["a"] * 3}, seeds=(25,))


def test_the_baselines_continue_from_the_seed_and_never_repeat_it() -> None:
    train = {"u1": ["a", "b", "c"], "u2": ["a", "b"], "u3": ["d", "e"], "u4": ["d", "e", "f"], "u5": ["d", "f"]}
    base = PlaylistBaselines(train)
    (knn,) = base.rank(ITEM_KNN, [["a"]])
    # what co-occurs with a, best first, then the rest by popularity (d: 3 playlists, e and f: 2)
    assert knn[:2] == ["b", "c"] and knn[2] == "d" and set(knn[3:]) == {"e", "f"}
    (popular,) = base.rank(MOST_POPULAR, [["d"]])
    assert popular[:2] == ["a", "b"] and "d" not in popular and len(popular) == 5


def test_weights_are_chosen_by_mean_ndcg_ties_to_the_first() -> None:
    hidden = {5: [["x"]], 10: [["x"]]}
    hits = {0.0: ["x"], 1.0: ["y", "x"], 2.0: ["x"]}

    def rank(w: FitWeights) -> dict[int, list[list[str]]]:
        return {k: [hits[w.artist]] for k in hidden}

    best, table = choose_weights(rank, hidden, [FitWeights(artist=1.0), FitWeights(artist=0.0), FitWeights(artist=2.0)])
    assert best == FitWeights(artist=0.0) and [r["ndcg"] for r in table] == pytest.approx([1 / math.log2(3), 1, 1])


def test_hetrec_playlists_are_each_users_artists_in_a_seeded_order(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = "userID\tartistID\tweight\n" + "".join(f"{u}\t{a}\t{10 * a}\n" for u in (2, 3) for a in range(1, 21))
    with gzip.open(raw / "hetrec2011_user_artists.dat.gz", "wt") as f:
        f.write(rows)
    settings = Settings.from_env(env_file=None)
    data = load_playlists("hetrec", settings, data_dir=raw, seed=1)
    lists = ordered_playlists(data.rows)
    assert set(lists) == {"hetrec:2", "hetrec:3"} and sorted(lists["hetrec:2"]) == sorted(f"hetrec:a{a}" for a in range(1, 21))
    assert lists["hetrec:2"] != [f"hetrec:a{a}" for a in range(1, 21)]  # shuffled, not the file's order
    assert lists == ordered_playlists(load_playlists("hetrec", settings, data_dir=raw, seed=1).rows)
    assert lists != ordered_playlists(load_playlists("hetrec", settings, data_dir=raw, seed=2).rows)
    (raw / "hetrec2011_user_artists.dat.gz").unlink()
    with gzip.open(raw / "hetrec2011_user_artists.dat.gz", "wt") as f:
        f.write("user\tartist\n1\t2\n")
    with pytest.raises(InputError, match="hetrec2011_user_artists.dat.gz: no column 'userID'"):
        load_playlists("hetrec", settings, data_dir=raw)
    with pytest.raises(InputError, match="not found"):
        load_playlists("hetrec", settings, data_dir=tmp_path / "empty")


def test_the_table_has_every_model_at_every_seed(tmp_path: Path) -> None:
    write_bundle(tmp_path / "b", **random_bundle_parts(n_items=300, rank=8, n_groups=3, seed=5))
    rec = Recommender(load_bundle(tmp_path / "b"))
    items = rec.bundle.items["track_id"].iloc[:290].tolist()
    rng = np.random.default_rng(0)

    def playlist(g: int) -> list[str]:
        group = [t for i, t in enumerate(items) if i % 3 == g]
        return [group[i] for i in rng.permutation(len(group))[:35]]

    lists = {f"p{i:02d}": playlist(i % 3) for i in range(60)}
    split = ContinuationSplit(train=tuple(f"p{i:02d}" for i in range(40)),
                              validation={f"p{i:02d}": lists[f"p{i:02d}"] for i in range(40, 50)},
                              test={f"p{i:02d}": lists[f"p{i:02d}"] for i in range(50, 60)})
    data = PlaylistData("tiny", "planted groups", pd.DataFrame(columns=["user_id", "track_id"]), "random")
    report = score_bundle(rec, data, split, {p: lists[p] for p in split.train}, seeds=(5, 10), tune=True,
                    progress=Progress("test"))
    models = [SERVED, MODEL_RANKING, SERVED_TUNED, ITEM_KNN, MOST_POPULAR]
    assert [(r["seed"], r["model"]) for r in report.rows] == [(k, m) for k in (5, 10) for m in models]
    for row in report.rows:
        assert 0 <= row["r_precision"] <= 1 and 0 <= row["ndcg"] <= 1 and 0 <= row["clicks"] <= 51
    served = {r["seed"]: r["ndcg"] for r in report.rows if r["model"] == MODEL_RANKING}
    popular = {r["seed"]: r["ndcg"] for r in report.rows if r["model"] == MOST_POPULAR}
    assert all(served[k] > popular[k] for k in served)  # the planted groups are what the model knows
    assert len(report.weights["grid"]) == 300 and set(report.weights["chosen"]) >= {"artist", "sound", "era", "recent"}
    assert "| 5 | served continuation |" in report.to_markdown()


@pytest.mark.parametrize("argv, message", [
    (["--continuation", "--data", "playlists,mpd"], "--continuation --data mpd: expected some of playlists, hetrec, demo"),
    (["--continuation", "--seeds", "5,x"], "--seeds '5,x': expected positive whole numbers"),
])
def test_the_cli_refuses_bad_arguments_in_one_line_before_starting_spark(argv: list[str], message: str) -> None:
    parser = argparse.ArgumentParser()
    evaluate_command.add_arguments(parser)
    with pytest.raises(InputError) as refused:
        evaluate_command.main(parser.parse_args(argv), Settings.from_env(env_file=None))
    assert str(refused.value).startswith(message)
