"""Name normalization and matching of listening history to catalogue items.

One normalizer serves every place that matches tracks by name: the playlist-dataset reader
(:mod:`engine.ingest.readers.playlists`, on Spark through a pandas UDF), the Spotify history and the data-export
import (through :func:`match_history`), and the app's search box (:meth:`CatalogIndex.search`).
Two normalizers would drift apart and the same song would match in one place and not the other.

This module imports no pyspark (the app uses it); fuzzy search uses rapidfuzz.

Normalization, in order (see :func:`normalize_title` / :func:`normalize_artist`):

- Unicode: NFKD, combining marks dropped (``Beyoncé`` -> ``beyonce``), case folded.
- ``&`` and ``+`` become ``and``; apostrophes vanish (``Don't`` -> ``dont``); other punctuation
  becomes a space; runs of spaces collapse.
- Titles lose featured artists (``feat. X``, ``ft. X``, ``featuring X``, ``(with X)``) and
  edition suffixes that name the same recording: ``- Remastered 2011``, ``- 2009 Remaster``,
  ``(Live at ...)``, ``- Live``, ``(Radio Edit)``, ``- Single Version``, ``- Mono``,
  ``- Remasterizado``. Remixes, acoustic or instrumental versions are kept: they are other
  recordings.
- Artists lose featured artists and a leading ``The``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from rapidfuzz import fuzz, process

if TYPE_CHECKING:
    import pandas as pd

#: Separates the artist and title parts of a match key; normalized text never contains it.
KEY_SEPARATOR = "|"

MATCH_PATHS: tuple[str, ...] = ("track_id", "name", "artist")

#: Rows scored in full by :meth:`CatalogIndex.search` after the word prefilter.
SEARCH_CANDIDATES = 2000

_SPOTIFY_TRACK_URI = re.compile(r"^spotify:track:([0-9A-Za-z]{22})$")
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`´]")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
# Combining diacritics of Latin, Greek and Cyrillic letters (after NFKD: é -> e + U+0301).
# Kana voicing marks (U+3099/U+309A) are not in these ranges, so Japanese text is unchanged.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_AMPERSAND = re.compile(r"\s*[&+]\s*")
# What follows "feat." in a title or artist is another artist: drop it to the end (or to the
# closing bracket when it sits inside one).
_FEAT_WORD = r"(?:feat\.?|ft\.?|featuring|with)"
_FEAT_BRACKET = re.compile(rf"[(\[]\s*{_FEAT_WORD}\s[^)\]]*[)\]]", re.IGNORECASE)
_FEAT_TAIL = re.compile(r"\s(?:feat\.?|ft\.?|featuring)\s.*$", re.IGNORECASE)
# Edition notes that name the same recording.
_EDITION = (
    r"(?:\d{4}\s+)?(?:digital(?:ly)?\s+)?remaster(?:ed|izado|izada|isiert)?(?:\s+version)?(?:\s+\d{4})?"
    r"|radio\s+(?:edit|version|mix)|(?:single|album|original|mono|stereo|lp)\s+(?:version|edit|mix)"
    r"|mono|stereo|explicit|clean|bonus\s+track|edit"
)
# "Live at ..." runs to the closing bracket, or to the end after a dash.
_LIVE_IN_BRACKET = r"|(?:live|en\s+vivo|ao\s+vivo)(?:\s[^)\]]*)?"
_LIVE_AFTER_DASH = r"|(?:live|en\s+vivo|ao\s+vivo)(?:\s.*)?"
_EDITION_BRACKET = re.compile(rf"[(\[]\s*(?:{_EDITION}{_LIVE_IN_BRACKET})\s*[)\]]", re.IGNORECASE)
_EDITION_DASH = re.compile(rf"\s-\s+(?:{_EDITION}{_LIVE_AFTER_DASH})\s*$", re.IGNORECASE)
_LEADING_THE = re.compile(r"^the\s+")
# Titles without any of these cannot carry a feat./edition note (checked before the slow path).
_MAY_HAVE_NOTES = re.compile(r"[(\[\u2010-\u2015\u2212]|\s-\s|\sf(?:ea)?t|\sfeaturing", re.IGNORECASE)


def normalize_text(s: object) -> str:
    """Case-, accent- and punctuation-insensitive form of ``s`` (``None``/NaN -> ``""``).

    ``&``/``+`` become ``and``; apostrophes are removed; other punctuation becomes a space.
    Letters of every script are kept (a Japanese title does not normalize to nothing).
    """
    if not isinstance(s, str):
        return ""
    text = s
    if not text.isascii():  # most names are ASCII: skip decomposition for them
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    text = _APOSTROPHES.sub("", text.casefold())
    text = _AMPERSAND.sub(" and ", text)
    return _NON_WORD.sub(" ", text).strip()


@lru_cache(maxsize=200_000)
def normalize_title(s: object) -> str:
    """Normalized track title: :func:`normalize_text` without featured artists or edition notes.

    >>> normalize_title("Let It Be - Remastered 2009")
    'let it be'
    >>> normalize_title("Señorita (feat. Camila Cabello) [Radio Edit]")
    'senorita'
    """
    if not isinstance(s, str):
        return ""
    if not _MAY_HAVE_NOTES.search(s):  # fast path: nothing to strip
        return normalize_text(s)
    text = _DASHES.sub("-", s)
    stripped = _FEAT_BRACKET.sub(" ", text)
    # Suffixes stack ("Song - Live - Remastered 2011"): strip until nothing changes.
    previous = None
    while previous != stripped:
        previous = stripped
        stripped = _EDITION_BRACKET.sub(" ", stripped).rstrip()
        stripped = _EDITION_DASH.sub("", stripped).rstrip()
        stripped = _FEAT_TAIL.sub("", stripped).rstrip()
    normalized = normalize_text(stripped)
    # A title that is only an edition word ("Live") keeps it rather than becoming empty.
    return normalized or normalize_text(text)


@lru_cache(maxsize=200_000)
def normalize_artist(s: object) -> str:
    """Normalized artist name: :func:`normalize_text` without featured artists or leading "The".

    >>> normalize_artist("The Beatles")
    'beatles'
    >>> normalize_artist("Simon and Garfunkel") == normalize_artist("Simon & Garfunkel")
    True
    """
    if not isinstance(s, str):
        return ""
    text = _FEAT_BRACKET.sub(" ", s)
    text = _FEAT_TAIL.sub("", text)
    normalized = normalize_text(text)
    return _LEADING_THE.sub("", normalized) or normalized


def match_key(artist: object, title: object) -> str:
    """The key two (artist, title) pairs share when they name the same recording.

    Empty when either part normalizes to nothing (such a row cannot be matched by name).
    """
    a, t = normalize_artist(artist), normalize_title(title)
    return f"{a}{KEY_SEPARATOR}{t}" if a and t else ""


def parse_track_id(value: object) -> str | None:
    """A track id from a bare id or a ``spotify:track:<id>`` URI; ``None`` for empty input."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    uri = _SPOTIFY_TRACK_URI.match(value)
    return uri.group(1) if uri else value


