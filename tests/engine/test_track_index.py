"""Track id lookups (engine.serving.track_index): the direct table lookup answers exactly what
``pd.Index.get_indexer`` answers, for every kind of key a caller may pass, and a bundle with a
repeated id is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.bundle.load import load_bundle
from engine.bundle.publish import publish_bundle
from engine.core.errors import BundleError
from engine.serving.recommender import Recommender
from engine.serving.track_index import TrackIndex
from tests.factories import random_bundle_parts

ALPHABET = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))


@pytest.fixture(scope="module")
def ids() -> np.ndarray:
    rng = np.random.default_rng(0)
    return ALPHABET[rng.integers(0, 62, size=(5_000, 22))].view("<U22").ravel().astype(object)


def queries(ids: np.ndarray) -> list[list]:
    """Known ids (as new str objects, as from JSON), unknown ones, repeats, other key types."""
    rng = np.random.default_rng(1)
    fresh = [(str(t) + " ")[:-1] for t in ids[rng.choice(len(ids), 200, replace=False)]]
    return [
        fresh,
        fresh[:5] + ["0" * 22, fresh[0], "", fresh[3]],  # unknown, repeated, empty string
        [np.str_(ids[7]), 7, None, float("nan"), b"x", ids[-1]],  # a numpy str counts as its text
        [["not", "hashable"], ids[0]],  # get_indexer raises TypeError for an unhashable key here
        [["not", "hashable"]],  # and answers -1 when every key is one
        [ids[0]] * 3,
    ]


def outcome(lookup, keys: list) -> tuple[str, object]:  # noqa: ANN001
    """What a lookup answers for ``keys``: its array, or the type of what it raised."""
    try:
        found = lookup(keys)
    except TypeError as exc:
        return "raised", type(exc)
    return str(found.dtype), found.tolist()


def test_lookups_equal_get_indexer_for_every_kind_of_key(ids) -> None:
    index = TrackIndex(ids)
    assert index.direct  # on the pinned pandas the direct lookup is the one taken
    public = pd.Index(ids)
    for keys in queries(ids):
        assert outcome(index.positions, keys) == outcome(public.get_indexer, keys), keys[:3]
    assert index.positions([]).shape == (0,)
    assert np.array_equal(index.positions(iter(ids[:4])), np.arange(4))  # any iterable
    assert np.array_equal(index.positions(tuple(ids[-2:])), [len(ids) - 2, len(ids) - 1])


def test_without_the_direct_lookup_the_answers_are_the_same(ids, monkeypatch) -> None:
    direct = TrackIndex(ids)
    monkeypatch.setattr(TrackIndex, "_engine_lookup", lambda self: None)
    public = TrackIndex(ids)
    assert direct.direct and not public.direct
    for keys in queries(ids):
        assert outcome(public.positions, keys) == outcome(direct.positions, keys), keys[:3]


def test_a_lookup_that_misses_known_rows_or_raises_is_not_used(ids, monkeypatch) -> None:
    """The construction check: an engine that answers wrong rows is refused, as is one that raises."""
    real = pd.Index(ids)._engine

    class Engine:
        def __init__(self, answer):  # noqa: ANN001
            self.get_indexer = answer

    def off_by_one(values: np.ndarray) -> np.ndarray:
        return real.get_indexer(values) + 1

    def raises(values: np.ndarray) -> np.ndarray:
        raise RuntimeError("internal API changed")

    index = TrackIndex(ids)
    for answer in (off_by_one, raises):
        with monkeypatch.context() as patch:
            patch.setattr(pd.Index, "_engine", property(lambda self, a=answer: Engine(a)))
            assert index._engine_lookup() is None  # noqa: SLF001 - the check itself
    assert index._engine_lookup() is not None  # noqa: SLF001 - the real engine passes it


def test_repeated_ids_are_refused(ids, tmp_path) -> None:
    with pytest.raises(ValueError, match="duplicate track_id"):
        TrackIndex(np.concatenate([ids[:10], ids[3:4]]))
    parts = random_bundle_parts(n_items=40, rank=4, seed=0)
    items = parts["items"].copy()
    items.loc[5, "track_id"] = items.loc[2, "track_id"]
    version = publish_bundle(tmp_path, **{**parts, "items": items})
    with pytest.raises(BundleError, match="items.parquet has duplicate track_id values"):
        Recommender(load_bundle(tmp_path / version))
