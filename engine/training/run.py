"""A training run on Spark: implicit-feedback ALS, item neighbours, KMeans, and the bundle they make.

Data flow of :func:`train`::

    interactions parquet (user_id, track_id, weight, source)             engine.training.inputs
      -> sum weights per (user, item) -> StringIndexer ids -> confidence transform (engine.core.weights)
      -> ALS(implicitPrefs=True) -> item factors                         engine.training.als
      -> top-N item–item cosine neighbours on the same interactions      engine.training.neighbours
    tracks parquet (canonical catalogue)
      -> VectorAssembler -> StandardScaler -> KMeans(k), PCA(2) for the cluster map   engine.training.kmeans
    track and artist-level interactions + the catalogue's artist_ids / genres
      -> artist ALS (listener × artist) and similar artists             engine.training.artists
    both -> items table (catalogue ∪ played tracks), popularity prior    engine.training.assemble
      -> bundle parts (+ params, blend weights, data stats, metrics, tables)
      -> engine.bundle.publish.publish_bundle (when ``publish_to`` is given)

Each stage prints a progress line with counts and elapsed time (:class:`engine.core.progress.Progress`)
and the timings go into :class:`TrainReport`. Integer ids are assigned once per run by
``StringIndexer`` (never hashed: collisions) and the id lists go into the bundle. Only item
factors are collected: listeners are folded in at serving time. With artist-level
interactions only (Last.fm, Audioscrobbler) no track ALS is trained: the items keep their audio
features without factors and the artist model is the bundle's collaborative model. The parameters come from
:mod:`engine.training.params`; ``python -m engine train`` (:mod:`engine.commands.train`),
``prepare`` and the refresh round call :func:`train`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyspark.sql import functions as F

from engine.bundle.publish import publish_bundle
from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.progress import Progress
from engine.serving.blend import BlendWeights
from engine.serving.neighbours import ItemNeighbours, NeighbourParams
from engine.training.als import AlsParams, fit_als, index_interactions, item_factors
from engine.training.artist_similarity import ArtistSimilarityParams
from engine.training.artists import fit_artist_model
from engine.training.assemble import assemble_items
from engine.training.kmeans import fit_kmeans
from engine.training.neighbours import component_neighbours, item_neighbours
from engine.training.sources import SYNTHETIC_MAJORITY, synthetic_share, without_synthetic_artist_factors

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass
class TrainReport:
    """What a training run did; printed by the CLI and stored in the manifest's ``data``."""

    n_users: int = 0
    n_items_with_factors: int = 0
    n_catalog_tracks: int = 0
    n_items: int = 0
    n_interactions: int = 0
    n_artist_interactions: int = 0
    n_artists: int = 0
    n_artists_with_factors: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    version: str | None = None