class HistoryItem(Protocol):
    """What :func:`match_history` reads from each item (``spotify.history`` defines one).

    Read-only members, so frozen dataclasses and named tuples satisfy it.
    """

    @property
    def track_id(self) -> str | None: ...
    @property
    def title(self) -> str: ...
    @property
    def artist(self) -> str: ...
    @property
    def weight(self) -> float: ...


@dataclass
class MatchResult:
    """Outcome of :func:`match_history`.

    Attributes
    ----------
    weights
        track_id -> summed weight over every item matched to it. Totals that are not positive
        (a track skipped more than played) are kept so callers can mask them;
        :meth:`positive_weights` gives the ones to fold in.
    counts
        Items per path: ``track_id``, ``name``, ``artist``, ``unmatched``.
    unmatched
        The input items no path matched, in input order.
    artist_weights
        Catalogue artist key (the artist's id when the catalogue has ids, else its name as
        the catalogue writes it) -> summed weight of the items matched by artist only.
    """

    weights: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {p: 0 for p in (*MATCH_PATHS, "unmatched")})
    unmatched: list[Any] = field(default_factory=list)
    artist_weights: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Number of input items."""
        return sum(self.counts.values())

    @property
    def match_rates(self) -> dict[str, float]:
        """Fraction of input items matched by each path (0 when there was no input)."""
        total = self.total
        return {p: (self.counts[p] / total if total else 0.0) for p in MATCH_PATHS}

    @property
    def match_rate(self) -> float:
        """Fraction of input items matched by any path."""
        return sum(self.match_rates.values())

    def positive_weights(self) -> dict[str, float]:
        """The entries of :attr:`weights` that are > 0 (what fold-in uses)."""
        return {k: v for k, v in self.weights.items() if v > 0}


class CatalogIndex:
    """Lookup structures over the model's items, built once (:meth:`from_items`).

    Holds: track id -> row, normalized (artist, title) key -> row (every credited artist of a
    track gets a key; on a clash the more popular track wins), normalized artist -> its
    catalogue key (the artist's id when the items carry ``artist_ids``, else its name as the
    catalogue writes it), and one normalized "artist title" string per
    row for fuzzy search.
    """

    def __init__(
        self,
        track_ids: np.ndarray,
        popularity: np.ndarray,
        by_key: dict[str, int],
        search_strings: list[str],
        artist_keys: dict[str, str] | None = None,
    ) -> None:
        self.track_ids = track_ids
        self.popularity = popularity
        self.row_of = {tid: i for i, tid in enumerate(track_ids.tolist())}
        self.by_key = by_key
        self.search_strings = search_strings
        self.artist_keys = artist_keys or {}
        self._tokens: tuple[list[str], np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.track_ids)

    def __contains__(self, track_id: object) -> bool:
        return track_id in self.row_of

    @classmethod
    def from_items(cls, items: "pd.DataFrame", *, artists_col: str = "artists") -> "CatalogIndex":
        """Build the index from a DataFrame with ``track_id, name, <artists_col>, popularity``.

        ``artists_col`` holds a list of artist names per row (a plain string is one artist).
        ``popularity`` is optional (ties then go to the first row). When a bundle's
        ``has_factors`` column is present, rows with factors win name clashes (and claim
        artist keys) over rows without.

        Examples
        --------
        >>> import pandas as pd
        >>> idx = CatalogIndex.from_items(pd.DataFrame({"track_id": ["a"], "name": ["Yesterday"],
        ...                               "artists": [["The Beatles"]], "popularity": [80]}))
        >>> idx.search("beatles yesterdy")[0][0]
        'a'
        """
        for col in ("track_id", "name", artists_col):
            if col not in items.columns:
                raise ValueError(f"items DataFrame has no {col!r} column (has {list(items.columns)})")
        n = len(items)
        track_ids = items["track_id"].astype(str).to_numpy()
        if "popularity" in items.columns:
            popularity = items["popularity"].fillna(0).to_numpy(dtype=np.float64)
        else:
            popularity = np.zeros(n)
        # Visit rows best first so the first row to claim a key (or an artist key) wins: rows
        # with ALS factors before rows without (a match the model cannot use is lost), then
        # by popularity.
        if "has_factors" in items.columns:
            usable = items["has_factors"].fillna(False).to_numpy(dtype=bool)
        else:
            usable = np.ones(n, dtype=bool)
        order = np.lexsort((np.arange(n), -popularity, ~usable))
        names = items["name"].tolist()
        artists_lists = [_as_list(a) for a in items[artists_col].tolist()]
        id_lists = [_as_list(a) for a in items["artist_ids"].tolist()] if "artist_ids" in items.columns else None
        by_key: dict[str, int] = {}
        artist_keys: dict[str, str] = {}
        titles = [normalize_title(n) for n in names]
        for row in order.tolist():
            title = titles[row]
            ids = id_lists[row] if id_lists is not None and len(id_lists[row]) == len(artists_lists[row]) else None
            for position, artist in enumerate(artists_lists[row]):
                a = normalize_artist(artist)
                if not a:
                    continue
                artist_keys.setdefault(a, ids[position] if ids is not None else artist)
                if title:
                    by_key.setdefault(f"{a}{KEY_SEPARATOR}{title}", row)
        search_strings = [
            " ".join([*(normalize_artist(a) for a in artists_lists[i]), titles[i]]) for i in range(n)
        ]
        return cls(track_ids, popularity, by_key, search_strings, artist_keys)

    def lookup_name(self, artist: object, title: object) -> str | None:
        """Track id matched by normalized artist + title, or ``None``."""
        row = self.by_key.get(match_key(artist, title))
        return None if row is None else str(self.track_ids[row])

    def artist_key(self, artist: object) -> str | None:
        """The catalogue key (artist id, else catalogue name) of a normalized-name match, or None."""
        return self.artist_keys.get(normalize_artist(artist))

    def _token_index(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Vocabulary and postings (CSR: token -> rows) of the search strings, built once."""
        if self._tokens is None:
            vocab: dict[str, int] = {}
            codes: list[int] = []
            rows: list[int] = []
            for i, text in enumerate(self.search_strings):
                for word in set(text.split()):
                    codes.append(vocab.setdefault(word, len(vocab)))
                    rows.append(i)
            code_arr = np.asarray(codes, dtype=np.int64)
            order = np.argsort(code_arr, kind="stable")  # rows stay ascending within a word
            row = np.asarray(rows, dtype=np.int64)[order]
            indptr = np.concatenate([[0], np.cumsum(np.bincount(code_arr, minlength=len(vocab)))])
            self._tokens = (list(vocab), indptr, row)
        return self._tokens

    def search(self, query: str, limit: int = 10) -> list[tuple[str, float]]:
        """Fuzzy search for a typed "artist title" (any order, typos ok).

        Returns up to ``limit`` ``(track_id, score)`` pairs, best first, score in 0-100
        (rapidfuzz ``WRatio`` on the normalized strings; equal scores go to the more popular
        track). An empty query returns nothing.

        Each query word is first matched to similar catalogue words (rapidfuzz ``ratio``
        >= 75; words of up to 3 letters exactly); the ``SEARCH_CANDIDATES`` rows covering
        the most query words are then scored in full. Scoring every row instead would take
        seconds on a 600k catalogue.
        """

        q = normalize_text(query)
        if not q or limit < 1 or len(self) == 0:
            return []
        vocab, indptr, postings = self._token_index()
        coverage = np.zeros(len(self))
        for word in dict.fromkeys(q.split()):
            cutoff = 100 if len(word) <= 3 else 75
            similar = process.extract(word, vocab, scorer=fuzz.ratio, score_cutoff=cutoff, limit=25)
            if not similar:
                continue
            rows = np.concatenate([postings[indptr[j] : indptr[j + 1]] for _, _, j in similar])
            sims = np.concatenate([np.full(indptr[j + 1] - indptr[j], sc / 100) for _, sc, j in similar])
            best = np.zeros(len(self))
            np.maximum.at(best, rows, sims)  # a row counts a query word once, at its best match
            coverage += best
        candidates = np.flatnonzero(coverage)
        if len(candidates) > SEARCH_CANDIDATES:
            rank = coverage[candidates] + self.popularity[candidates] / 1e4  # popularity breaks ties
            candidates = candidates[np.argpartition(-rank, SEARCH_CANDIDATES - 1)[:SEARCH_CANDIDATES]]
        if len(candidates) == 0:
            return []
        choices = [self.search_strings[i] for i in candidates.tolist()]
        hits = process.extract(q, choices, scorer=fuzz.WRatio, processor=None, limit=limit * 5, score_cutoff=50)
        scored = [(float(score), int(candidates[k])) for _, score, k in hits]
        scored.sort(key=lambda h: (-round(h[0], 6), -self.popularity[h[1]], h[1]))
        return [(str(self.track_ids[row]), score) for score, row in scored[:limit]]


