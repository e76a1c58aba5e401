"""The text of the app's cards and links, escaped (no Streamlit).

Everything that reaches HTML goes through :func:`html.escape`; everything Streamlit renders as
Markdown (labels, captions, toasts) through :func:`md_escape`. Links and players come from
:mod:`spotify.ids`, which builds them only from ids of the Spotify shape.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.serving.results import Reason
from spotify.ids import track_url


def join_names(names: Sequence[str], *, limit: int = 3) -> str:
    """``"A"``, ``"A and B"``, ``"A, B and C"`` (at most ``limit`` names)."""
    names = [n for n in names if n][:limit]
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def reason_lines(row: Mapping[str, Any], *, verb: str, sound: str | None) -> list[str]:
    """Plain-text reasons of one recommendation (a ``Recommender.frame`` row, or a
    ``webapp.catalog.neighbours_frame`` row): ``because`` names, then each
    :class:`~engine.serving.results.Reason` of ``reasons`` in words, then ``sound``: the
    track's own features in words (``webapp.catalog.track_sound``), never its cluster's."""
    lines = []
    because = [str(b) for b in (row.get("because") or [])]
    if because:
        lines.append(f"Because you {verb} {join_names(because)}")
    reasons: Iterable[Reason] = row.get("reasons") or []
    for kind, detail in reasons:
        if kind == "artist":
            lines.append(f"By {detail}, an artist you picked")
        elif kind == "your_artist":
            lines.append(f"More from {detail}, whom you {verb}")
        elif kind == "similar_artist":
            lines.append(f"New to you: like {detail}, whom you {verb}")
        elif kind == "genre":
            lines.append(f"Genre you like: {detail}")
        elif kind == "audio":
            lines.append("Sounds like your picks")
        elif kind == "popularity":
            lines.append("Popular with listeners")
        elif detail:
            lines.append(detail)
    if sound:
        lines.append(f"This song: {sound}")
    return list(dict.fromkeys(lines))


def card_html(
    *, title: str, artists: Sequence[str], year: object, lines: Iterable[str], url: str | None, cover: str | None = None,
) -> str:
    """The text block of a card; every value is escaped. With ``cover`` (:func:`cover_html` or
    :func:`placeholder_html`) the cover sits on its left in the same block: one element per
    card instead of a column pair with two (the page draws 20 cards at a time)."""
    esc = html.escape
    year_text = f" · {int(year)}" if isinstance(year, (int, float)) and year == year and year > 0 else ""
    name = esc(str(title))
    if url:
        name = f'<a href="{esc(url)}" target="_blank" rel="noopener">{name}</a>'
    reasons = "".join(f'<li>{esc(str(line))}</li>' for line in lines)
    text = (
        f'<div class="rec-card"><div class="rec-title">{name}</div>'
        f'<div class="rec-meta">{esc(", ".join(map(str, artists)))}{esc(year_text)}</div>'
        f'<ul class="rec-reasons">{reasons}</ul></div>'
    )
    return text if cover is None else f'<div class="rec-row"><div class="rec-side">{cover}</div>{text}</div>'


def cover_html(image: str) -> str | None:
    """Album art as a square ``<img>`` for :func:`card_html`, or None when ``image`` is not an
    ``https``/``http`` URL (Spotify's are ``https://i.scdn.co/...``)."""
    if not re.match(r"https?://[^\s\"'<>]+$", str(image)):
        return None
    return f'<img class="rec-cover rec-art" src="{html.escape(str(image))}" alt="" loading="lazy">'


def mix_list_html(rows: Iterable[Mapping[str, Any]], *, verb: str) -> str:
    """A mix's compact cards: a numbered list of ``Recommender.frame`` rows (plus ``new``), each
    with its linked title, artists and year, a "new artist" mark and its first reason in words;
    every value is escaped, and links come only from Spotify-shaped ids."""
    esc = html.escape
    items = []
    for row in rows:
        title = esc(str(row.get("name") or ""))
        url = track_url(str(row.get("track_id") or ""))
        if url:
            title = f'<a href="{esc(url)}" target="_blank" rel="noopener">{title}</a>'
        year = row.get("year")
        year_text = f" · {int(year)}" if isinstance(year, (int, float)) and year == year and year > 0 else ""
        reasons = reason_lines({"reasons": row.get("reasons") or []}, verb=verb, sound=None)
        why = f'<div class="mix-why">{esc(reasons[0])}</div>' if reasons else ""
        mark = '<span class="mix-new">new artist</span>' if row.get("new") else ""
        items.append(f'<li class="mix-track"><span class="mix-title">{title}</span> '
                     f'<span class="mix-meta">{esc(", ".join(map(str, row.get("artists") or [])))}{esc(year_text)}'
                     f'</span> {mark}{why}</li>')
    return MIX_CSS + f'<ol class="mix-list">{"".join(items)}</ol>'


def placeholder_html(title: str, cluster: object) -> str:
    """A square cover placeholder: the title's initials on a colour chosen by the cluster."""
    words = [w for w in re.split(r"\W+", str(title)) if w]
    initials = "".join(w[0] for w in words[:2]).upper() or "♪"
    hue = 220
    if isinstance(cluster, (int, float)) and cluster == cluster and cluster >= 0:  # NaN != NaN
        hue = (int(cluster) * 47 + 200) % 360
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
.rec-row{display:flex;gap:1rem;align-items:flex-start}
.rec-side{flex:0 0 20%;max-width:20%}
.rec-row .rec-card{flex:1 1 0;min-width:0}
.rec-art{display:block;object-fit:cover}
</style>"""


MIX_CSS = """<style>
.mix-list{margin:0;padding-left:1.6rem}
.mix-track{margin:.15rem 0}
.mix-track .mix-title{font-weight:600}
.mix-track .mix-title a{color:inherit;text-decoration:none}
.mix-track .mix-meta{opacity:.75}
.mix-track .mix-new{font-size:.75rem;border:1px solid #1db954;color:#1db954;border-radius:999px;padding:0 .4rem}
.mix-track .mix-why{font-size:.85rem;opacity:.85}
</style>"""


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")


def md_escape(text: object) -> str:
    """``text`` with Markdown syntax escaped, for labels, captions and toasts (which Streamlit
    renders as Markdown: a track called ``![x](http://…)`` must not load an image)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def sign_in_html(url: str, *, cookie: str, nonce: str, max_age: int) -> str:
    """The "Sign in with Spotify" link, opening in the same tab so the redirect back lands in it.

    (``st.link_button`` opens a new tab, which would leave this one signed out.) Its click writes
    ``cookie=nonce`` (first-party, ``SameSite=Lax``, ``Secure`` on https, ``max_age`` seconds):
    the redirect back opens a new Streamlit session, and this cookie is how that session knows
    the sign-in started in this browser (see :mod:`spotify.auth`). Render it with
    ``st.html(..., unsafe_allow_javascript=True)``; every value is escaped into attributes and
    the script reads them from there, so no text reaches the script itself.
    """
    return (
        '<style>.signin{display:inline-block;background:#1db954;color:#fff!important;font-weight:600;'
        'padding:.55rem 1.2rem;border-radius:999px;text-decoration:none!important}'
        '.signin:hover{background:#1ed760}</style>'
        f'<a class="signin" href="{html.escape(url)}" data-cookie="{html.escape(cookie)}" '
        f'data-binding="{html.escape(nonce)}" data-max-age="{int(max_age)}">Sign in with Spotify</a>'
        "<script>document.querySelectorAll('a.signin[data-binding]').forEach(function (a) {"
        "if (a.dataset.armed) return; a.dataset.armed = '1';"
        "a.addEventListener('click', function () {"
        "if (!/^[A-Za-z0-9_-]+$/.test(a.dataset.binding)) return;"
        "document.cookie = a.dataset.cookie + '=' + a.dataset.binding + '; Path=/; Max-Age=' + a.dataset.maxAge"
        " + '; SameSite=Lax' + (location.protocol === 'https:' ? '; Secure' : '');});});</script>"
    )
