"""What a rerun redoes (real Streamlit AppTest, real SQLite store, real recommender).

A page run reads the stored likes once; the lists are made again only when an input changes
(the dial, a like, an exclusion), not on a rerun that changes nothing (Play, leaving and coming
back); and what one session keeps is never another session's. The counting happens in real
subclasses of ``Store`` and ``Recommender`` that count and then do the real work.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from engine.core.config import Settings
from engine.serving.exclusions import Exclusions
from engine.serving.recommender import Recommender
from engine.state.store import Feedback, Store
from tests.app.conftest import DEMO_USERS
from tests.app.helpers import open_page, pick_demo_listener, run, shown_ids, start
from webapp import resources
from webapp.cards import md_escape
from webapp.listeners import RecControls
from webapp.taste_edit import build_request

_WHY_ARTISTS = re.compile(r"^why-\d+-[0-9A-Za-z]{22}-a$")  # a card's "Why this?" artist pills

CALLS: Counter[str] = Counter()


class CountingStore(Store):
    """The app's SQLite store, counting its feedback reads."""

    def feedback(self, user_key: str) -> Feedback:
        CALLS["feedback"] += 1
        return super().feedback(user_key)


class CountingRecommender(Recommender):
    """The serving recommender, counting the Recommendations page's list computations (fold-in,
    ranking, blend). The mixes by taste (engine.serving.mixes) call ``lists`` too, for the open
    mix, behind their own memo (tests/app/test_mixes.py); those calls are not counted here."""

    def lists(self, *args: Any, **kwargs: Any) -> Any:
        if sys._getframe(1).f_globals.get("__name__") == "webapp.actions":
            CALLS["lists"] += 1
        return super().lists(*args, **kwargs)


