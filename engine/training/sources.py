"""Which training rows are generated listening, and what a model trained mostly on them leaves out.

The project generates listening for three purposes: the demo listeners ``make run`` trains its
first model on (:mod:`engine.ingest.demo_listeners`), full-size data for performance work
(:mod:`engine.ingest.synthetic`) and synthetic playlists for the evaluation
(:mod:`engine.ingest.playlists_synthetic`). Their rows carry those modules' ``source`` labels,
:data:`SYNTHETIC_SOURCES`. :func:`engine.training.run.train` counts the rows per source; when
more than :data:`SYNTHETIC_MAJORITY` of them are generated, the bundle ships no artist factors
(:func:`without_synthetic_artist_factors`). No pyspark here: the committed demo bundle's test
reads the reason without a JVM.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.core.schemas import ARTIST_FACTORS

#: The ``source`` of generated rows (``tests/engine/test_prepare.py`` holds it to the generators' labels).
SYNTHETIC_SOURCES = frozenset({"demo", "synthetic", "playlists-synthetic"})
#: A model trained on more than this share of generated rows ships no artist factors.
SYNTHETIC_MAJORITY = 0.5
#: Why such a model has no artist factors (its ``params["artists"]["factors"]``).
SYNTHETIC_ARTIST_FACTORS = (
    "left out: ALS over the synthetic demo listeners' artists made real listeners' lists worse "
    "(HetRec new-artist hit@50 0.024 -> 0.016 on the demo bundle); their similar-artist lists are kept"
)


def synthetic_share(sources: Mapping[str, int]) -> float:
    """The share of training rows (``{source: rows}``, as ``TrainReport.sources`` counts them)
    that are generated listening (:data:`SYNTHETIC_SOURCES`); 0 without rows."""
    total = sum(sources.values())
    return sum(n for name, n in sources.items() if name in SYNTHETIC_SOURCES) / total if total else 0.0


def without_synthetic_artist_factors(parts: dict[str, Any]) -> dict[str, Any]:
    """Bundle ``parts`` trained mostly on synthetic listeners, without their artist factors.

    ``train`` applies it when more than :data:`SYNTHETIC_MAJORITY` of the rows are generated:
    ``make run``'s first model and the committed ``models/demo`` (the demo listeners alone), and
    the refresh rounds after them (the demo listeners plus the app's few events). Real
    listeners reach such a model mostly by artist (a Spotify history matched to the catalogue).
    Folded into artist factors learnt from synthetic listeners, those histories got lists that
    named fewer of the artists they went on to play (``python -m engine evaluate --listeners
    hetrec,hetrec-plays,demo``, on the demo bundle with and without the factors: new-artist
    hit@50 0.016 against 0.024 on HetRec; new-artist recall@50 0.157 against 0.260 on
    hetrec-plays). The similar-artist lists, from the same listening, helped slightly and stay,
    as do the artist ids and listener counts. The manifest's ``params["artists"]`` says why.
    Only the all-synthetic case was measured; the majority rule extends it to mixes.
    """
    params = dict(parts["params"])
    params["artists"] = {**params.get("artists", {}), "factors": SYNTHETIC_ARTIST_FACTORS}
    extra = {name: array for name, array in parts.get("extra", {}).items() if name != ARTIST_FACTORS}
    return {**parts, "extra": extra, "params": params}
