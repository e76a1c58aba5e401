"""Sparse top-N item–item cosine neighbours, computed on Spark (the served blend's second signal).

Data flow::

    training interactions (user_idx, item_idx, weight > 0)
      -> binary: one row per (user, item); a listener's items capped at ``max_user_items``
         (their highest weights), because a listener with n items makes n²/2 pairs
      -> self-join on the listener, i < j  -> co-occurrence count per item pair
      -> cosine = co(i, j) / (sqrt(n_i) · sqrt(n_j)),  n_i = listeners of i
      -> both directions, top ``top_n`` per item (ties: lower neighbour index first)
      -> collected into CSR arrays (:class:`ItemNeighbours`)

Why a self-join rather than ``RowMatrix.columnSimilarities`` (DIMSUM): the DataFrame version is
exact, caps heavy listeners explicitly, keeps the top-N per item inside Spark (a window), and
needs no RDD API; DIMSUM's sampling only pays off for dense columns, which listening data lacks.

Storage (bundle ``extra`` arrays, rows = the bundle's items table): ``neighbours_indptr``
int64 ``[n_items + 1]``, ``neighbours_indices`` int32, ``neighbours_scores`` float32 (each row
sorted by score, best first), and ``item_listeners`` float32 ``[n_items]`` (training listeners
per item). At 100 neighbours that is 800 bytes per item with listeners — memory-mapped, so a
600k catalogue costs only the pages a request touches. This module imports numpy only at
module level (the app reads :class:`ItemNeighbours`; Spark is imported inside the function).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

#: Names of the bundle ``extra`` arrays.
EXTRA_INDPTR, EXTRA_INDICES, EXTRA_SCORES, EXTRA_LISTENERS = (
    "neighbours_indptr", "neighbours_indices", "neighbours_scores", "item_listeners",
)


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
    """

    top_n: int = 100
    max_user_items: int = 500
    min_common: int = 1

    def __post_init__(self) -> None:
        if self.top_n < 1:
            raise ValueError(f"neighbours top_n must be at least 1, got {self.top_n}")
        if self.max_user_items < 0 or self.min_common < 1:
            raise ValueError(f"neighbours max_user_items must be >= 0 and min_common >= 1, got {self}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "NeighbourParams":
        """From a manifest / best_params block (unknown keys ignored)."""
        known = {k: int(v) for k, v in (values or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_dict(self) -> dict[str, int]:
        """Plain dict (for manifests)."""
        return asdict(self)


@dataclass(frozen=True)
class ItemNeighbours:
    """CSR neighbour lists: item ``i``'s neighbours are ``indices[indptr[i]:indptr[i+1]]`` with
    cosine ``scores`` in the same slice, best first. ``listeners[i]`` = training listeners of i."""

    indptr: np.ndarray
    indices: np.ndarray
    scores: np.ndarray
    listeners: np.ndarray

    @property
    def n_items(self) -> int:
        """Number of rows."""
        return len(self.indptr) - 1

    def row(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour indices and cosines of one item, best first."""
        lo, hi = int(self.indptr[item]), int(self.indptr[item + 1])
        return self.indices[lo:hi], self.scores[lo:hi]

    def truncate(self, top_n: int) -> "ItemNeighbours":
        """The first ``top_n`` neighbours of every row (rows are sorted, so a prefix)."""
        lengths = np.minimum(np.diff(self.indptr), top_n)
        if np.array_equal(lengths, np.diff(self.indptr)):
            return self
        keep = _segment_positions(self.indptr[:-1], lengths)
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

    def to_extra(self) -> dict[str, np.ndarray]:
        """The bundle ``extra`` arrays."""
        return {
            EXTRA_INDPTR: np.asarray(self.indptr, dtype=np.int64),
            EXTRA_INDICES: np.asarray(self.indices, dtype=np.int32),
            EXTRA_SCORES: np.asarray(self.scores, dtype=np.float32),
            EXTRA_LISTENERS: np.asarray(self.listeners, dtype=np.float32),
        }

    @classmethod
    def from_extra(cls, extra: Mapping[str, np.ndarray], n_items: int) -> "ItemNeighbours | None":
        """Read them back from a bundle's ``extra`` (None when the bundle has no neighbours).

        Raises ``ValueError`` naming the array when the shapes do not fit ``n_items``.
        """
        if EXTRA_INDPTR not in extra:
            return None
        found = cls(
            np.asarray(extra[EXTRA_INDPTR]), np.asarray(extra[EXTRA_INDICES]),
            np.asarray(extra[EXTRA_SCORES]), np.asarray(extra[EXTRA_LISTENERS]),
        )
        if len(found.indptr) != n_items + 1 or len(found.listeners) != n_items:
            raise ValueError(f"extra/{EXTRA_INDPTR}.npy has {len(found.indptr)} entries, expected {n_items + 1}")
        if len(found.indices) != found.indptr[-1] or len(found.scores) != found.indptr[-1]:
            raise ValueError(f"extra/{EXTRA_INDICES}.npy / {EXTRA_SCORES}.npy do not match {EXTRA_INDPTR}")
        return found


def _segment_positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(starts[r], starts[r] + lengths[r])`` over rows, without a loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    offsets = np.arange(total) - np.repeat(ends - lengths, lengths)
    return np.repeat(np.asarray(starts, dtype=np.int64), lengths) + offsets


def item_neighbours(
    interactions: "DataFrame",
    n_items: int,
    *,
    params: NeighbourParams = NeighbourParams(),
    user_col: str = "user_idx",
    item_col: str = "item_idx",
) -> ItemNeighbours:
    """Top-N cosine neighbours of every item, computed with Spark (see the module docstring).

    Parameters
    ----------
    interactions : pyspark.sql.DataFrame
        Integer ``user_idx``, ``item_idx`` (0 ≤ item < ``n_items``) and ``weight``; rows with a
        non-positive weight are ignored, duplicates count once (cosine on binary data).
    n_items : int
        Number of item rows of the result.
    params : NeighbourParams
        top-N, the per-listener cap, the minimum of shared listeners.

    Returns
    -------
    ItemNeighbours
        Rows sorted by cosine (ties: lower index first); items nobody played have empty rows.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    for col in (user_col, item_col, "weight"):
        if col not in interactions.columns:
            raise ValueError(f"neighbour input lacks column {col!r} (have {', '.join(interactions.columns)})")
    x = (
        interactions.where(F.col("weight") > 0)
        .groupBy(F.col(user_col).alias("u"), F.col(item_col).alias("i"))
        .agg(F.sum("weight").alias("w"))
    )
    if params.max_user_items:
        by_user = Window.partitionBy("u").orderBy(F.desc("w"), F.asc("i"))
        x = x.withColumn("_r", F.row_number().over(by_user)).where(F.col("_r") <= params.max_user_items)
    x = x.select("u", "i").cache()
    listeners = x.groupBy("i").agg(F.count("*").alias("n"))
    left = x.alias("a")
    right = x.select("u", F.col("i").alias("j"))
    pairs = (
        left.join(right, on="u")
        .where(F.col("i") < F.col("j"))
        .groupBy("i", "j")
        .agg(F.count("*").alias("co"))
        .where(F.col("co") >= params.min_common)
    )
    norms_i = listeners.select("i", F.sqrt(F.col("n").cast("double")).alias("ni"))
    norms_j = listeners.select(F.col("i").alias("j"), F.sqrt(F.col("n").cast("double")).alias("nj"))
    sims = (
        pairs.join(F.broadcast(norms_i), on="i")
        .join(F.broadcast(norms_j), on="j")
        .select("i", "j", (F.col("co").cast("double") / (F.col("ni") * F.col("nj"))).alias("s"))
    )
    both = sims.unionByName(sims.select(F.col("j").alias("i"), F.col("i").alias("j"), "s"))
    by_item = Window.partitionBy("i").orderBy(F.desc("s"), F.asc("j"))
    top = both.withColumn("_r", F.row_number().over(by_item)).where(F.col("_r") <= params.top_n)
    pdf = top.select("i", "j", "s").toPandas()
    counts = listeners.toPandas()
    x.unpersist()

    i = pdf["i"].to_numpy(dtype=np.int64)
    j = pdf["j"].to_numpy(dtype=np.int64)
    s = pdf["s"].to_numpy(dtype=np.float64)
    if len(i) and (i.max() >= n_items or j.max() >= n_items or min(i.min(), j.min()) < 0):
        raise ValueError(f"item indices outside 0..{n_items - 1} in the neighbour input")
    order = np.lexsort((j, -s, i))  # by item, then best first, ties by lower neighbour index
    i, j, s = i[order], j[order], s[order]
    indptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(np.bincount(i, minlength=n_items), out=indptr[1:])
    listeners_arr = np.zeros(n_items, dtype=np.float32)
    listeners_arr[counts["i"].to_numpy(dtype=np.int64)] = counts["n"].to_numpy(dtype=np.float32)
    return ItemNeighbours(indptr, j.astype(np.int32), s.astype(np.float32), listeners_arr)
