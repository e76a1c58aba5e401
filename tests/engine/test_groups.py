"""Entries grouped by item (engine.serving.groups): the sums, maxima and order numpy's own
unique / bincount / stable argsort give, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from engine.serving.groups import group_by_item, stable_order


@pytest.mark.parametrize("n_items, n_entries", [(50, 400), (10_000, 200), (10_000, 0), (2**55, 200)])
def test_group_sums_are_bit_for_bit_unique_then_bincount(n_items: int, n_entries: int) -> None:
    """Both ways (dense count for many entries, sort for few) give np.unique + np.bincount
    exactly (and the maxima np.maximum.at's), also for values taken into the groups' order
    first (and for item indices too wide for the radix sort's three 16-bit digits); the sorted
    way's order and starts put each item's entries in one slice."""
    rng = np.random.default_rng(n_items + n_entries)
    items = rng.integers(0, n_items, n_entries)
    values = rng.normal(size=n_entries) * 10.0 ** rng.integers(-8, 8, n_entries)
    uniq, inv = np.unique(items, return_inverse=True)
    groups = group_by_item(items, n_items)
    assert np.array_equal(groups.items, uniq)
    assert np.array_equal(groups.sums(values), np.bincount(inv, weights=values, minlength=len(uniq)))  # exact, not approx
    assert np.array_equal(groups.sums_taken(groups.take(values)), groups.sums(values))  # values taken first: the same
    maxima = np.full(len(uniq), -np.inf)
    np.maximum.at(maxima, inv, values)
    assert np.array_equal(groups.maxima(values), maxima)  # the largest of each item's entries
    assert (groups.order is None) == (n_entries * 4 >= n_items or n_entries == 0)
    if groups.order is not None and groups.starts is not None:
        for j, item in enumerate(uniq):
            slice_ = groups.order[groups.starts[j] : groups.starts[j + 1]]
            assert slice_.tolist() == np.flatnonzero(items == item).tolist()  # input order kept


@pytest.mark.parametrize("n_items", [1, 2, 255, 256, 257, 65_536, 65_537, 600_000, 2**24 + 1, 2**40, 2**48, 2**49])
def test_stable_order_is_numpys_stable_argsort(n_items: int) -> None:
    """The radix sort gives ``np.argsort(kind="stable")`` itself for every digit count (a last
    digit of one bit, of eight, of nine; beyond three digits numpy's own sort), ties included:
    a few distinct values repeated, and the largest index the catalogue allows."""
    rng = np.random.default_rng(n_items % 1000)
    for items in (rng.integers(0, n_items, 3_000), rng.choice(rng.integers(0, n_items, 5), 3_000),
                  np.array([n_items - 1, 0, n_items - 1, 0]), np.zeros(0, dtype=np.int64)):
        assert np.array_equal(stable_order(items, n_items), np.argsort(items, kind="stable"))
