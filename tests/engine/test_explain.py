"""ALS explanations (engine.serving.explain): the top contributions of each row, their shares and the rest."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from engine.serving.explain import als_explanations


def _arrays(n_items: int) -> Any:
    return SimpleNamespace(cluster=np.arange(n_items, dtype=np.int32) % 3 - 1)  # -1: no cluster


@pytest.mark.parametrize("top", [1, 3, 8, 12, None])
def test_because_lists_the_largest_first_and_the_earlier_history_track_among_equals(top: int | None) -> None:
    """Small integers make many equal contributions: the listed ones are each row's largest,
    and of equal ones the earlier history track comes first, whichever way they are found
    (rounds of argmax up to eight, a stable sort of each row above)."""
    rng = np.random.default_rng(0)
    contrib = rng.integers(-3, 4, size=(40, 30)).astype(np.float64)
    history = np.array([f"t{j}" for j in range(30)], dtype=object)
    items = np.arange(40)
    out = als_explanations(contrib, history, items, _arrays(40), top=top)
    width = 30 if top is None else top
    ties = 0
    for row, e in zip(contrib, out):
        want = sorted(range(30), key=lambda j: (-row[j], j))[:width]
        ties += int(row[want[-1]] in row[np.setdiff1d(np.arange(30), want)])
        assert [c.track_id for c in e.because] == [f"t{j}" for j in want]
        assert [c.value for c in e.because] == row[want].tolist()
        assert sum(c.value for c in e.because) + e.rest == pytest.approx(row.sum())
        assert [c.share for c in e.because] == pytest.approx((row[want] / np.abs(row).sum()).tolist())
    if top is not None and top < 30:
        assert ties > 10  # equal entries straddle the cut: the order among them is really tested
    assert [e.cluster for e in out[:3]] == [None, 0, 1]


def test_rows_with_non_finite_contributions_still_list_distinct_tracks() -> None:
    contrib = np.array([[1.0, -np.inf, -np.inf, 0.5], [np.inf, 2.0, 1.0, 0.0]])
    with np.errstate(invalid="ignore"):  # inf shares: the listing is what this checks
        out = als_explanations(contrib, np.array(["a", "b", "c", "d"], dtype=object), np.arange(2), _arrays(2), top=3)
    assert [c.track_id for c in out[0].because][:2] == ["a", "d"]
    assert [c.track_id for c in out[1].because] == ["a", "b", "c"]
    assert all(len({c.track_id for c in e.because}) == 3 for e in out)
