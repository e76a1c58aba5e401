"""Track id -> bundle row: pandas' hash table over the catalogue's ids, asked directly.

Every request looks up its history's ids (and a page its cards'). ``pd.Index.get_indexer``
spends most of that time before its hash table is asked: it builds an Index of the query ids
and infers their dtype. For 200 ids on a 600k catalogue (``bench/serve.py``'s, one-off script,
p50) the public call took 135 µs and the table alone 31 µs; right after a served request had
flushed the caches, 439 against 197 µs, and a fold-in there 1,031 against 766 µs (in
``bench/serve.py``'s loop, 889 / 946 → 579 / 638 µs). So :class:`TrackIndex` keeps the pandas
Index (its own frames use it) and asks the Index's lookup engine with an object array of the
query, after checking at construction that it finds ids whose rows are known (first, middle,
last) and misses one no catalogue holds; where it does not (another pandas), every lookup goes
through ``get_indexer``. A plain dict would need no pandas internals, but holds 33 MiB at 600k
ids against the Index's 16 MiB (measured), and serving's memory target is tight at rank 128
(README, Scaling).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

#: An id no catalogue holds: the construction check asks for it and expects -1.
_NO_TRACK = "\x00 not a track id"


class TrackIndex:
    """Rows of track ids in one bundle's items table (read-only, thread-safe).

    Parameters
    ----------
    track_ids : numpy.ndarray
        The items table's ``track_id`` column (object array of str), row order.

    Raises
    ------
    ValueError
        When an id appears twice (a lookup could not name one row).
    """

    def __init__(self, track_ids: np.ndarray) -> None:
        self.index = pd.Index(np.asarray(track_ids, dtype=object))
        if not self.index.is_unique:
            raise ValueError("duplicate track_id values")
        self._direct = self._engine_lookup()  # building it also builds the hash table, now

    def _engine_lookup(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """The Index's own table lookup when it finds the rows of known ids and misses an unknown
        one (the construction check), else None."""
        lookup = getattr(getattr(self.index, "_engine", None), "get_indexer", None)
        if lookup is None:
            return None
        rows = np.unique([0, len(self.index) // 2, len(self.index) - 1]) if len(self.index) else np.zeros(0, int)
        probe = [*self.index[rows].tolist(), _NO_TRACK]  # their rows are known: no lookup to trust
        try:
            same = np.array_equal(lookup(_objects(probe)), [*rows.tolist(), -1])
        except Exception:  # noqa: BLE001 - any surprise from an internal API: use the public one
            return None
        return lookup if same else None

    @property
    def direct(self) -> bool:
        """Whether lookups skip ``get_indexer``'s per-call Index (see the module docstring)."""
        return self._direct is not None

    def positions(self, track_ids: Iterable[str]) -> np.ndarray:
        """Row of each id (int64, in order; -1 for ids the bundle lacks)."""
        keys = track_ids if isinstance(track_ids, list) else list(track_ids)
        if not keys:
            return np.zeros(0, dtype=np.intp)
        if self._direct is not None:
            try:
                return self._direct(_objects(keys))
            except TypeError:  # an unhashable key: get_indexer's own answer (-1, or this TypeError)
                pass
        return self.index.get_indexer(keys)


def _objects(keys: list) -> np.ndarray:
    """``keys`` as a 1-D object array (each element as it is, never split into a 2-D array)."""
    return np.fromiter(keys, dtype=object, count=len(keys))
