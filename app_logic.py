"""What the app's pages compute, without Streamlit: listeners, controls, requests, card text.

The pages read widgets and render; the decisions live here so they are unit-tested without a
browser: who the listener is (:class:`Listener`, built from a Spotify history, a data export,
a demo listener or a few chosen songs), how the Recommendations controls and the stored
likes/dislikes become one ``Recommender.recommend`` call (:func:`recommend_args`), and the
escaped HTML of a recommendation card (:func:`card_html`). Everything that reaches HTML goes
through :func:`html.escape`; embed URLs are built only from ids that look like Spotify ids.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from engine.core.matching import CatalogIndex, MatchResult, match_history
from engine.core.schemas import SPOTIFY_ID_PATTERN
from engine.state.events import KIND_WEIGHTS, LIKE
from engine.state.store import Feedback

SPOTIFY_ID = re.compile(SPOTIFY_ID_PATTERN)
EMBED_URL = "https://open.spotify.com/embed/track/{}"
TRACK_URL = "https://open.spotify.com/track/{}"

KIND_SPOTIFY = "spotify"
KIND_EXPORT = "export"
KIND_DEMO = "demo"
KIND_SEEDS = "seeds"
#: A liked track joins the history with the weight of a like event.
LIKED_WEIGHT = KIND_WEIGHTS[LIKE]
#: Chosen seed songs count like a few plays each when the bundle has factors for them.
SEED_WEIGHT = 3.0
EXPLICIT_CHOICES = {"Any": None, "Clean only": False, "Explicit only": True}


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
        names = tuple(f"{getattr(i, 'artist', '')} – {getattr(i, 'title', '')}" for i in result.unmatched[:examples])
        return cls(total=result.total, matched=sum(by_path.values()), by_path=by_path, unmatched=names)

    @property
    def sentence(self) -> str:
        """``"412 of 480 tracks found in the catalogue"``."""
        return f"{self.matched:,} of {self.total:,} tracks found in the catalogue"


@dataclass(frozen=True)
class Listener:
    """The person the pages are about, for this browser session only.

    ``history`` maps catalogue track ids to raw weights; ``seed_tracks``/``seed_artists`` are
    choices made on the Home page (used when the history gives the model nothing).
    ``images`` maps track ids to album-art URLs Spotify returned with the history.
    """

    kind: str
    label: str
    history: Mapping[str, float] = field(default_factory=dict)
    seed_tracks: tuple[str, ...] = ()
    seed_artists: tuple[str, ...] = ()
    match: MatchSummary | None = None
    images: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

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


def listener_from_history(history: Any, index: CatalogIndex, *, kind: str, label: str) -> Listener:
    """Match a ``spotify.history.History`` to the catalogue and make it a :class:`Listener`.

    Non-positive matched totals are dropped (the recommender accepts positive weights only).
    """
    result = match_history(history.items, index)
    images = {
        item.track_id: item.image_url
        for item in history.items
        if getattr(item, "image_url", None) and item.track_id and item.track_id in index
    }
    notes = tuple(getattr(history, "warnings", ()))
    return Listener(kind=kind, label=label, history=result.positive_weights(),
                    match=MatchSummary.from_result(result), images=images, notes=notes)


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


def recommend_args(
    listener: Listener, controls: RecControls, feedback: Feedback
) -> tuple[dict[str, float], dict[str, Any]]:
    """The ``(history, keyword arguments)`` of ``Recommender.recommend`` for this request.

    Likes join the history (``LIKED_WEIGHT`` each, and as seeds for the cold-start path);
    disliked tracks leave it and, with disliked artists, are excluded from the results, so a
    dislike never comes back. Seed songs also count as history (``SEED_WEIGHT``): when the
    model has factors for them the listener gets the collaborative path at once.
    """
    history = {t: float(w) for t, w in listener.history.items() if w > 0}
    for track in listener.seed_tracks:
        history[track] = history.get(track, 0.0) + SEED_WEIGHT
    for track in feedback.liked_tracks:
        history[track] = history.get(track, 0.0) + LIKED_WEIGHT
    for track in feedback.disliked_tracks:
        history.pop(track, None)
    kwargs: dict[str, Any] = {
        "k": int(controls.k),
        "novelty": float(controls.novelty),
        "max_per_artist": int(controls.max_per_artist) or None,
        "year_range": controls.year_range,
        "energy_range": controls.energy_range,
        "explicit": EXPLICIT_CHOICES.get(controls.explicit),
        "clusters": list(controls.clusters) or None,
        "exclude_ids": sorted(feedback.disliked_tracks),
        "exclude_artists": sorted(feedback.disliked_artists),
        "seed_tracks": [*listener.seed_tracks, *sorted(feedback.liked_tracks - set(listener.seed_tracks))],
        "seed_artists": list(listener.seed_artists),
    }
    return history, kwargs


def full_range_is_none(value: tuple[float, float], bounds: tuple[float, float]) -> tuple[float, float] | None:
    """A range slider at its full extent means "no filter" (so tracks with unknown values stay)."""
    lo, hi = value
    return None if lo <= bounds[0] and hi >= bounds[1] else (lo, hi)


# -- cards --------------------------------------------------------------------------------


def embed_url(track_id: object) -> str | None:
    """Spotify's embed-player URL, only for ids of the Spotify shape (22 base-62 characters)."""
    return EMBED_URL.format(track_id) if isinstance(track_id, str) and SPOTIFY_ID.match(track_id) else None


