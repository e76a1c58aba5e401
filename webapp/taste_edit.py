"""The editable taste of the Recommendations page, without Streamlit.

The listener unticks tracks, artists or time ranges (:class:`engine.serving.exclusions.Exclusions`,
kept in the session); :func:`taste_request` is :func:`webapp.listeners.recommend_request` with
them applied, so every list re-folds from what is left. The rest turns the model's numbers into
what the editor and the "Why this?" popover show: the choices (artists, songs, dates), the newly
removed tracks (recorded as ``exclude`` events), and plain-text lines for the listens behind a card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from engine.serving.exclusions import Exclusions, TasteEdit, Timeline, apply_exclusions, history_artists
from engine.serving.listening import Listening
from engine.serving.listens import Listens
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from engine.state.store import Feedback
from webapp.listeners import Listener, RecControls, recommend_request


@dataclass(frozen=True)
class TasteRequest:
    """One recommendation request: ``base`` (the history with picks and likes, before
    exclusions: what the editor unticks from), the ``history`` and ``options`` left after the
    exclusions, and the ``edit`` that made them."""

    base: Listening
    history: Mapping[str, float]
    options: Options
    edit: TasteEdit


def build_request(
    rec: Recommender, listener: Listener, controls: RecControls, feedback: Feedback, exclusions: Exclusions
) -> TasteRequest:
    """``recommend_request`` with the listener's exclusions applied (removed tracks stay out of
    the results too)."""
    base, options = recommend_request(listener, controls, feedback)
    edit = apply_exclusions(rec, base, exclusions, timeline=listener.timeline)
    return TasteRequest(base, edit.history, edit.options(options), edit)


def taste_request(
    rec: Recommender, listener: Listener, controls: RecControls, feedback: Feedback, exclusions: Exclusions
) -> tuple[Mapping[str, float], Options, TasteEdit]:
    """:func:`build_request` as ``(history, options, edit)``."""
    request = build_request(rec, listener, controls, feedback, exclusions)
    return request.history, request.options, request.edit


def newly_removed(before: TasteEdit, after: TasteEdit) -> list[str]:
    """History tracks ``after`` removes that ``before`` did not (one ``exclude`` event each)."""
    done = set(before.removed)
    return [t for t in after.removed if t not in done]


def track_labels(rec: Recommender, track_ids: Sequence[str]) -> dict[str, str]:
    """``"Artist – Title"`` of each track the bundle knows (plain text, for widget options).

    One row selection for all tracks: ``webapp.catalog.labels_of`` reads a row at a time, which
    takes a noticeable fraction of a second for a 2,000-track history.
    """
    ids = list(track_ids)
    rows = rec.index_of(ids)
    known = rows >= 0
    picked = rec.bundle.items.iloc[rows[known]]
    out = {}
    for t, name, credited in zip((t for t, k in zip(ids, known.tolist()) if k), picked["name"].tolist(),
                                 picked["artists"].tolist()):
        out[t] = f"{', '.join(list(credited if credited is not None else [])[:2])} – {name}"
    return out


def artist_choices(rec: Recommender, history: Mapping[str, float]) -> dict[str, str]:
    """Artist id -> ``"Name · 12 songs"`` for every artist of ``history``, heaviest first."""
    return {a.artist_id: f"{a.name or a.artist_id} · {a.tracks} song{'s' if a.tracks != 1 else ''}"
            for a in history_artists(rec, history)}


def period_bounds(timeline: Timeline | None) -> tuple[date, date] | None:
    """The first and last day (UTC) with a timed listen, None without a timeline."""
    span = timeline.span() if timeline is not None else None
    if span is None:
        return None
    return _day(span[0]), _day(span[1])


def period_of(first: date, last: date) -> tuple[int, int]:
    """The epoch-second range ``[start of first, end of last)`` of two UTC days, inclusive."""
    if first > last:
        first, last = last, first
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return int(start.timestamp()), int(end.timestamp())


def period_label(period: tuple[int, int]) -> str:
    """``"2024-05-01 – 2024-05-03"`` (the last day included)."""
    first, last = _day(period[0]), _day(period[1] - 1)
    return first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"


def _day(epoch: int) -> date:
    return datetime.fromtimestamp(epoch, tz=UTC).date()


def percent(listens: Listens, value: float) -> str:
    """``value``'s share of the score as a whole percent (``"41%"``)."""
    return f"{100 * listens.share(value):.0f}%"


def listen_detail(weight: float, plays: int | None) -> str:
    """``"12 plays"`` when the source counted plays, else ``"weight 3.5"``."""
    if plays:
        return f"{plays} play{'s' if plays != 1 else ''}"
    return f"weight {weight:.3g}"
