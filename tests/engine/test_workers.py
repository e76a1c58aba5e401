"""engine.serving.workers: work beside the caller, and in the caller without helpers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from engine.serving import lists as lists_module
from engine.serving import quantized, workers
from engine.serving import recommender as recommender_module
from engine.serving.recommender import Recommender
from tests.engine.test_lists_reference import rich_bundle


def _where(value: int) -> tuple[int, str]:
    return value * 2, threading.current_thread().name


def _fails() -> None:
    raise ValueError("bad row 7")


def test_work_runs_on_a_helper_thread(monkeypatch) -> None:
    monkeypatch.setattr(workers, "HELPERS", 1)
    value, name = workers.beside(_where, 21).result()
    assert value == 42 and name.startswith("serving-helper")


def test_without_helpers_work_runs_in_the_caller(monkeypatch) -> None:
    monkeypatch.setattr(workers, "HELPERS", 0)
    future = workers.beside(_where, 4)
    assert future.done() and future.result() == (8, threading.current_thread().name)


@pytest.mark.parametrize("helpers", [0, 1])
def test_what_the_work_raised_reaches_the_caller(monkeypatch, helpers) -> None:
    monkeypatch.setattr(workers, "HELPERS", helpers)
    with pytest.raises(ValueError, match="bad row 7"):
        workers.beside(_fails).result()


def test_a_cgroup_cpu_quota_bounds_the_cores(tmp_path) -> None:
    cpu_max = tmp_path / "cpu.max"
    unbounded = workers.cores(tmp_path / "absent")
    for text, want in (("max 100000", unbounded), ("150000 100000", min(unbounded, 2)),
                       ("50000 100000", 1), ("garbage", unbounded)):
        cpu_max.write_text(text + "\n")
        assert workers.cores(cpu_max) == want, text


def test_the_pool_leaves_one_core_to_the_caller() -> None:
    assert workers.HELPERS == min(workers.MAX_HELPERS, workers.cores() - 1)


@pytest.mark.parametrize("quantize", [False, True], ids=["float32", "int8"])
def test_concurrent_requests_get_the_lists_of_one_at_a_time(tmp_path, monkeypatch, quantize) -> None:
    """Sessions share the helpers: lists ranked beside other requests are the same lists."""
    monkeypatch.setattr(workers, "HELPERS", 2)  # three slices of the int8 pass
    monkeypatch.setattr(quantized, "MIN_SLICE", 50)  # split the small catalogue's int8 pass too
    monkeypatch.setattr(workers, "PARALLEL_FROM", 0)  # and rank its lists beside each other
    rec = rich_bundle(tmp_path, 40)
    rec = Recommender(rec.bundle, quantize=True) if quantize else rec
    ids = rec.bundle.items["track_id"]
    rng = np.random.default_rng(5)
    histories = [{ids[i]: float(1 + i % 3) for i in rng.choice(len(ids), 12, replace=False)} for _ in range(6)]

    def lists(history: dict[str, float]) -> list[list[int]]:
        found = rec.lists(history)
        return [found.familiar.indices.tolist(), found.new.indices.tolist(), found.blended.indices.tolist()]

    want = [lists(h) for h in histories]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lists, histories * 4))
    assert got == want * 4
    assert all(len(w[1]) for w in want)  # the new list (ranked beside the familiar one) is there


def test_the_lists_run_beside_each_other_only_on_a_large_catalogue(tmp_path, monkeypatch) -> None:
    """From PARALLEL_FROM items on, the familiar list and the artist scores run on a helper
    thread; below, in the caller. The lists are the same either way."""
    monkeypatch.setattr(workers, "HELPERS", 1)
    seen: list[tuple[str, str]] = []

    def recording(name: str, fn):  # noqa: ANN001, ANN202
        def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            seen.append((name, threading.current_thread().name))
            return fn(*args, **kwargs)
        return run

    monkeypatch.setattr(lists_module, "_familiar", recording("familiar", lists_module._familiar))
    monkeypatch.setattr(recommender_module, "artist_scores", recording("artists", recommender_module.artist_scores))
    bundle = rich_bundle(tmp_path, 40).bundle
    n = len(bundle.items)
    ids = bundle.items["track_id"]
    history = {ids[i]: float(1 + i % 3) for i in range(0, n, max(1, n // 12))}
    found = {}
    for threshold in (n, n + 1):  # the catalogue at the threshold, and one item short of it
        monkeypatch.setattr(workers, "PARALLEL_FROM", threshold)
        seen.clear()
        got = Recommender(bundle).lists(history)
        found[threshold] = [got.familiar.indices.tolist(), got.new.indices.tolist(), got.blended.indices.tolist()]
        on_helper = {name: thread.startswith("serving-helper") for name, thread in seen}
        assert on_helper == {"familiar": threshold <= n, "artists": threshold <= n}, (threshold, seen)
    assert found[n] == found[n + 1] and all(found[n])
