"""The int8 scan (engine.serving.quantized): its bounds hold, and serving from it gives the
lists the float32 pass gives."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from engine.bundle.load import load_bundle
from engine.serving import quantized as quantized_module
from engine.serving import workers
from engine.serving.lists import ListWeights
from engine.serving.quantized import QuantizedScan
from engine.serving.recommender import Recommender
from engine.serving.scan import Scan
from tests.engine.test_lists_reference import CASES, DEMO, rich_bundle, same_up_to_ties


@pytest.mark.parametrize("rank", [1, 8, 64, 128])
def test_the_upper_bound_holds_and_the_estimate_is_close(rank) -> None:
    rng = np.random.default_rng(rank)
    # rows of very different norms, a zero row, and one dominant component per row
    y = (rng.normal(size=(5_000, rank)) * rng.gamma(0.5, 2.0, size=(5_000, 1))).astype(np.float32)
    y[7] = 0.0
    y[11, 0] = 300.0
    scan = QuantizedScan.of(y)
    assert scan.q.dtype == np.int8 and scan.q.shape == y.shape and scan.scale[7] == 0
    for _ in range(5):
        x = rng.normal(size=rank) * rng.gamma(1.0, 3.0)
        exact = y.astype(np.float64) @ x
        estimate, upper = scan.scan(x)
        assert (upper >= exact).all()
        assert upper[7] == 0 and estimate[7] == 0
        np.testing.assert_array_equal(scan.upper(x), upper)
        # per row within s_i·‖x‖₁/2 (the bound's own argument), plus float32 rounding
        err = np.abs(estimate - exact)
        assert (err <= scan.scale * 0.5 * np.abs(x).sum() * 1.01 + 1e-5).all()


def test_a_split_pass_is_the_single_pass_bit_for_bit(monkeypatch) -> None:
    rng = np.random.default_rng(3)
    scan = QuantizedScan.of(rng.normal(size=(10_001, 16)).astype(np.float32))
    x = rng.normal(size=16)
    monkeypatch.setattr(workers, "HELPERS", 0)  # the caller alone: one slice
    whole_upper, (whole_estimate, _) = scan.upper(x), scan.scan(x)
    seen: list[tuple[int, str]] = []
    kernels = quantized_module._kernels()

    def recording(kernel):  # noqa: ANN001, ANN202
        def run(q, *args):  # noqa: ANN001, ANN002, ANN202
            seen.append((len(q), threading.current_thread().name))
            kernel(q, *args)
        return run

    monkeypatch.setattr(quantized_module, "_kernels", lambda: tuple(recording(k) for k in kernels))
    monkeypatch.setattr(workers, "HELPERS", 2)  # three slices, even on a one-core machine
    monkeypatch.setattr(quantized_module, "MIN_SLICE", 1_000)
    np.testing.assert_array_equal(scan.upper(x), whole_upper)
    estimate, upper = scan.scan(x)
    np.testing.assert_array_equal(estimate, whole_estimate)
    np.testing.assert_array_equal(upper, whole_upper)
    # three slices covering the rows, per pass; the caller ran one, the pool the others
    assert len(seen) == 6 and sum(n for n, _ in seen[:3]) == sum(n for n, _ in seen[3:]) == 10_001
    names = [name for _, name in seen]
    assert names.count(threading.current_thread().name) == 2
    assert sum(name.startswith("serving-helper") for name in names) == 4
    # too few rows per slice: the caller alone
    seen.clear()
    monkeypatch.setattr(quantized_module, "MIN_SLICE", 5_001)
    np.testing.assert_array_equal(scan.upper(x), whole_upper)
    assert seen == [(10_001, threading.current_thread().name)]


def test_a_vector_of_the_wrong_rank_is_refused() -> None:
    scan = QuantizedScan.of(np.ones((4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="rank is 3"):
        scan.upper(np.ones(4))


def test_scans_are_float32_unless_asked(tmp_path) -> None:
    has = np.ones(10, dtype=bool)
    assert Scan.of(np.ones((10, 2), dtype=np.float32), has).quantized is None
    assert Scan.of(np.ones((10, 2), dtype=np.float32), has, quantize=True).quantized is not None
    assert rich_bundle(tmp_path, 0).scan.quantized is None


def _pair(rec: Recommender) -> tuple[Recommender, Recommender]:
    """``rec`` (float32) and the same recommender serving from the int8 copy."""
    assert rec.scan.quantized is None
    quantized = Recommender(rec.bundle, quantize=True)
    assert quantized.scan.quantized is not None
    return rec, quantized


@pytest.mark.parametrize("n_without", [0, 40, 400], ids=["all-factors", "some-without", "compact"])
def test_the_model_ranking_is_the_float32_one(tmp_path, n_without) -> None:
    exact, quantized = _pair(rich_bundle(tmp_path, n_without))
    ids = exact.bundle.items["track_id"]
    for seed in range(4):
        picks = np.random.default_rng(seed).choice(len(ids), 9, replace=False)
        history = {ids[i]: float(1 + i % 4) for i in picks}
        for opts in CASES:
            opts = dataclasses.replace(opts, discovery=None)
            want, got = exact.recommend(history, opts), quantized.recommend(history, opts)
            assert got.indices.tolist() == want.indices.tolist()
            np.testing.assert_allclose(got.scores, want.scores, rtol=1e-9, atol=1e-9)
            assert [e.because for e in got.explanations] == [e.because for e in want.explanations]
        np.testing.assert_array_equal(quantized.served_scores(history), exact.served_scores(history))


@pytest.mark.parametrize("n_without", [0, 400], ids=["all-factors", "compact"])
def test_the_lists_are_the_float32_ones(tmp_path, n_without) -> None:
    exact, quantized = _pair(rich_bundle(tmp_path, n_without))
    ids = exact.bundle.items["track_id"]
    history = {ids[i]: float(1 + i % 4) for i in (0, 5, 17, 33, 120, 121, 250)}
    for opts in CASES:
        want, got = exact.lists(history, opts), quantized.lists(history, opts)
        for name in ("familiar", "new", "blended"):
            a, b = getattr(want, name), getattr(got, name)
            assert b.indices.tolist() == a.indices.tolist(), name
            # the z of the model term standardizes by the estimates' moments: a hair apart
            np.testing.assert_allclose(b.rank_scores, a.rank_scores, rtol=1e-3, atol=1e-3)
        assert quantized.recommend(history, opts).indices.tolist() == got.blended.indices.tolist()


def test_the_demo_lists_are_the_float32_ones() -> None:
    exact, quantized = _pair(Recommender(load_bundle(DEMO)))
    history = exact.bundle.tables["demo_history"].query("user_id == 'demo:0003'")
    listening = dict(zip(history["track_id"], history["weight"].astype(float)))
    for opts in CASES[:2]:
        want, got = exact.lists(listening, opts).blended, quantized.lists(listening, opts).blended
        assert got.indices.tolist() == want.indices.tolist()
        np.testing.assert_allclose(got.rank_scores, want.rank_scores, rtol=1e-3, atol=1e-3)
        # the demo catalogue has tracks of equal scores: those may swap
        model = dataclasses.replace(opts, discovery=None)
        want, got = exact.recommend(listening, model), quantized.recommend(listening, model)
        same_up_to_ties(got.indices, got.rank_scores, want.indices.tolist(), want.rank_scores)


def test_negative_model_weights_refuse_the_int8_pass(tmp_path) -> None:
    rec = rich_bundle(tmp_path, 0)
    weights = ListWeights(new_model=-0.5)
    assert Recommender(rec.bundle, list_weights=weights).scan.quantized is None
    with pytest.raises(ValueError, match="ListWeights.new_model"):
        Recommender(rec.bundle, list_weights=weights, quantize=True)