def match_history(items: Iterable[HistoryItem], index: CatalogIndex) -> MatchResult:
    """Map weighted history items to catalogue track ids.

    Paths, first that succeeds wins: the item's ``track_id`` (bare id or ``spotify:track:``
    URI) is in the index; then ``match_key(artist, title)``; then the artist alone, whose
    weight goes to the artist (``MatchResult.artist_weights``, keyed by
    :meth:`CatalogIndex.artist_key`), not to one of their tracks: the listener plays the
    artist, and which song is unknown. Only positive weights take the artist path (a skip of
    a song we do not know says nothing about the artist).

    Parameters
    ----------
    items
        Objects with ``track_id`` (may be ``None``), ``title``, ``artist`` and ``weight``.
    index
        Built once with :meth:`CatalogIndex.from_items`.

    Returns
    -------
    MatchResult
        Summed weights per track id, counts per path and the unmatched items.
    """
    result = MatchResult()
    weights: dict[str, float] = defaultdict(float)
    artist_weights: dict[str, float] = defaultdict(float)
    for item in items:
        weight = float(item.weight)
        track_id = parse_track_id(getattr(item, "track_id", None))
        if track_id is not None and track_id in index:
            weights[track_id] += weight
            result.counts["track_id"] += 1
            continue
        by_name = index.lookup_name(item.artist, item.title)
        if by_name is not None:
            weights[by_name] += weight
            result.counts["name"] += 1
            continue
        artist = index.artist_key(item.artist) if weight > 0 else None
        if artist is not None:
            artist_weights[artist] += weight
            result.counts["artist"] += 1
            continue
        result.counts["unmatched"] += 1
        result.unmatched.append(item)
    result.weights = dict(weights)
    result.artist_weights = dict(artist_weights)
    return result


def _as_list(value: object) -> Sequence[str]:
    if isinstance(value, str):
        return [value]
    if value is None:
        return []
    if isinstance(value, Iterable):  # list, tuple, numpy array
        return [v for v in value if isinstance(v, str)]
    return []