def track_url(track_id: object) -> str | None:
    """The open.spotify.com URL of a track, only for Spotify-shaped ids."""
    return TRACK_URL.format(track_id) if isinstance(track_id, str) and SPOTIFY_ID.match(track_id) else None


def join_names(names: Sequence[str], *, limit: int = 3) -> str:
    """``"A"``, ``"A and B"``, ``"A, B and C"`` (at most ``limit`` names)."""
    names = [n for n in names if n][:limit]
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def reason_lines(row: Mapping[str, Any], *, verb: str, cluster_label: str | None) -> list[str]:
    """Plain-text reasons of one recommendation (``Recommender.frame`` row)."""
    lines = []
    because = [str(b) for b in (row.get("because") or [])]
    if because:
        lines.append(f"Because you {verb} {join_names(because)}")
    for reason in row.get("reasons") or []:
        kind, _, detail = str(reason).partition(": ")
        if kind == "artist":
            lines.append(f"By {detail}, an artist you picked")
        elif kind == "genre":
            lines.append(f"Genre you like: {detail}")
        elif kind == "audio":
            lines.append("Sounds like your picks")
        elif kind == "popularity":
            lines.append("Popular with listeners")
        elif detail:
            lines.append(detail)
    if cluster_label:
        lines.append(f"Sound: {cluster_label}")
    return list(dict.fromkeys(lines))


def card_html(*, title: str, artists: Sequence[str], year: Any, lines: Iterable[str], url: str | None) -> str:
    """The text block of a card; every value is escaped."""
    esc = html.escape
    year_text = f" · {int(year)}" if isinstance(year, (int, float)) and year == year and year > 0 else ""
    name = esc(str(title))
    if url:
        name = f'<a href="{esc(url)}" target="_blank" rel="noopener">{name}</a>'
    reasons = "".join(f'<li>{esc(str(line))}</li>' for line in lines)
    return (
        f'<div class="rec-card"><div class="rec-title">{name}</div>'
        f'<div class="rec-meta">{esc(", ".join(map(str, artists)))}{esc(year_text)}</div>'
        f'<ul class="rec-reasons">{reasons}</ul></div>'
    )


def placeholder_html(title: str, cluster: Any) -> str:
    """A square cover placeholder: the title's initials on a colour chosen by the cluster."""
    words = [w for w in re.split(r"\W+", str(title)) if w]
    initials = "".join(w[0] for w in words[:2]).upper() or "♪"
    known = isinstance(cluster, (int, float)) and cluster == cluster and cluster >= 0  # NaN != NaN
    hue = (int(cluster) * 47 + 200) % 360 if known else 220
    return (
        f'<div class="rec-cover" style="background:hsl({hue},45%,42%)">'
        f"{html.escape(initials)}</div>"
    )


CARD_CSS = """<style>
.rec-card .rec-title{font-weight:600;font-size:1.05rem;line-height:1.3}
.rec-card .rec-title a{color:inherit;text-decoration:none}
.rec-card .rec-meta{opacity:.75;margin:.1rem 0 .3rem 0}
.rec-card .rec-reasons{margin:0;padding-left:1.1rem;font-size:.9rem;opacity:.9}
.rec-cover{width:100%;aspect-ratio:1/1;border-radius:8px;display:flex;align-items:center;
justify-content:center;color:#fff;font-weight:700;font-size:1.6rem;letter-spacing:.05em}
</style>"""


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")


def md_escape(text: object) -> str:
    """``text`` with Markdown syntax escaped, for labels, captions and toasts (which Streamlit
    renders as Markdown: a track called ``![x](http://…)`` must not load an image)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def sign_in_html(url: str) -> str:
    """The "Sign in with Spotify" link, opening in the same tab so the redirect back lands in it.

    (``st.link_button`` opens a new tab, which would leave this one signed out.)
    """
    return (
        '<style>.signin{display:inline-block;background:#1db954;color:#fff!important;font-weight:600;'
        'padding:.55rem 1.2rem;border-radius:999px;text-decoration:none!important}'
        '.signin:hover{background:#1ed760}</style>'
        f'<a class="signin" href="{html.escape(url)}">Sign in with Spotify</a>'
    )


def spotify_refusal(status: int | None) -> str:
    """A sentence for a Spotify error answer that ``spotify.client`` passes through (4xx)."""
    if status == 403:
        return ("Spotify refused access (HTTP 403). If this app is in Spotify's development mode, your account "
                "must be on its user list; otherwise sign out and sign in again to grant the permissions.")
    if status == 404:
        return "Spotify could not find that item (HTTP 404); reload the page and try again."
    return f"Spotify answered with an error (HTTP {status}); please try again in a moment."
