"""webapp.catalog: catalogue lookups over a real bundle."""

from __future__ import annotations

from engine.core.matching import CatalogIndex


def test_catalog_lookups_over_a_bundle(tmp_path) -> None:
    from engine.bundle.load import load_bundle
    from engine.bundle.publish import write_bundle
    from engine.serving.recommender import Recommender
    from tests.factories import random_bundle_parts
    from webapp import catalog

    parts = random_bundle_parts(n_items=60, seed=3)
    write_bundle(tmp_path / "b", **parts)
    rec = Recommender(load_bundle(tmp_path / "b"))
    index = CatalogIndex.from_items(rec.bundle.items)
    hits = catalog.search(rec, index, "artist 3 song 10", limit=3)
    assert hits[0] == ("0" * 20 + "10", "Artist 3 – Song 10 (1970)")
    ids = [t for t, _ in hits]
    assert catalog.labels_of(rec, ["nope"]) == {"nope": "nope"}
    assert catalog.first_artists(rec, [ids[0], ids[0], "nope"]) == ["a3"]
    neighbours = catalog.neighbours_frame(rec, rec.similar(ids[0], 5))
    assert len(neighbours) == 5 and ids[0] not in set(neighbours["track_id"])
    assert all(r[0].kind == "similar" for r in neighbours["reasons"])
    assert all(r[-1].kind == "method" and r[-1].detail.startswith("Found by ") for r in neighbours["reasons"])


def test_a_card_describes_the_track_not_its_cluster(tmp_path) -> None:
    """A 1966 song in a cluster of recent hits is called older, from its own features."""
    import numpy as np

    from engine.bundle.load import load_bundle
    from engine.bundle.publish import write_bundle
    from engine.core.schemas import CLUSTER_FEATURES
    from engine.serving.recommender import Recommender
    from engine.serving.taste import describe_clusters
    from tests.factories import random_bundle_parts
    from webapp import catalog

    parts = random_bundle_parts(n_items=30, n_groups=3, seed=4)
    year, pop = CLUSTER_FEATURES.index("release_year"), CLUSTER_FEATURES.index("popularity")
    centroid = np.zeros(len(CLUSTER_FEATURES))
    centroid[year], centroid[pop] = 1.6, 1.4  # cluster 0: recent and popular
    parts["kmeans"]["centroids"][0] = centroid.tolist()
    audio = np.tile(centroid, (30, 1)).astype(np.float32)
    audio[0, year], audio[0, pop] = -2.0, -1.0  # track 0 (cluster 0): old and lesser-known
    audio[3, CLUSTER_FEATURES.index("acousticness")] = 3.0  # track 3: recent, popular, but mostly acoustic
    parts["audio_features"] = audio
    parts["items"]["has_audio"] = np.arange(30) != 6
    write_bundle(tmp_path / "b", **parts)
    rec = Recommender(load_bundle(tmp_path / "b"))
    ids = rec.bundle.items["track_id"]
    assert describe_clusters(rec.bundle.kmeans)[0] == "recent, popular"
    assert catalog.track_sound(rec, ids[0]) == "older, lesser-known"
    assert catalog.track_sound(rec, ids[3]) == "high acousticness, recent, popular"
    assert catalog.track_sound(rec, ids[6]) is None  # no audio: say nothing rather than the cluster's words
    assert catalog.track_sound(rec, "not-a-track") is None
