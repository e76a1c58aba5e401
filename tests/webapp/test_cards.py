"""webapp.cards: escaping, reasons as sentences."""

from __future__ import annotations

import pytest

from engine.serving.results import Reason
from webapp.cards import (
    card_html,
    cover_html,
    join_names,
    md_escape,
    placeholder_html,
    reason_lines,
    sign_in_html,
)

EVIL = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def test_card_html_escapes_everything_from_the_catalogue() -> None:
    out = card_html(title=EVIL, artists=[EVIL, "A & B"], year=1999, lines=[f"Because you played {EVIL}"],
                    url="https://open.spotify.com/track/" + "a" * 22)
    assert "<script>" not in out and "<img" not in out and "onerror=\"" not in out
    assert "&lt;script&gt;" in out and "A &amp; B" in out and "· 1999" in out
    assert placeholder_html(EVIL, 3).count("<") == 2  # only the div's own tags
    assert ">♪<" in placeholder_html("<<", None)  # no letters: a note, not the raw text
    link = sign_in_html('https://x/authorize?a=1&state="><script>', cookie='c"><script>', nonce='n"><script>',
                        max_age=600)
    assert link.count("&quot;&gt;&lt;script&gt;") == 3 and link.count("<script>") == 1  # only the cookie writer
    assert 'data-binding="n&quot;' in link and "Max-Age=" in link and "SameSite=Lax" in link


def test_md_escape_neutralizes_markdown() -> None:
    assert md_escape("![x](http://evil/p.png) *a* :red[b]") == r"\!\[x\]\(http\://evil/p\.png\) \*a\* \:red\[b\]"


def test_reasons_read_like_sentences() -> None:
    row = {"because": ["Song A", "Song B", "Song C", "Song D"],
           "reasons": [Reason("genre", "rock"), Reason("artist", "Nina"), Reason("audio", "0.9")]}
    assert reason_lines(row, verb="played", sound="older, high energy") == [
        "Because you played Song A, Song B and Song C",
        "Genre you like: rock",
        "By Nina, an artist you picked",
        "Sounds like your picks",
        "This song: older, high energy",
    ]
    assert reason_lines({}, verb="played", sound=None) == []  # no audio for the track: no sound line
    assert join_names(["A", "B"]) == "A and B" and join_names([]) == ""


@pytest.mark.parametrize("cluster", [None, float("nan"), -1, 4])
def test_placeholder_handles_missing_clusters(cluster) -> None:
    assert "hsl(" in placeholder_html("Blue Moon", cluster) and ">BM<" in placeholder_html("Blue Moon", cluster)


def test_a_card_holds_its_cover_and_album_art_comes_only_from_web_urls() -> None:
    """The cover sits in the card's own block; an image URL that is not http(s) (or would leave
    the attribute) gives no <img>, and the one that does is escaped."""
    art = cover_html("https://i.scdn.co/image/ab67616d0000b273?x=1&y=2")
    assert art is not None and 'src="https://i.scdn.co/image/ab67616d0000b273?x=1&amp;y=2"' in art
    for bad in ("javascript:alert(1)", "data:image/svg+xml,<svg onload=alert(1)>", 'https://x/" onerror="alert(1)',
                "//i.scdn.co/x.jpg", "https://x/a b.jpg"):
        assert cover_html(bad) is None, bad
    card = card_html(title="Song", artists=["A"], year=2001, lines=[], url=None, cover=art)
    assert card.startswith('<div class="rec-row"><div class="rec-side"><img ') and '<div class="rec-card">' in card
    assert '<div class="rec-row">' not in card_html(title="Song", artists=["A"], year=2001, lines=[], url=None)