@pytest.fixture()
def counted(app_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    # resources builds its cached store and recommender from these names (caches are empty here).
    monkeypatch.setattr(resources, "Store", CountingStore)
    monkeypatch.setattr(resources, "Recommender", CountingRecommender)
    CALLS.clear()
    yield CALLS


def _counts_after(at, action) -> Counter[str]:
    before = Counter(CALLS)
    action()
    run(at)
    return Counter({k: CALLS[k] - before[k] for k in CALLS})


def test_the_list_is_the_recommenders_and_a_run_reads_the_likes_once(app_env: Settings,
                                                                      counted: Counter[str]) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    own = Recommender.load(app_env.models_dir)  # a recommender of the same bundle, outside the app
    request = build_request(own, at.session_state["listener"], RecControls(), Feedback(), Exclusions())
    assert shown_ids(at) == list(own.lists(request.history, request.options).blended.track_ids)

    ran = _counts_after(at, lambda: None)  # a plain rerun of the page
    assert ran["feedback"] == 1  # summary, editor, "Why this?" and the lists share one read (was 4)
    for page in ("playlists", "taste", "explore"):
        assert _counts_after(at, lambda page=page: at.switch_page(f"pages/{page}.py"))["feedback"] == 1, page


def test_a_rerun_that_changes_nothing_recomputes_nothing(counted: Counter[str]) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    shown = shown_ids(at)
    assert counted["lists"] == 1
    assert _counts_after(at, lambda: at.button(key=f"play-{shown[0]}").click())["lists"] == 0
    for page in ("taste", "explore", "playlists", "recommendations"):  # away and back: the same list, not remade
        assert _counts_after(at, lambda page=page: at.switch_page(f"pages/{page}.py"))["lists"] == 0, page
    assert shown_ids(at) == shown
    # Switching the list shown re-ranks nothing either: both lists were made with the first.
    at.segmented_control(key="ctl_view").set_value("new")
    run(at)
    assert counted["lists"] == 1 and shown_ids(at) != shown


def _based_on(at) -> str:
    """The Taste page's "Based on N of your tracks" (N counts the history the lists are made of)."""
    open_page(at, "taste")
    (line,) = [c.value for c in at.caption if c.value.startswith("Based on")]
    open_page(at, "recommendations")
    return line


def test_the_dial_a_like_and_an_exclusion_each_remake_the_list(counted: Counter[str]) -> None:
    at = open_page(pick_demo_listener(start()), "recommendations")
    first = shown_ids(at)
    assert "Based on 15 of your tracks" in _based_on(at) and counted["lists"] == 1  # coming back: not remade

    at.slider(key="ctl_discovery").set_value(1.0)
    run(at)
    assert counted["lists"] == 2 and shown_ids(at) != first
    at.slider(key="ctl_discovery").set_value(RecControls().discovery)
    run(at)
    assert counted["lists"] == 3 and shown_ids(at) == first  # back to the first inputs: the first list

    liked = first[0]
    at.button(key=f"like-{liked}").click()
    run(at)
    assert counted["lists"] == 4 and liked not in shown_ids(at)
    assert "Based on 16 of your tracks" in _based_on(at)  # the like joined the history the lists use

    artist = next(str(g.value[0]) for g in at.button_group if _WHY_ARTISTS.match(str(g.key)) and g.value)
    at.multiselect(key="taste_artists").select(artist)
    run(at)
    assert counted["lists"] == 5 and "1 artist left out" in at.expander[0].label
    assert "Based on 16 of your tracks" not in _based_on(at)  # their songs left it
    assert counted["lists"] == 5


def test_two_sessions_keep_their_own_lists(counted: Counter[str]) -> None:
    one = open_page(pick_demo_listener(start(), DEMO_USERS[0]), "recommendations")
    two = open_page(pick_demo_listener(start(), DEMO_USERS[1]), "recommendations")
    mine, theirs = shown_ids(one), shown_ids(two)
    assert mine != theirs and counted["lists"] == 2  # the second listener's list was not the first's
    run(one)
    run(two)
    assert shown_ids(one) == mine and shown_ids(two) == theirs and counted["lists"] == 2


def test_the_maps_catalogue_sample_is_made_once_for_every_session(counted: Counter[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real = resources.map_sample

    def counting(items: Any, **kwargs: Any) -> Any:  # the real sample, counted
        CALLS[f"map sample n={kwargs['n']}"] += 1
        return real(items, **kwargs)

    monkeypatch.setattr(resources, "map_sample", counting)
    one = open_page(pick_demo_listener(start(), DEMO_USERS[0]), "explore")
    two = open_page(pick_demo_listener(start(), DEMO_USERS[1]), "explore")
    run(one)
    assert counted["map sample n=5000"] == 1  # two sessions, three runs: one catalogue sample
    captions = [c.value for c in two.caption if "catalogue tracks sampled" in c.value]
    assert len(captions) == 1 and "15 of yours" in captions[0]  # each session still marks its own tracks
    two.select_slider(key="map_n").set_value(1000)
    run(two)
    assert counted["map sample n=1000"] == 1 and counted["map sample n=5000"] == 1


def test_a_run_reads_the_models_current_once_and_the_next_run_serves_a_new_one(
        app_env: Settings, app_models, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every card asks for the recommender: one run reads ``CURRENT`` once (it read it per ask),
    and a version published meanwhile is what the next run serves."""
    from engine.bundle.layout import current_version
    from engine.bundle.publish import publish_bundle

    models = tmp_path / "own-models"
    _, parts = app_models
    publish_bundle(models, **parts)
    monkeypatch.setenv("MODELS_DIR", str(models))
    reads: Counter[str] = Counter()

    def counting(models_dir):  # noqa: ANN001, ANN202
        reads["CURRENT"] += 1
        return current_version(models_dir)

    monkeypatch.setattr(resources, "current_version", counting)
    at = open_page(pick_demo_listener(start()), "recommendations")
    assert len(shown_ids(at)) >= 10
    reads.clear()
    run(at)
    assert reads["CURRENT"] == 1
    first = current_version(models)
    # Other content: a version is named by its second and its files' hashes, so the same parts
    # published again within the same second would be the same version.
    publish_bundle(models, **{**parts, "popularity": np.asarray(parts["popularity"]) * 0.5})
    second = current_version(models)
    assert second != first
    run(at.switch_page("pages/model.py"))
    assert md_escape(second) in " ".join(m.value for m in at.markdown)
