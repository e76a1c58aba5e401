"""Sparse top-N item–item cosine neighbours as the bundle stores them (the served blend's second signal).

:class:`NeighbourParams` says how the lists are built (``top_n``, the per-listener cap
``max_user_items``, ``min_common`` shared listeners; recorded in the manifest as
``params["neighbours"]``); they are computed on Spark by :mod:`engine.training.neighbours`.
:class:`ItemNeighbours` holds them in CSR form and can :meth:`~ItemNeighbours.truncate` every
row to a shorter prefix, :meth:`~ItemNeighbours.remap` rows from ALS item indices to the
bundle's item rows, and convert to and from the bundle's ``extra`` arrays.

Storage (bundle ``extra`` arrays, rows = the bundle's items table): ``neighbours_indptr``
int64 ``[n_items + 1]``, ``neighbours_entries`` (:data:`ENTRY_DTYPE`: each neighbour's int32
``index`` and float32 ``score`` side by side; each row sorted by score, best first), and
``item_listeners`` float32 ``[n_items]`` (training listeners per item). At 100 neighbours that
is 800 bytes per item with listeners — memory-mapped, and a request reads its rows from the
file (``FileSlices``), so a 600k catalogue's lists stay out of the process RSS. Bundles written
before the entries kept indices and scores in two arrays (``neighbours_indices`` int32,
``neighbours_scores`` float32); they load as before. numpy only: the app imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np

from engine.bundle.load import FileSlices, release_pages

#: What builds a component's lists (see :class:`NeighbourParams`).
KINDS = ("cooccurrence", "ease")
#: The name of the first lists (``params["neighbours"]``); further components name their own.
NEIGHBOURS = "neighbours"
#: The training listeners of every item, shared by all lists.
EXTRA_LISTENERS = "item_listeners"
#: One stored neighbour: its item index and score side by side, so a request reads each history
#: row of a list with one ``pread`` rather than one per array (200 rows after a pass: ~560
#: against ~380 µs at 600k items, bench/serve.py's catalogue; the blend step ~100 µs less).
ENTRY_DTYPE = np.dtype([("index", "<i4"), ("score", "<f4")])


class ExtraNames(NamedTuple):
    """The ``extra`` array names of one set of lists (see the module docstring)."""

    indptr: str
    entries: str
    #: the two arrays of bundles written before ``entries``
    indices: str
    scores: str


def extra_names(name: str = NEIGHBOURS) -> ExtraNames:
    """The ``extra`` array names of the lists called ``name``: a component ``c`` stores
    ``c_indptr`` and ``c_entries`` (older bundles ``c_indices`` and ``c_scores``)."""
    return ExtraNames(f"{name}_indptr", f"{name}_entries", f"{name}_indices", f"{name}_scores")


@dataclass(frozen=True)
class NeighbourParams:
    """How the neighbour lists are built (recorded in the manifest under ``params["neighbours"]``).

    Attributes
    ----------
    top_n : int
        Neighbours kept per item.
    max_user_items : int
        A listener's items used for pairs (their highest weights; 0: no cap).
    min_common : int
        Minimum number of shared listeners for a pair to count.
    user_exponent, source_exponent, target_exponent, shrink : float
        ``γ, a, b, h`` of the similarity ``s(i, j) = Σ_u |I_u|^(−γ) / (n_i^a · n_j^b + h)``
        (:mod:`engine.training.cooccurrence`): the defaults are plain cosine; ``h > 0`` is
        item-kNN with shrinkage; ``γ = a = α, b = β, h = 0`` is RP3beta.
    kind : str
        ``"cooccurrence"`` (the formula above) or ``"ease"`` (EASE's largest weights,
        :mod:`engine.training.ease`, with ``ease_lambda`` on the ``ease_items`` most-played items).
    """

    top_n: int = 100
    max_user_items: int = 500
    min_common: int = 1
    user_exponent: float = 0.0
    source_exponent: float = 0.5
    target_exponent: float = 0.5
    shrink: float = 0.0
    kind: str = "cooccurrence"
    ease_lambda: float = 100.0
    ease_items: int = 8000

    def __post_init__(self) -> None:
        if self.top_n < 1:
            raise ValueError(f"neighbours top_n must be at least 1, got {self.top_n}")
        if self.max_user_items < 0 or self.min_common < 1:
            raise ValueError(f"neighbours max_user_items must be >= 0 and min_common >= 1, got {self}")
        if self.kind not in KINDS:
            raise ValueError(f"neighbours kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if min(self.user_exponent, self.source_exponent, self.target_exponent, self.shrink) < 0:
            raise ValueError(f"neighbours exponents and shrink must be >= 0, got {self}")
        if not self.ease_lambda > 0 or self.ease_items < 1:
            raise ValueError(f"neighbours ease_lambda must be > 0 and ease_items >= 1, got {self}")

    @property
    def label(self) -> str:
        """A short name of the model these lists are: cosine, item-kNN, RP3beta or EASE."""
        if self.kind == "ease":
            return f"EASE (λ {self.ease_lambda:g}, {self.ease_items:,} items, top {self.top_n})"
        if self.user_exponent == 0 and self.source_exponent == self.target_exponent == 0.5:
            return f"item-kNN (cosine, shrink {self.shrink:g}, top {self.top_n})"
        if self.shrink == 0 and self.user_exponent == self.source_exponent:
            return f"RP3beta (α {self.source_exponent:g}, β {self.target_exponent:g}, top {self.top_n})"
        return (f"co-occurrence (γ {self.user_exponent:g}, a {self.source_exponent:g}, b {self.target_exponent:g}, "
                f"shrink {self.shrink:g}, top {self.top_n})")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "NeighbourParams":
        """From a manifest / best_params block (unknown keys ignored); raises ``ValueError``
        naming a field that is not a number."""
        out: dict[str, Any] = {}
        for key, value in (values or {}).items():
            f = cls.__dataclass_fields__.get(key)
            if f is None:
                continue
            kind = str if key == "kind" else (int if f.type in ("int", int) else float)
            try:
                out[key] = kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"neighbours.{key}={value!r} is not a {kind.__name__}") from None
        return cls(**out)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for manifests)."""
        return asdict(self)


