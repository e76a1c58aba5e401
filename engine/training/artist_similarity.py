"""Similar artists on Spark: a weighted blend of co-listening, shared genres and collaborations.

For artists ``a ≠ b`` (integer indices into the sorted artist ids of :mod:`engine.training.artists`)

    s(a, b) = w_c · colistening(a, b) + w_g · genres(a, b) + w_k · collaborations(a, b)

with the weights normalised to sum to 1 and every part in [0, 1], so ``s`` is in [0, 1]:

- **co-listening** — item-kNN cosine with shrinkage over binary listener × artist,
  ``common(a, b) / (√n_a · √n_b + h)`` (``n`` = listeners; a listener's artists capped at
  ``max_user_artists``, their highest weights). The pairs are the listener self-join of
  :func:`engine.training.neighbours.cooccurrence_pairs`, the one co-occurrence code of the tracks'
  lists. Chosen over the cosine of the artist ALS factors because it is exact *and* sparse: only
  pairs with a shared listener exist, where exact factor cosines are all n_artists² pairs (a
  dense product), and the sparse pairs can be blended with the other two parts pair by pair.
  The shrink term keeps two artists seen together by one listener from scoring like two
  artists with the same thousand listeners.
- **genres** — Jaccard ``|G_a ∩ G_b| / |G_a ∪ G_b|`` over each artist's genres (an inverted
  index: the pairs are a self-join on the genre). A genre held by more than
  ``genre_max_artists`` artists is left out of the genre sets: it says little about which 50
  artists are closest and alone would make a dense block of pairs.
- **collaborations** — artists credited on the same tracks, cosine over artist × track:
  ``t_ab / √(t_a · t_b)`` (``t_a`` = catalogue tracks crediting ``a``). Tracks crediting more
  than ``collab_max_artists`` artists (compilations, "Various Artists") make no pairs.

A part with weight 0 is not computed. The parts' pairs are unioned and summed per pair inside
Spark, the top ``top_n`` per artist kept by a window (ties: lower index first) and collected as
CSR arrays (:func:`engine.training.neighbours.collect_top_rows`). Nothing is ever
``n_artists²``: the three pair sets are sparse and capped. ``tests/engine/test_artists.py``
checks every part and the blend against a brute-force numpy computation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import reduce
from typing import TYPE_CHECKING, Any

import numpy as np
from pyspark.sql import functions as F

from engine.core.config import Settings
from engine.serving.neighbours import NeighbourParams
from engine.training.neighbours import binary_capped, collect_top_rows, cooccurrence_pairs

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: The blend's parts, in the order their weighted terms are added.
COLISTENING, GENRES, COLLABORATIONS = "colistening", "genres", "collaborations"
PARTS = (COLISTENING, GENRES, COLLABORATIONS)


@dataclass(frozen=True)
class ArtistSimilarityParams:
    """How the similar-artist lists are built (recorded in the manifest's ``params["artists"]``).

    The list length and the weights default to :class:`~engine.core.config.Settings`'
    (``ARTIST_SIMILAR_N``, ``ARTIST_WEIGHT_*``); the caps and the shrink are fixed here.
    """

    top_n: int = Settings.artist_similar_n
    w_colistening: float = Settings.artist_weight_colistening
    w_genres: float = Settings.artist_weight_genres
    w_collaborations: float = Settings.artist_weight_collaborations
    #: h of the co-listening cosine common / (√n_a · √n_b + h)
    shrink: float = 10.0
    #: a listener's artists used for co-listening pairs (their highest weights; 0: all)
    max_user_artists: int = 500
    #: shared listeners a co-listening pair needs
    min_common: int = 1
    #: genres held by more artists are left out of the genre sets (0: no cap)
    genre_max_artists: int = 1000
    #: tracks crediting more artists make no collaboration pairs
    collab_max_artists: int = 20

    def __post_init__(self) -> None:
        if self.top_n < 1:
            raise ValueError(f"artist similarity top_n must be at least 1, got {self.top_n}")
        raw = self.raw_weights()
        if min(raw.values()) < 0 or not sum(raw.values()) > 0:
            raise ValueError(f"artist similarity weights must be >= 0 with a positive sum, got {raw}")
        if self.shrink < 0 or self.max_user_artists < 0 or self.min_common < 1 or self.genre_max_artists < 0:
            raise ValueError(f"artist similarity caps must be >= 0 (min_common >= 1), got {self}")
        if self.collab_max_artists < 2:
            raise ValueError(f"artist similarity collab_max_artists must be at least 2, got {self.collab_max_artists}")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> "ArtistSimilarityParams":
        """Params from Settings (``ARTIST_*``), with keyword overrides."""
        base = {
            "top_n": settings.artist_similar_n,
            "w_colistening": settings.artist_weight_colistening,
            "w_genres": settings.artist_weight_genres,
            "w_collaborations": settings.artist_weight_collaborations,
        }
        return cls(**{**base, **overrides})

    def raw_weights(self) -> dict[str, float]:
        """The weights as given, by part."""
        return {COLISTENING: self.w_colistening, GENRES: self.w_genres, COLLABORATIONS: self.w_collaborations}

    def weights(self) -> dict[str, float]:
        """The weights normalised to sum to 1, by part (what the blend multiplies)."""
        raw = self.raw_weights()
        total = sum(raw.values())
        return {name: w / total for name, w in raw.items()}

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for the manifest)."""
        return asdict(self)


# -- the parts ---------------------------------------------------------------------------------
# Each returns every directed pair (i, j, s) with s > 0 in both directions, i != j.


def colistening_pairs(listening: "DataFrame", params: ArtistSimilarityParams) -> tuple["DataFrame", "DataFrame"]:
    """Co-listening cosine with shrinkage; ``listening`` has ``user_idx, item_idx`` (artist) and
    ``weight``. Also returns the cached binary listener × artist rows (unpersist after use)."""
    cosine = NeighbourParams(
        top_n=params.top_n, max_user_items=params.max_user_artists, min_common=params.min_common,
        shrink=params.shrink,
    )
    x = binary_capped(listening, max_user_items=cosine.max_user_items).cache()
    pairs, _ = cooccurrence_pairs(x, cosine)
    return pairs, x


def genre_pairs(genres: "DataFrame", *, max_artists: int) -> "DataFrame":
    """Jaccard over genre sets; ``genres`` has one row ``(a, genre)`` per artist and genre.

    Genres held by more than ``max_artists`` artists are dropped from every set first (0: none).
    """
    g = genres.where(F.col("genre").isNotNull() & (F.col("genre") != "")).select("a", "genre").distinct()
    if max_artists:
        holders = g.groupBy("genre").agg(F.count("*").alias("n_genre"))
        g = g.join(holders.where(F.col("n_genre") <= max_artists).select("genre"), on="genre")
    sizes = g.groupBy("a").agg(F.count("*").cast("double").alias("size"))
    shared = (
        g.join(g.select(F.col("a").alias("b"), "genre"), on="genre")
        .where(F.col("a") < F.col("b"))
        .groupBy("a", "b")
        .agg(F.count("*").cast("double").alias("shared"))
    )
    size_b = sizes.select(F.col("a").alias("b"), F.col("size").alias("size_b"))
    sized = shared.join(sizes, on="a").join(size_b, on="b")
    jaccard = F.col("shared") / (F.col("size") + F.col("size_b") - F.col("shared"))
    return _both_directions(sized.select("a", "b", jaccard.alias("s")))


def collaboration_pairs(credits: "DataFrame", *, max_artists: int) -> "DataFrame":
    """Cosine over artist × track; ``credits`` has one row ``(track_id, a)`` per credited artist.

    ``t_a`` counts every track crediting ``a``; only tracks with 2..``max_artists`` artists make pairs.
    """
    c = credits.select("track_id", "a").distinct()
    tracks_of = c.groupBy("a").agg(F.count("*").cast("double").alias("t_a"))
    per_track = c.groupBy("track_id").agg(F.count("*").alias("k"))
    small = c.join(per_track.where((F.col("k") >= 2) & (F.col("k") <= max_artists)).select("track_id"), on="track_id")
    shared = (
        small.join(small.select("track_id", F.col("a").alias("b")), on="track_id")
        .where(F.col("a") < F.col("b"))
        .groupBy("a", "b")
        .agg(F.count("*").cast("double").alias("t_ab"))
    )
    t_b = tracks_of.select(F.col("a").alias("b"), F.col("t_a").alias("t_b"))
    sized = shared.join(tracks_of, on="a").join(t_b, on="b")
    return _both_directions(sized.select("a", "b", (F.col("t_ab") / F.sqrt(F.col("t_a") * F.col("t_b"))).alias("s")))


def _both_directions(pairs: "DataFrame") -> "DataFrame":
    """Symmetric scores of pairs ``a < b`` as directed rows ``(i, j, s)`` both ways."""
    forward = pairs.select(F.col("a").alias("i"), F.col("b").alias("j"), "s")
    return forward.unionByName(forward.select(F.col("j").alias("i"), F.col("i").alias("j"), "s"))


# -- the blend ---------------------------------------------------------------------------------


def blend_pairs(parts: Mapping[str, "DataFrame"], weights: Mapping[str, float]) -> "DataFrame":
    """``(i, j, s)`` with ``s = Σ_part weights[part] · s_part(i, j)`` (a missing pair scores 0 in
    that part), the terms added in :data:`PARTS` order, capped at 1 against rounding.

    Each part's rows carry their score in the part's own column (null elsewhere: compact rows,
    no part label), so one aggregation per pair finds every part's score, and the fixed order
    of the sum makes the result the same on any partitioning.
    """
    names = [name for name in PARTS if name in parts]
    if not names:
        raise ValueError("no similarity part to blend")
    null = F.lit(None).cast("double")
    rows = reduce(
        lambda x, y: x.unionByName(y),
        [parts[name].select("i", "j", *[(F.col("s") if other == name else null).alias(other) for other in names])
         for name in names],
    )
    by_pair = rows.groupBy("i", "j").agg(*[F.max(name).alias(name) for name in names])
    terms: list["Column"] = [F.lit(float(weights[name])) * F.coalesce(F.col(name), F.lit(0.0)) for name in names]
    score = reduce(lambda x, y: x + y, terms)
    return by_pair.select("i", "j", F.least(score, F.lit(1.0)).alias("s")).where(F.col("s") > 0)


def similar_artists(
    *,
    n_artists: int,
    listening: "DataFrame | None",
    genres: "DataFrame | None",
    credits: "DataFrame | None",
    params: ArtistSimilarityParams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top ``params.top_n`` similar artists of every artist as CSR arrays (int64 indptr
    ``[n_artists + 1]``, int32 indices, float32 scores in [0, 1], best first, ties: lower index).

    ``listening`` (``user_idx, item_idx, weight``), ``genres`` (``a, genre``) and ``credits``
    (``track_id, a``) feed the three parts; a part whose input is None or whose weight is 0 is
    left out (its weight still counts in the normalisation, so scores mean the same whatever
    the data lacks).
    """
    weights = params.weights()
    parts: dict[str, "DataFrame"] = {}
    cached: list["DataFrame"] = []
    if listening is not None and weights[COLISTENING] > 0:
        parts[COLISTENING], x = colistening_pairs(listening, params)
        cached.append(x)
    if genres is not None and weights[GENRES] > 0:
        parts[GENRES] = genre_pairs(genres, max_artists=params.genre_max_artists)
    if credits is not None and weights[COLLABORATIONS] > 0:
        parts[COLLABORATIONS] = collaboration_pairs(credits, max_artists=params.collab_max_artists)
    if not parts:
        return np.zeros(n_artists + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    try:
        return collect_top_rows(blend_pairs(parts, weights), n_artists, top_n=params.top_n)
    finally:
        for df in cached:
            df.unpersist()
