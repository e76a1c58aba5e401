"""Who is listening, and how the Recommendations controls become one request (no Streamlit).

A :class:`Listener` is built from a Spotify history, a data export, a demo listener or a few
chosen songs; :func:`recommend_request` turns it, the page's :class:`RecControls` and the
stored likes/dislikes into the history and the ``engine.serving.options.Options`` of one
``Recommender.recommend`` call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from engine.core.matching import CatalogIndex, MatchResult
from engine.serving.exclusions import Timeline
from engine.serving.listening import Listening, artist_weights_of, listening_from_history
from engine.serving.lists import BLENDED, FAMILIAR, LIST_TITLES, NEW
from engine.serving.options import DEFAULT_DISCOVERY, Options
from engine.serving.results import ListStats
from engine.state.events import KIND_WEIGHTS, LIKE
from engine.state.store import Feedback

if TYPE_CHECKING:
    from spotify.history import History

KIND_SPOTIFY = "spotify"
KIND_EXPORT = "export"
KIND_DEMO = "demo"
KIND_SEEDS = "seeds"
#: A liked track joins the history with the weight of a like event.
LIKED_WEIGHT = KIND_WEIGHTS[LIKE]
#: Chosen seed songs count like a few plays each when the bundle has factors for them.
SEED_WEIGHT = 3.0
EXPLICIT_CHOICES = {"Any": None, "Clean only": False, "Explicit only": True}
#: The lists the Recommendations page offers, in its order (engine.serving.lists names).
LIST_VIEWS = (BLENDED, FAMILIAR, NEW)
#: How each match path is named in the match summary.
MATCH_PATH_NAMES = {"track_id": "by id", "name": "by artist + title", "artist": "by artist only"}


# -- listeners ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchSummary:
    """How much of a history the catalogue knows (``engine.core.matching.MatchResult`` condensed)."""

    total: int
    matched: int
    by_path: Mapping[str, int]
    unmatched: tuple[str, ...] = ()

    @classmethod
    def from_result(cls, result: MatchResult, *, examples: int = 20) -> "MatchSummary":
        """Summarize ``result``, keeping up to ``examples`` unmatched "artist – title" strings."""
        by_path = {k: v for k, v in result.counts.items() if k != "unmatched"}
        names = tuple(f"{i.artist} – {i.title}" for i in result.unmatched[:examples])
        return cls(total=result.total, matched=sum(by_path.values()), by_path=by_path, unmatched=names)

    @property
    def sentence(self) -> str:
        """``"412 of 480 tracks found in the catalogue"``."""
        return f"{self.matched:,} of {self.total:,} tracks found in the catalogue"

    @property
    def breakdown(self) -> str:
        """``"30 by id, 2 by artist + title, 380 by artist only"`` (every path, zeros included)."""
        return ", ".join(f"{self.by_path.get(path, 0):,} {name}" for path, name in MATCH_PATH_NAMES.items())


@dataclass(frozen=True)
class Listener:
    """The person the pages are about, for this browser session only.

    ``history`` maps catalogue track ids to raw weights; ``seed_tracks``/``seed_artists`` are
    choices made on the Home page (used when the history gives the model nothing).
    ``images`` maps track ids to album-art URLs Spotify returned with the history.
    ``timeline`` is the timed part of ``history`` (data exports, recently played), which lets
    the listener leave out a time range; None when the source has no times.
    """

    kind: str
    label: str
    history: Mapping[str, float] = field(default_factory=dict)
    seed_tracks: tuple[str, ...] = ()
    seed_artists: tuple[str, ...] = ()
    match: MatchSummary | None = None
    images: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    timeline: Timeline | None = field(default=None, compare=False, repr=False)

    @property
    def synthetic(self) -> bool:
        """True for the generated demo listeners."""
        return self.kind == KIND_DEMO

    @property
    def verb(self) -> str:
        """How the listener's own tracks are described in reasons ("played" / "chose")."""
        return "chose" if self.kind == KIND_SEEDS else "played"

    def known_tracks(self) -> list[str]:
        """History and seed track ids (for highlighting on the map)."""
        return list(dict.fromkeys([*self.history, *self.seed_tracks]))


def listener_from_history(history: History, index: CatalogIndex, *, kind: str, label: str) -> Listener:
    """Match a ``spotify.history.History`` to the catalogue and make it a :class:`Listener`.

    The matching and weighting are :func:`engine.serving.listening.listening_from_history`,
    the step the real-listener evaluation measures; non-positive totals are dropped.
    """
    listening, result = listening_from_history(history.items, index)
    images = {
        item.track_id: item.image_url
        for item in history.items
        if item.image_url and item.track_id and item.track_id in index
    }
    return Listener(kind=kind, label=label, history=listening,
                    match=MatchSummary.from_result(result), images=images, notes=tuple(history.warnings),
                    timeline=Timeline.from_items(history.items, index) or None)