@dataclass(frozen=True)
class ItemNeighbours:
    """CSR neighbour lists: item ``i``'s neighbours are ``indices[indptr[i]:indptr[i+1]]`` with
    cosine ``scores`` in the same slice, best first. ``listeners[i]`` = training listeners of i.
    ``files``: a reader of the bundle's entries file, or of its two older ``indices`` and
    ``scores`` files (:meth:`from_extra` sets them when it can), which :meth:`gather` uses
    instead of the maps."""

    indptr: np.ndarray
    indices: np.ndarray
    scores: np.ndarray
    listeners: np.ndarray
    files: FileSlices | tuple[FileSlices, FileSlices] | None = field(default=None, compare=False, repr=False)

    @property
    def n_items(self) -> int:
        """Number of rows."""
        return len(self.indptr) - 1

    def row(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour indices and cosines of one item, best first."""
        lo, hi = int(self.indptr[item]), int(self.indptr[item + 1])
        return self.indices[lo:hi], self.scores[lo:hi]

    def gather(self, items: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The lists of ``items``: (row lengths, neighbour indices int64, cosines float64),
        rows concatenated in the order of ``items``.

        Read from the bundle's files when :attr:`files` are set (nothing is mapped). Otherwise
        the memory-mapped pages read are released afterwards (:func:`release_pages`): the
        kernel maps a whole large page-cache folio per fault, so a few hundred rows of a
        600k-item list file otherwise left ~190 MiB of it counted in the process RSS per
        request (measured); the next read maps them again.
        """
        items = np.asarray(items, dtype=np.int64)
        starts = np.asarray(self.indptr[items], dtype=np.int64)
        lengths = np.asarray(self.indptr[items + 1], dtype=np.int64) - starts
        if isinstance(self.files, FileSlices):
            rows = self.files.read(starts, lengths)
            return lengths, rows["index"].astype(np.int64), rows["score"].astype(np.float64)
        if self.files is not None:
            index_file, score_file = self.files
            return (lengths, index_file.read(starts, lengths).astype(np.int64),
                    score_file.read(starts, lengths).astype(np.float64))
        flat = segment_positions(starts, lengths)
        indices = np.asarray(self.indices[flat], dtype=np.int64)
        scores = np.asarray(self.scores[flat], dtype=np.float64)
        release_pages(self.indices)
        release_pages(self.scores)
        return lengths, indices, scores

    def truncate(self, top_n: int) -> "ItemNeighbours":
        """The first ``top_n`` neighbours of every row (rows are sorted, so a prefix)."""
        lengths = np.minimum(np.diff(self.indptr), top_n)
        if np.array_equal(lengths, np.diff(self.indptr)):
            return self
        keep = segment_positions(self.indptr[:-1], lengths)
        indptr = np.zeros(len(self.indptr), dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return ItemNeighbours(indptr, self.indices[keep], self.scores[keep], self.listeners)

    def remap(self, rows: np.ndarray, n_items: int) -> "ItemNeighbours":
        """Move row ``i`` (and every neighbour index ``i``) to ``rows[i]`` of an ``n_items`` table
        (e.g. from ALS item indices to the bundle's item rows)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) != self.n_items:
            raise ValueError(f"remap needs one target row per item: got {len(rows)} for {self.n_items}")
        lengths = np.diff(self.indptr)
        new_lengths = np.zeros(n_items, dtype=np.int64)
        new_lengths[rows] = lengths
        indptr = np.zeros(n_items + 1, dtype=np.int64)
        np.cumsum(new_lengths, out=indptr[1:])
        owner = np.repeat(np.arange(self.n_items), lengths)
        order = np.argsort(rows[owner], kind="stable")  # stable: each row keeps its best-first order
        listeners = np.zeros(n_items, dtype=np.float32)
        listeners[rows] = self.listeners
        return ItemNeighbours(
            indptr, rows[self.indices[order]].astype(np.int32), self.scores[order], listeners
        )

    def to_extra(self, name: str = NEIGHBOURS) -> dict[str, np.ndarray]:
        """The bundle ``extra`` arrays of the lists called ``name`` (indptr, entries, listeners)."""
        names = extra_names(name)
        entries = np.empty(len(self.indices), dtype=ENTRY_DTYPE)
        entries["index"], entries["score"] = self.indices, self.scores
        return {
            names.indptr: np.asarray(self.indptr, dtype=np.int64),
            names.entries: entries,
            EXTRA_LISTENERS: np.asarray(self.listeners, dtype=np.float32),
        }

    @classmethod
    def from_extra(cls, extra: Mapping[str, np.ndarray], n_items: int, name: str = NEIGHBOURS) -> "ItemNeighbours | None":
        """Read the lists called ``name`` back from a bundle's ``extra`` (None when absent).

        Reads the entries array, or the two arrays of an older bundle. Raises ``ValueError``
        naming the array when one is missing, of another type, or does not fit ``n_items``.
        """
        names = extra_names(name)
        if names.indptr not in extra:
            return None
        files: FileSlices | tuple[FileSlices, FileSlices] | None
        if EXTRA_LISTENERS in extra and names.entries in extra:
            entries, where = extra[names.entries], f"extra/{names.entries}.npy"
            if entries.dtype != ENTRY_DTYPE or entries.ndim != 1:
                raise ValueError(f"{where} holds {entries.dtype} of shape {entries.shape}, expected {ENTRY_DTYPE} entries")
            indices, scores, files = np.asarray(entries["index"]), np.asarray(entries["score"]), FileSlices.of(entries)
        elif EXTRA_LISTENERS in extra and names.indices in extra and names.scores in extra:
            where = f"extra/{names.indices}.npy / {names.scores}.npy"
            index_file, score_file = FileSlices.of(extra[names.indices]), FileSlices.of(extra[names.scores])
            indices, scores = np.asarray(extra[names.indices]), np.asarray(extra[names.scores])
            files = (index_file, score_file) if index_file is not None and score_file is not None else None
        else:
            raise ValueError(f"extra/{names.indptr}.npy comes without {names.entries} (or {names.indices} and {names.scores}) or {EXTRA_LISTENERS}")
        found = cls(np.asarray(extra[names.indptr]), indices, scores, np.asarray(extra[EXTRA_LISTENERS]), files=files)
        if len(found.indptr) != n_items + 1 or len(found.listeners) != n_items:
            raise ValueError(f"extra/{names.indptr}.npy has {len(found.indptr)} entries, expected {n_items + 1}")
        if len(found.indices) != found.indptr[-1] or len(found.scores) != found.indptr[-1]:
            raise ValueError(f"{where} do not match {names.indptr}")
        if len(found.indices):
            low, high = _range(found.indices)
            if high >= n_items or low < 0:
                raise ValueError(f"{where} names items outside 0..{n_items - 1}")
        return found


def _range(values: np.ndarray, block: int = 1 << 22) -> tuple[int, int]:
    """(min, max) of a memory-mapped array, read in blocks, its pages released after each
    block: the check reads the whole file once (240 MB of indices for 600k items with 100
    neighbours) but serving touches only the history rows, so none of it should stay resident."""
    low, high = int(values[0]), int(values[0])
    for start in range(0, len(values), block):
        part = values[start : start + block]
        low, high = min(low, int(part.min())), max(high, int(part.max()))
        release_pages(values)
    return low, high


def segment_positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(starts[r], starts[r] + lengths[r])`` over rows, without a loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    offsets = np.arange(total) - np.repeat(ends - lengths, lengths)
    return np.repeat(np.asarray(starts, dtype=np.int64), lengths) + offsets
