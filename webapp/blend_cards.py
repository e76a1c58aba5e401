"""The Blend's words, cards and table (no Streamlit): who the second listener is, what the
taste match says, and whose taste each shared track comes from, with the listens behind it.

The maths is :mod:`engine.serving.together`; the section that draws it is
:mod:`webapp.blend_view`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from engine.serving.listening import artist_weights_of
from engine.serving.listens import Listens
from engine.serving.recommender import Recommender
from engine.serving.together import SIDE_A, SIDE_B, SharedList, TasteMatch
from spotify.ids import track_url
from webapp.cards import card_html, join_names
from webapp.catalog import tracks_frame
from webapp.listeners import Listener
from webapp.share_code import SharedTaste
from webapp.taste_edit import track_labels

KIND_SHARE = "share"
#: What the second listener is called when no name came with them (a share code, an export).
NO_NAME = "Friend"
#: Shared artists named in the match caption.
SHARED_ARTISTS_SHOWN = 3

BLEND_CSS = """<style>
.blend-badge{display:inline-block;font-size:.75rem;font-weight:600;padding:.1rem .55rem;border-radius:999px;
margin-bottom:.25rem;color:#fff;background:#6b5bd2}
.blend-badge.blend-a{background:#1d8f5a}.blend-badge.blend-b{background:#c2541b}
</style>"""


def partner_from_share(taste: SharedTaste) -> Listener:
    """The second listener of a share code (their taste only: no account, nothing stored)."""
    name = taste.name or NO_NAME
    return Listener(kind=KIND_SHARE, label=f"{name} (share code)", history=taste.listening())


def short_name(listener: Listener) -> str:
    """The second listener's name on badges: ``"Demo listener 002"``, a code's name, ..."""
    return listener.label.split(" (")[0] or NO_NAME


def taste_key(history: Mapping[str, float]) -> tuple[frozenset[tuple[str, float]], frozenset[tuple[str, float]]]:
    """A hashable key of a taste (its track and artist-only weights), to tell whether it changed."""
    return frozenset(history.items()), frozenset(artist_weights_of(history).items())


def badge_text(side: str, partner: str) -> str:
    """``"Both of you"``, ``"From your taste"`` or ``"From <partner>'s taste"``."""
    if side == SIDE_A:
        return "From your taste"
    if side == SIDE_B:
        return f"From {partner}'s taste"
    return "Both of you"


def match_caption(rec: Recommender, match: TasteMatch) -> str:
    """What the match is made of, in words (plain text)."""
    parts = []
    if match.cosine is not None:
        parts.append(f"taste vectors {max(0.0, match.cosine):.0%} alike")
    else:
        parts.append("one of you has no song in the model, so this is artists alone")
    parts.append(f"{match.overlap:.0%} of your artist shares in common")
    names = [str(rec.arrays.artist_names[a]) for a in match.shared_artists[:SHARED_ARTISTS_SHOWN]]
    if names:
        parts.append(f"both of you play {join_names(names)}")
    return "; ".join(parts) + "."


def _because(listens: Listens | None, labels: Mapping[str, str], who: str, verb: str) -> str | None:
    if listens is None or not listens.tracks:
        return None
    names = [labels.get(t.track_id, t.track_id) for t in listens.tracks[:2]]
    return f"{who}: because {'you' if who == 'You' else 'they'} {verb} {join_names(names)}"


def blend_frame(
    rec: Recommender,
    shared: SharedList,
    listens_a: Sequence[Listens],
    listens_b: Sequence[Listens],
    *,
    you: Listener,
    partner: Listener,
) -> pd.DataFrame:
    """The shared list as card rows: the track columns of ``webapp.catalog.tracks_frame`` plus
    ``side``, ``badge`` and ``lines`` (each listener's rank and the listens behind it)."""
    frame = tracks_frame(rec, list(shared.track_ids))
    name = short_name(partner)
    behind = [t.track_id for group in (listens_a, listens_b) for lst in group for t in lst.tracks[:2]]
    labels = track_labels(rec, list(dict.fromkeys(behind)))
    by_a = {lst.track_id: lst for lst in listens_a}
    by_b = {lst.track_id: lst for lst in listens_b}
    lines: list[list[str]] = []
    for track_id, (rank_a, rank_b) in zip(shared.track_ids, shared.ranks.tolist()):
        row = [f"#{rank_a:,.0f} for you · #{rank_b:,.0f} for {name} (of {shared.n_scored:,} songs)"]
        row += [line for line in (_because(by_a.get(track_id), labels, "You", you.verb),
                                  _because(by_b.get(track_id), labels, name, partner.verb)) if line]
        lines.append(row)
    frame["side"] = list(shared.sides)
    frame["badge"] = [badge_text(s, name) for s in shared.sides]
    frame["lines"] = lines
    return frame


def blend_card_html(row: Mapping[str, Any]) -> str:
    """One shared track: its badge, then the card text (every value escaped)."""
    side = str(row.get("side", ""))
    badge = f'<span class="blend-badge blend-{html.escape(side)}">{html.escape(str(row.get("badge", "")))}</span>'
    return badge + card_html(title=str(row.get("name") or ""), artists=list(row.get("artists") or []),
                             year=row.get("year"), lines=list(row.get("lines") or []),
                             url=track_url(str(row["track_id"])))
