"""The listens behind a recommendation (engine.serving.listens) add up with its explanation.

On an ALS-only bundle and on a blended one (item neighbours + a popularity prior), the listed
tracks plus the rest, and the listed artists plus the rest, both equal the explanation's
``sum(because) + rest``, which equals the served score (minus the prior's part).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.serving.listens import listens_behind
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from tests.engine.test_blend import WEIGHTS, planted_neighbours
from tests.factories import published_recommender, random_bundle_parts


def tid(i: int) -> str:
    return f"{i:022d}"


HISTORY = {tid(3 * j): float(1 + 2 * j) for j in range(10)} | {tid(4): 2.0}


def _publish(tmp: Path, *, blended: bool) -> Recommender:
    parts = random_bundle_parts(n_items=300, rank=8, seed=0)
    parts["items"].at[6, "artists"] = ["Artist 2", "Artist 9"]  # a feature: credited to the first
    parts["items"].at[6, "artist_ids"] = ["a2", "a9"]
    if blended:
        parts["params"] = {**parts["params"], "blend": WEIGHTS.to_dict()}
        parts["extra"] = planted_neighbours().to_extra()
    return published_recommender(tmp, parts)


@pytest.fixture(scope="module", params=["als", "blend"])
def rec(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    return _publish(tmp_path_factory.mktemp(request.param), blended=request.param == "blend")


def test_listens_add_up_with_the_explanation_and_the_score(rec: Recommender) -> None:
    out = rec.recommend(HISTORY, Options(k=10, discovery=None))  # the model's own ranking and scores
    listens = listens_behind(rec, HISTORY, out.track_ids, top=3)
    assert len(listens) == 10
    for position, (listen, shown) in enumerate(zip(listens, out.explanations)):
        full = rec.explain(HISTORY, out.track_ids[position])
        total = sum(c.value for c in full.because) + full.rest
        prior = sum(float(r.detail) for r in shown.reasons if r.kind == "popularity")
        assert listen.total == pytest.approx(total, rel=1e-9, abs=1e-12)
        assert listen.total + prior == pytest.approx(out.scores[position], abs=2e-3 if prior else 1e-6)
        assert sum(t.value for t in listen.tracks) + listen.other_tracks == pytest.approx(listen.total)
        assert sum(a.value for a in listen.artists) + listen.other_artists == pytest.approx(listen.total)
        # The same tracks the card names, with the same contributions, largest first.
        assert [t.track_id for t in listen.tracks] == [c.track_id for c in shown.because]
        assert [t.value for t in listen.tracks] == pytest.approx([c.value for c in shown.because])
        assert all(t.weight == HISTORY[t.track_id] and t.plays is None for t in listen.tracks)
        assert [a.value for a in listen.artists] == sorted((a.value for a in listen.artists), reverse=True)


def test_artists_sum_their_tracks_credited_to_the_main_artist(rec: Recommender) -> None:
    target = rec.recommend(HISTORY, Options(k=1)).track_ids[0]
    (listen,) = listens_behind(rec, HISTORY, [target], top=100)
    every = {c.track_id: c.value for c in rec.explain(HISTORY, target).because}
    artist_of = {t: f"a{(int(t) // 3) % 30}" for t in every}  # the factories' artist of item i
    artist_of[tid(6)] = "a2"  # the feature counts for its first artist only
    for a in listen.artists:
        mine = [v for t, v in every.items() if artist_of[t] == a.artist_id]
        assert a.value == pytest.approx(sum(mine)) and a.tracks == len(mine)
    assert listen.other_artists == pytest.approx(0.0, abs=1e-9)  # every track has an artist, all listed


def test_plays_come_from_the_timeline_and_unknown_tracks_are_refused(rec: Recommender) -> None:
    target = rec.recommend(HISTORY, Options(k=1)).track_ids[0]
    (listen,) = listens_behind(rec, HISTORY, [target], plays={t: 7 for t in HISTORY}, top=2)
    assert [t.plays for t in listen.tracks] == [7, 7]
    (none,) = listens_behind(rec, {}, [target])
    assert none.total == 0 and none.tracks == () and none.share(1.0) == 0.0
    with pytest.raises(ValueError, match="unknown track id 'nope'"):
        listens_behind(rec, HISTORY, ["nope"])


def test_explain_many_equals_explain_one_by_one(rec: Recommender) -> None:
    ids = [*rec.recommend(HISTORY, Options(k=4)).track_ids, tid(299)]  # 299 has no factors
    many = rec.explain_many(HISTORY, ids, top=2)
    for together, alone in zip(many, (rec.explain(HISTORY, t, top=2) for t in ids)):
        assert [c.track_id for c in together.because] == [c.track_id for c in alone.because]
        assert [c.value for c in together.because] == pytest.approx([c.value for c in alone.because])
        assert together.rest == pytest.approx(alone.rest) and together.cluster == alone.cluster
    assert many[-1].because == ()


def test_the_kept_fold_in_never_answers_for_another_history(rec: Recommender) -> None:
    """recommend() keeps its fold-in for the "Why this?" that follows; a changed weight solves again."""
    target = rec.recommend(HISTORY, Options(k=1)).track_ids[0]
    _, first = rec.contributions(HISTORY, [target])
    heavier = {**HISTORY, tid(0): HISTORY[tid(0)] + 5.0}
    rec.recommend(heavier, Options(k=1))
    _, second = rec.contributions(HISTORY, [target])
    _, changed = rec.contributions(heavier, [target])
    assert np.array_equal(first, second) and not np.allclose(first, changed)
    assert changed.sum() == pytest.approx(sum(c.value for c in rec.explain(heavier, target).because)
                                          + rec.explain(heavier, target).rest)