def train(
    spark: "SparkSession",
    settings: Settings,
    *,
    interactions: "DataFrame | None",
    tracks: "DataFrame",
    params: AlsParams,
    k: int | None = None,
    publish_to: Path | None = None,
    metrics: dict[str, Any] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    blend: "BlendWeights | None" = None,
    neighbour_params: "NeighbourParams | None" = None,
    components: Mapping[str, NeighbourParams] | None = None,
    selection: Mapping[str, Any] | None = None,
    artist_interactions: "DataFrame | None" = None,
    artist_params: ArtistSimilarityParams | None = None,
) -> tuple[TrainReport, dict[str, Any]]:
    """Train ALS + KMeans + the artist model and assemble the bundle parts; publish them when
    ``publish_to`` is set.

    ``tables`` (small pandas tables, e.g. the demo listeners) are shipped inside the bundle.
    Item neighbours (engine.serving.neighbours) are computed on the same interactions and shipped as
    ``extra`` arrays, and so are the lists of every further blend term (``components``: name ->
    NeighbourParams, e.g. RP3beta or EASE, :func:`engine.training.neighbours.component_neighbours`);
    ``blend`` (default: engine.serving.blend.BlendWeights()) is recorded as ``params["blend"]``,
    which serving applies, and ``selection`` (the validation table the served model was chosen
    from) as ``params["served_selection"]``.

    The artist model (:mod:`engine.training.artists`: ALS over listener × artist with ``params``,
    similar artists by ``artist_params``, default from Settings) learns from ``interactions``
    spread over their tracks' artists and from ``artist_interactions`` (``user_id, artist_id,
    weight``: HetRec, Audioscrobbler); its arrays go into ``extra`` (``artist_*``) and its
    summary into ``params["artists"]``, except the artist factors when most rows are synthetic
    listening (:mod:`engine.training.sources`). Without track interactions (``interactions`` None or
    empty) no track ALS is trained and the artist model is the model.

    Returns the report and the bundle parts (keyword arguments of ``engine.bundle.publish.write_bundle``).
    """

    blend = blend or BlendWeights()
    neighbour_params = neighbour_params or NeighbourParams()
    artist_params = artist_params or ArtistSimilarityParams.from_settings(settings)
    progress = Progress("train")
    report = TrainReport()
    cached: list["DataFrame"] = []
    counts = {}
    for name, frame in (("track", interactions), ("artist", artist_interactions)):
        if frame is not None:
            cached.append(frame.cache())
            counts[name] = frame.count()
            report.sources.update({r["source"]: int(r["count"]) for r in frame.groupBy("source").count().collect()})
    report.n_interactions, report.n_artist_interactions = counts.get("track", 0), counts.get("artist", 0)
    if report.n_interactions + report.n_artist_interactions == 0:
        raise InputError("no interactions to train on")
    if not report.n_interactions:
        interactions = None
    levels = ", ".join(f"{n:,} {name}-level" for name, n in counts.items() if n)
    progress("read", f"{levels} interactions from {', '.join(sorted(report.sources))}")

    components = dict(components or {})
    missing = [c.name for c in blend.components if c.weight and c.name not in components]
    if missing:
        raise InputError(f"the blend weighs {', '.join(missing)} but no lists are configured for them")
    if interactions is not None:
        indexed = index_interactions(interactions)
        indexed.df.cache()
        cached.append(indexed.df)
        report.n_users, n_als_items = len(indexed.user_ids), len(indexed.item_ids)
        progress("index", f"{report.n_users:,} listeners x {n_als_items:,} tracks")

        model = fit_als(indexed.df, params)
        als_item_ids, als_y = indexed.item_ids, item_factors(model, n_als_items)
        progress("als", f"rank {params.rank}, {params.max_iter} iterations, {params.weight_transform} weights")

        neighbours = item_neighbours(indexed.df, n_als_items, params=neighbour_params)
        progress("neighbours", f"{neighbour_params.label} for {n_als_items:,} tracks ({len(neighbours.indices):,} pairs)")
        extra_lists = {}
        for c in blend.components:
            if c.weight:
                extra_lists[c.name] = component_neighbours(indexed.df, n_als_items, params=components[c.name])
                progress(c.name, f"{components[c.name].label} ({len(extra_lists[c.name].indices):,} pairs)")
        listeners = (
            interactions.groupBy("track_id").agg(F.countDistinct("user_id").alias("listeners")).toPandas()
        )
    else:
        als_item_ids, als_y = [], np.zeros((0, params.rank), dtype=np.float32)
        neighbours = _no_lists()
        extra_lists = {c.name: _no_lists() for c in blend.components if c.weight}
        listeners = pd.DataFrame({"track_id": pd.Series([], dtype=object), "listeners": pd.Series([], dtype="int64")})
        progress("als", "no track-level interactions: no track ALS, the artist model is the model")

    artists = fit_artist_model(
        spark, tracks=tracks, interactions=interactions, artist_interactions=artist_interactions,
        als=params, similarity=artist_params,
    )
    report.n_artists = artists.n_artists
    report.n_artists_with_factors = int(artists.info["n_with_factors"])
    share = synthetic_share(report.sources)
    synthetic = share > SYNTHETIC_MAJORITY  # the factors are not shipped (engine.training.sources)
    progress(
        "artists",
        f"{artists.n_artists:,} artists ({report.n_artists_with_factors:,} with factors, "
        f"{artists.info['n_listeners']:,} listeners), {artists.info['n_similar_pairs']:,} similar pairs"
        + (f"; the factors are left out: {share:.0%} of the rows are synthetic listening" if synthetic else ""),
    )

    km = fit_kmeans(tracks, k=k or settings.kmeans_k, seed=settings.kmeans_seed)
    progress("kmeans", f"k={km.kmeans['k']} over {len(km.assignments):,} tracks")

    catalog = tracks.select(
        "track_id", "name", "artist_names", "artist_ids", "release_year", "popularity", "explicit", "energy", "genres"
    ).toPandas()
    report.n_catalog_tracks = len(catalog)
    parts = assemble_items(
        catalog=catalog, als_item_ids=als_item_ids, als_item_factors=als_y, kmeans=km, listeners=listeners
    )
    report.n_items = len(parts["items"])
    row_of = pd.Series(np.arange(report.n_items), index=parts["items"]["track_id"])
    rows = row_of.loc[als_item_ids].to_numpy()
    parts["extra"] = neighbours.remap(rows, report.n_items).to_extra()
    for name, found in extra_lists.items():
        parts["extra"].update(found.remap(rows, report.n_items).to_extra(name))
    parts["extra"].update(artists.to_extra())
    report.n_items_with_factors = int(parts["items"]["has_factors"].sum())
    progress("assemble", f"{report.n_items:,} items ({report.n_items_with_factors:,} with factors)")
    report.timings_s = dict(progress.timings)
    parts.update(
        params={
            **params.to_dict(), "kmeans_k": km.kmeans["k"], "item_kind": "track",
            "blend": blend.to_dict(), "neighbours": neighbour_params.to_dict(),
            "components": {n: components[n].to_dict() for n in extra_lists},
            # with_track_model false: artist-level data only, the artist model is the model
            "artists": {**artists.info, "with_track_model": interactions is not None},
            **({"served_selection": dict(selection)} if selection else {}),
        },
        data_stats={k: v for k, v in asdict(report).items() if k not in ("version", "timings_s")},
        metrics=metrics or {},
        tables=tables or {},
    )
    if synthetic:
        parts = without_synthetic_artist_factors(parts)
    if publish_to is not None:
        report.version = publish_bundle(publish_to, keep=settings.keep_versions, **parts)
        progress("publish", f"version {report.version} in {publish_to}")
    for frame in reversed(cached):
        frame.unpersist()
    return report, parts


def _no_lists() -> ItemNeighbours:
    """Neighbour lists over no items (no track interactions); remapped, every row is empty."""
    return ItemNeighbours(
        np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32),
        np.zeros(0, dtype=np.float32),
    )