def listener_from_seeds(track_ids: Sequence[str], artists: Sequence[str] = ()) -> Listener:
    """A listener made of songs (and artists) chosen on the Home page."""
    n = len(set(track_ids))
    return Listener(kind=KIND_SEEDS, label=f"Your picks ({n} song{'s' if n != 1 else ''})",
                    seed_tracks=tuple(dict.fromkeys(track_ids)), seed_artists=tuple(dict.fromkeys(artists)))


def demo_label(row: Mapping[str, Any]) -> str:
    """Plain-text label of a demo listener row: ``"rock & 1970s soul · 35 tracks"``."""
    name = row.get("display_name") or row.get("name") or row["user_id"]
    n = row.get("n_tracks")
    return f"{name} · {int(n)} tracks" if isinstance(n, (int, float)) and n == n else str(name)


def listener_from_demo(history: pd.DataFrame, user_id: str, *, name: str) -> Listener:
    """The synthetic demo listener ``user_id`` from ``user_id, track_id, weight`` rows
    (weights summed per track, non-positive totals dropped)."""
    rows = history[history["user_id"] == user_id]
    weights = rows.groupby("track_id")["weight"].sum()
    weights = weights[weights > 0]
    return Listener(kind=KIND_DEMO, label=f"Demo listener {user_id.split(':')[-1]} ({name})",
                    history={str(t): float(w) for t, w in weights.items()})


# -- recommendation requests ------------------------------------------------------------


@dataclass(frozen=True)
class RecControls:
    """The Recommendations page's controls (stored in the session between pages)."""

    k: int = 20
    novelty: float = 0.0
    max_per_artist: int = 2
    year_range: tuple[int, int] | None = None
    energy_range: tuple[float, float] | None = None
    explicit: str = "Any"
    clusters: tuple[int, ...] = ()
    discovery: float = DEFAULT_DISCOVERY
    view: str = BLENDED


def recommend_request(
    listener: Listener, controls: RecControls, feedback: Feedback
) -> tuple[Listening, Options]:
    """The ``(history, options)`` of ``Recommender.recommend`` for this request.

    Likes join the history (``LIKED_WEIGHT`` each, and as seeds for the cold-start path);
    disliked tracks leave it and, with disliked artists, are excluded from the results, so a
    dislike never comes back. Seed songs also count as history (``SEED_WEIGHT``): when the
    model has factors for them the listener gets the collaborative path at once. Artist-only
    matches travel with the history (:class:`~engine.serving.listening.Listening`).
    """
    history = {t: float(w) for t, w in listener.history.items() if w > 0}
    for track in listener.seed_tracks:
        history[track] = history.get(track, 0.0) + SEED_WEIGHT
    for track in feedback.liked_tracks:
        history[track] = history.get(track, 0.0) + LIKED_WEIGHT
    for track in feedback.disliked_tracks:
        history.pop(track, None)
    options = Options(
        k=int(controls.k),
        novelty=float(controls.novelty),
        max_per_artist=int(controls.max_per_artist) or None,
        year_range=controls.year_range,
        energy_range=controls.energy_range,
        explicit=EXPLICIT_CHOICES.get(controls.explicit),
        clusters=tuple(controls.clusters) or None,
        exclude_ids=tuple(sorted(feedback.disliked_tracks)),
        exclude_artists=tuple(sorted(feedback.disliked_artists)),
        seed_tracks=(*listener.seed_tracks, *sorted(feedback.liked_tracks - set(listener.seed_tracks))),
        seed_artists=listener.seed_artists,
        discovery=float(controls.discovery),
    )
    return Listening(tracks=history, artists=artist_weights_of(listener.history)), options


#: A range slider's value type: int ("Era") or float ("Energy").
Bound = TypeVar("Bound", int, float)


def full_range_is_none(value: tuple[Bound, Bound], bounds: tuple[Bound, Bound]) -> tuple[Bound, Bound] | None:
    """A range slider at its full extent means "no filter" (so tracks with unknown values stay)."""
    lo, hi = value
    return None if lo <= bounds[0] and hi >= bounds[1] else (lo, hi)


def list_title(view: str) -> str:
    """The page's name of a list (:data:`LIST_VIEWS`)."""
    return LIST_TITLES.get(view, view)


def list_caption(stats: ListStats | None) -> str:
    """``"40% new artists · popularity percentile 81"`` (what a list says about itself)."""
    if stats is None or stats.share_new != stats.share_new:  # NaN: an empty list
        return "No tracks in this list."
    return (f"{stats.share_new:.0%} new artists · popularity percentile {stats.popularity_percentile:.0f} "
            f"(its typical track is more popular than {stats.popularity_percentile:.0f}% of the catalogue)")
