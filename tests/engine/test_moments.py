"""The served scores' moments from the bundle's sums (engine.serving.moments) equal the float64
moments of the scores themselves, for every kind of scan and blend."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.bundle.load import load_bundle
from engine.serving.moments import ScoreMoments
from engine.serving.recommender import Recommender
from tests.engine.test_lists_reference import DEMO, rich_bundle


def _factors(rng: np.random.Generator, n: int = 700, rank: int = 6, order: str = "C") -> tuple[np.ndarray, np.ndarray]:
    factors = rng.normal(size=(n, rank)).astype(np.float32)
    has = rng.random(n) > 0.3
    factors[~has] = 0.0  # as bundles hold them
    return np.asarray(factors, order=order), has  # type: ignore[call-overload]


@pytest.mark.parametrize("order", ["C", "F"])
def test_als_moments_are_those_of_the_scores_over_the_items_with_factors(order: str) -> None:
    rng = np.random.default_rng(1)
    factors, has = _factors(rng, order=order)
    y = factors.astype(np.float64)
    moments = ScoreMoments.of_bundle(factors, y.T @ y, has)
    x = rng.normal(size=factors.shape[1])
    scores = (y @ x)[has]
    mean, std = moments.of(x)
    assert mean == pytest.approx(scores.mean(), rel=1e-12, abs=1e-15) and std == pytest.approx(scores.std(), rel=1e-12)
    assert moments.n == has.sum() and std > 0


def test_blended_moments_count_the_weight_the_prior_and_the_bonuses() -> None:
    """``w·Yx + c·p + b``: the bonuses read at the items with factors, as the pass gives them."""
    rng = np.random.default_rng(2)
    factors, has = _factors(rng)
    y = factors.astype(np.float64)
    prior = np.log1p(rng.integers(1, 900, size=len(has)).astype(np.float64))
    moments = ScoreMoments.of_bundle(factors, y.T @ y, has, prior=prior)
    x = rng.normal(size=factors.shape[1])
    w, c = 0.6, 0.35
    bonus = np.zeros(len(has))
    bonused = rng.choice(np.flatnonzero(has), 90, replace=False)
    bonus[bonused] = rng.random(90)
    served = w * (y @ x) + c * prior + bonus
    mean, std = moments.of(x, als_weight=w, prior_coef=c, bonuses=bonus[bonused], served=served[bonused].astype(np.float32))
    assert mean == pytest.approx(served[has].mean(), rel=1e-12)
    assert std == pytest.approx(served[has].std(), rel=1e-6)  # s_j read in float32
    # the blend's own factor sum gives the same moments without a pass of its own
    again = ScoreMoments.of_bundle(factors, y.T @ y, has, factor_sum=y[has].sum(axis=0), prior=prior)
    assert again.of(x, als_weight=w, prior_coef=c) == pytest.approx(moments.of(x, als_weight=w, prior_coef=c), rel=1e-12)


def test_scores_that_do_not_vary_have_no_spread() -> None:
    rng = np.random.default_rng(3)
    factors, has = _factors(rng)
    factors[has] = 1.0  # every item with factors scores the same
    y = factors.astype(np.float64)
    moments = ScoreMoments.of_bundle(factors, y.T @ y, has)
    x = rng.normal(size=factors.shape[1])
    assert moments.of(x) == (pytest.approx(x.sum()), 0.0)
    assert moments.of(np.zeros(factors.shape[1])) == (0.0, 0.0)
    assert ScoreMoments.of_bundle(factors[:0], y.T @ y, has[:0]).of(x) == (0.0, 0.0)


def test_a_prior_coefficient_without_the_prior_sums_is_refused() -> None:
    rng = np.random.default_rng(4)
    factors, has = _factors(rng)
    moments = ScoreMoments.of_bundle(factors, np.eye(factors.shape[1]), has)
    with pytest.raises(ValueError, match="prior"):
        moments.of(np.ones(factors.shape[1]), prior_coef=0.5)


def _dense_served(rec: Recommender, history: dict[str, float]) -> np.ndarray:
    """float64 served score of every item with factors, from the float64 rows."""
    hist = rec._parse(history)
    _, fold, user = rec._model_scores(hist)
    als = np.asarray(rec._factors, dtype=np.float64) @ fold.x
    served = als if user is None else user.score(als, np.arange(len(als)))
    return served[rec.arrays.has_factors]


@pytest.mark.parametrize("n_without", [0, 150, 450])  # every item has factors; the full matrix; a compact copy
@pytest.mark.parametrize("quantize", [False, True])
def test_a_requests_moments_are_the_exact_scores_moments(tmp_path, n_without: int, quantize: bool) -> None:
    """What the lists standardize by: the float64 moments of the served scores (the float32 pass's
    rounding and, from an int8 scan, its estimates at the bonused items aside)."""
    base = rich_bundle(tmp_path, n_without)
    rec = Recommender(base.bundle, quantize=True) if quantize else base
    assert rec.blend is not None and rec.blend.weights.popularity
    rng = np.random.default_rng(5)
    ids = rec.track_ids[rec.arrays.has_factors]
    for _ in range(4):
        history = dict(zip(rng.choice(ids, 15, replace=False).tolist(), rng.integers(1, 9, 15).astype(float).tolist()))
        model = rec._model_scores(rec._parse(history))[0]
        served = _dense_served(rec, history)
        if not quantize:  # the bound of the scores' size that spares plus_z32 its pass
            assert model.magnitude is not None and model.magnitude >= np.abs(model.scores).max() > 0
            assert model.plus_z32(np.zeros(len(rec.track_ids), dtype=np.float32), 0.5)[1] >= \
                dataclasses.replace(model, magnitude=None).plus_z32(np.zeros(len(rec.track_ids), dtype=np.float32), 0.5)[1]
        assert model.mean == pytest.approx(served.mean(), rel=1e-6, abs=1e-9 * served.std())
        # an int8 scan's std reads its estimates at the bonused items: here most of the items
        assert model.std == pytest.approx(served.std(), rel=5e-3 if quantize else 1e-6)


def test_the_demo_bundles_moments_are_the_exact_scores_moments() -> None:
    """The committed demo bundle (row-major, items without factors, a trained blend) too."""
    rec = Recommender(load_bundle(DEMO))
    rng = np.random.default_rng(6)
    ids = rec.track_ids[rec.arrays.has_factors]
    history = dict(zip(rng.choice(ids, 40, replace=False).tolist(), [3.0] * 40))
    model = rec._model_scores(rec._parse(history))[0]
    served = _dense_served(rec, history)
    assert model.mean == pytest.approx(served.mean(), rel=1e-6) and model.std == pytest.approx(served.std(), rel=1e-6)
