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
