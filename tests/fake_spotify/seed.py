"""Seeded data for the fake Spotify server: a catalogue of tracks and a few listeners.

The catalogue comes, in order of preference, from the shipped real sample
(``data/sample/tracks.csv.gz``), the 10k sample ``tracks_sample10k.csv.gz`` in the folder named by
``SHARED_DATA_DIR`` (when that is set) or a small generated one, so a fake listener's tracks carry real Spotify ids and names and the
app's matching works against the same catalogue. Each listener also has tracks the catalogue
lacks (2025 releases, some by catalogue artists, some by new artists), as a 2026 account would.

Listeners (all deterministic for a given seed and ``now``):

- ``alice``: a few hundred tracks, mostly post-2000 catalogue tracks by ~30 favourite artists plus
  ~40 new releases; top tracks 25/60/99 (short/medium/long term), 50 recent plays, 220 saved
  tracks, and a private playlist with a local file in it.
- ``bob``: older taste (pre-2000), top 10/30/50, 30 recent plays, 40 saved, a public playlist.
- ``carol``: a brand-new account with no history at all (cold start).
"""

from __future__ import annotations

import ast
import csv
import functools
import gzip
import hashlib
import os
import random
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE_CANDIDATES = (
    ROOT / "data" / "sample" / "tracks.csv.gz",
    *([Path(os.environ["SHARED_DATA_DIR"]) / "tracks_sample10k.csv.gz"] if os.environ.get("SHARED_DATA_DIR") else []),
)
BASE62 = string.digits + string.ascii_letters
TIME_RANGES = ("short_term", "medium_term", "long_term")
_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_DMY_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")
_SIMPLE_LIST = re.compile(r"^\['[^'\\\"]*'(, '[^'\\\"]*')*\]$")


def spotify_id(seed: str) -> str:
    """A deterministic 22-character base62 id (the shape of a real Spotify id)."""
    number = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest(), "big")
    chars = []
    for _ in range(22):
        number, rem = divmod(number, 62)
        chars.append(BASE62[rem])
    return "".join(chars)


@dataclass(frozen=True)
class Track:
    """One track the fake knows; ``in_catalogue`` is False for tracks newer than the catalogue."""

    id: str
    name: str
    artist_ids: tuple[str, ...]
    artist_names: tuple[str, ...]
    release_date: str
    duration_ms: int
    explicit: bool
    popularity: int | None
    in_catalogue: bool = True
    is_local: bool = False

    @property
    def year(self) -> int:
        return int(self.release_date[:4])


@dataclass
class Play:
    """One entry of the recently-played list."""

    track_id: str
    played_at_ms: int
    context_uri: str | None = None


@dataclass
class SeedPlaylist:
    """A playlist as the fake stores it; ``items`` holds (uri, added_at ISO, added_by user id)."""

    id: str
    owner: str
    name: str
    description: str = ""
    public: bool = False
    collaborative: bool = False
    items: list[tuple[str, str, str]] = field(default_factory=list)
    version: int = 1
    #: Users (other than the owner) who follow it: ``GET /me/playlists`` lists it for them too.
    followers: set[str] = field(default_factory=set)


@dataclass
class User:
    """A seeded listener and everything the API returns about them."""

    id: str
    display_name: str
    country: str = "SE"
    product: str = "premium"
    email: str = ""
    top: dict[str, list[str]] = field(default_factory=lambda: {r: [] for r in TIME_RANGES})
    recent: list[Play] = field(default_factory=list)
    saved: list[tuple[str, str]] = field(default_factory=list)  # (track id, added_at ISO)

    def history_track_ids(self) -> set[str]:
        """Every track id the listener's history mentions (top, recent, saved)."""
        ids = {tid for ids in self.top.values() for tid in ids}
        ids.update(p.track_id for p in self.recent)
        ids.update(tid for tid, _ in self.saved)
        return ids


@dataclass
class Seed:
    """The fake's whole initial world."""

    tracks: dict[str, Track]
    users: dict[str, User]
    playlists: dict[str, SeedPlaylist]
    source: str


def iso(ms: int) -> str:
    """Epoch milliseconds -> Spotify's ISO-8601 timestamp with milliseconds and ``Z``."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


# -- catalogue -----------------------------------------------------------------------------
def find_catalogue() -> Path | None:
    """The first existing catalogue sample, or None (then the catalogue is generated)."""
    return next((p for p in CATALOGUE_CANDIDATES if p.is_file()), None)


def _parse_list(raw: str | None) -> list[str]:
    text = (raw or "").strip()
    if not text:
        return []
    if _SIMPLE_LIST.match(text):  # fast path for the common "['A', 'B']" (literal_eval is slow)
        return [v for v in text[2:-2].split("', '") if v.strip()]
    if text.startswith("["):
        try:
            value = ast.literal_eval(text)
            return [str(v) for v in value if str(v).strip()]
        except (ValueError, SyntaxError):
            return []
    return [text]


def _release_date(raw: str | None) -> str | None:
    text = (raw or "").strip()
    match = _DMY_RE.match(text)
    if match:  # a spreadsheet round trip turned YYYY-MM-DD into DD-MM-YYYY
        return f"{match.group(3)}-{match.group(2)}-{match.group(1)}"
    if _DATE_RE.match(text):
        return text
    if text.isdigit() and len(text) == 4:
        return text
    return None


def load_catalogue(path: Path, *, limit: int | None = None) -> list[Track]:
    """Read a Kaggle-style tracks CSV(.gz); rows that cannot make a track are skipped.

    Accepts the Kaggle column names (``id, name, artists, id_artists, release_date``) and the
    canonical ones (``track_id, artist_names, artist_ids, release_year``).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    tracks: list[Track] = []
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            tid = (row.get("id") or row.get("track_id") or "").strip()
            names = _parse_list(row.get("artists") or row.get("artist_names"))
            ids = _parse_list(row.get("id_artists") or row.get("artist_ids"))
            date = _release_date(row.get("release_date") or row.get("release_year"))
            if len(tid) != 22 or not names or not row.get("name") or date is None:
                continue
            if len(ids) != len(names):
                ids = [spotify_id("artist:" + n) for n in names]
            try:
                popularity = int(float(row.get("popularity") or 0))
                duration = int(float(row.get("duration_ms") or 200_000))
            except ValueError:
                continue
            explicit = str(row.get("explicit", "0")).strip().lower() in ("1", "true")
            tracks.append(Track(tid, row["name"], tuple(ids), tuple(names), date, duration,
                                explicit, popularity))
            if limit is not None and len(tracks) >= limit:
                break
    return tracks


_WORDS_A = ("Blue", "Golden", "Silent", "Electric", "Midnight", "Paper", "Wild", "Neon", "Velvet",
            "Broken", "Summer", "Lonely", "Crystal", "Distant", "Northern", "Little", "Burning")
_WORDS_B = ("River", "Heart", "Sky", "Train", "Garden", "Light", "Ocean", "Dream", "City", "Fire",
            "Road", "Moon", "Letter", "Window", "Echo", "Harbor", "Storm", "Dance")
_ARTIST_A = ("The", "Los", "DJ", "Little", "Big", "Saint", "Captain", "Young", "Old", "Lady")
_ARTIST_B = ("Foxes", "Maple", "Orbit", "Lanterns", "Juno", "Harlow", "Pines", "Sirens", "Atlas",
             "Kestrel", "Marlowe", "Tundra", "Vesper", "Wren", "Yarrow", "Zephyr", "Cobalt")


def _title(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"


@functools.lru_cache(maxsize=4)  # tracks are frozen, so every fake of a test run can share them
def generate_catalogue(*, n_tracks: int = 1500, n_artists: int = 150, seed: int = 7) -> tuple[Track, ...]:
    """A small made-up catalogue (used when no real sample is available)."""
    rng = random.Random(seed)
    artists = [(spotify_id(f"gen-artist:{i}"), f"{rng.choice(_ARTIST_A)} {rng.choice(_ARTIST_B)} {i}")
               for i in range(n_artists)]
    tracks = []
    for i in range(n_tracks):
        aid, aname = artists[rng.randrange(n_artists)]
        year = rng.randint(1960, 2020)
        tracks.append(Track(spotify_id(f"gen-track:{i}"), _title(rng), (aid,), (aname,),
                            f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                            rng.randint(120_000, 360_000), rng.random() < 0.1, rng.randint(0, 90)))
    return tuple(tracks)


# -- listeners -----------------------------------------------------------------------------
def _new_releases(rng: random.Random, user: str, favourites: list[tuple[str, str]],
                  n: int) -> list[Track]:
    """2025 releases the catalogue lacks: half by the listener's catalogue artists, half by new ones."""
    out = []
    for i in range(n):
        if i % 2 == 0 and favourites:
            aid, aname = favourites[i % len(favourites)]
        else:
            aname = f"{rng.choice(_ARTIST_B)} {rng.choice(_WORDS_B)}"
            aid = spotify_id(f"new-artist:{user}:{aname}")
        out.append(Track(spotify_id(f"new-track:{user}:{i}"), _title(rng), (aid,), (aname,),
                         f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                         rng.randint(140_000, 260_000), rng.random() < 0.2,
                         rng.randint(20, 70), in_catalogue=False))
    return out


def _taste(rng: random.Random, pool: list[Track], *, n_artists: int, n_tracks: int) -> list[Track]:
    """A coherent taste: every pool track by a few favourite artists, then random fill."""
    by_artist: dict[tuple[str, str], list[Track]] = {}
    for t in pool:
        by_artist.setdefault((t.artist_ids[0], t.artist_names[0]), []).append(t)
    ranked = sorted(by_artist, key=lambda a: (-len(by_artist[a]), a))
    favourites = ranked[: n_artists * 3]
    rng.shuffle(favourites)
    chosen: list[Track] = []
    for artist in favourites[:n_artists]:
        chosen.extend(by_artist[artist][:8])
    seen = {t.id for t in chosen}
    rest = [t for t in pool if t.id not in seen]
    rng.shuffle(rest)
    chosen.extend(rest[: max(0, n_tracks - len(chosen))])
    return chosen[:n_tracks]


def _fill_user(rng: random.Random, user: User, tracks: list[Track], *, now_ms: int,
               sizes: tuple[int, int, int, int, int]) -> None:
    short, medium, long_, n_recent, n_saved = sizes
    ids = [t.id for t in tracks]
    newest = [t.id for t in tracks if not t.in_catalogue]
    newest_set = set(newest)
    older = [i for i in ids if i not in newest_set]
    shuffled = rng.sample(ids, len(ids))
    # Current taste leans on new releases; long-term taste on the older favourites.
    user.top["short_term"] = (newest[: short // 2] + [i for i in shuffled if i not in newest_set])[:short]
    user.top["medium_term"] = shuffled[:medium]
    user.top["long_term"] = (older + newest)[:long_]
    t_ms = now_ms - 5 * 60_000
    favourites = user.top["short_term"][:10] or ids[:10]
    for i in range(n_recent):
        tid = favourites[i % len(favourites)] if i % 3 == 0 else rng.choice(ids)
        context = "spotify:playlist:" + spotify_id(f"ctx:{user.id}") if i % 4 == 0 else None
        user.recent.append(Play(tid, t_ms, context))
        t_ms -= rng.randint(150_000, 2 * 3_600_000)
    saved_ids = rng.sample(ids, min(n_saved, len(ids)))
    added = now_ms - 60_000
    for tid in saved_ids:
        user.saved.append((tid, iso(added)[:19] + "Z"))
        added -= rng.randint(3_600_000, 5 * 86_400_000)


def build_seed(*, catalogue: Path | str | None = "auto", seed: int = 7,
               now_ms: int | None = None) -> Seed:
    """Build the catalogue and the listeners.

    ``catalogue``: ``"auto"`` (the shipped sample, else the ``SHARED_DATA_DIR`` one, else generated), a
    path to a tracks CSV(.gz), or None for the generated catalogue (what the tests use).
    """
    path = find_catalogue() if catalogue == "auto" else (Path(catalogue) if catalogue else None)
    base = load_catalogue(path) if path else []
    source = str(path) if base else "generated"
    if len(base) < 400:
        base = list(generate_catalogue(seed=seed))
        source = "generated"
    rng = random.Random(seed)
    now_ms = now_ms if now_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
    tracks = {t.id: t for t in base}
    recent_pool = [t for t in base if t.year >= 2000]
    older_pool = [t for t in base if t.year < 2000]
    if len(recent_pool) < 300 or len(older_pool) < 150:  # skewed catalogue: split it instead
        half = len(base) // 2
        recent_pool, older_pool = base[:half], base[half:]

    users = {
        "alice": User("alice", "Alice Andersson", email="alice@example.invalid"),
        "bob": User("bob", "Bob Berg", country="NO", product="free"),
        "carol": User("carol", "Carol Carlsson", country="DK"),
    }
    alice_tracks = _taste(rng, recent_pool, n_artists=30, n_tracks=280)
    fav = list(dict.fromkeys(zip((t.artist_ids[0] for t in alice_tracks),
                                 (t.artist_names[0] for t in alice_tracks))))
    alice_new = _new_releases(rng, "alice", fav[:10], 40)
    bob_tracks = _taste(rng, older_pool, n_artists=12, n_tracks=110)
    bob_new = _new_releases(rng, "bob", [], 10)
    for t in alice_new + bob_new:
        tracks[t.id] = t
    _fill_user(rng, users["alice"], alice_new + alice_tracks, now_ms=now_ms,
               sizes=(25, 60, 99, 50, 220))
    _fill_user(rng, users["bob"], bob_new + bob_tracks, now_ms=now_ms, sizes=(10, 30, 50, 30, 40))

    road = SeedPlaylist(spotify_id("pl:alice:road"), "alice", "Road trip", "Seeded by the fake")
    for tid in users["alice"].top["medium_term"][:11]:
        road.items.append((f"spotify:track:{tid}", iso(now_ms - 86_400_000)[:19] + "Z", "alice"))
    road.items.append(("spotify:local:Alice%27s+Garage+Band::Demo+Tape:187",
                       iso(now_ms)[:19] + "Z", "alice"))
    classics = SeedPlaylist(spotify_id("pl:bob:classics"), "bob", "Bob's classics", public=True)
    for tid in users["bob"].top["long_term"][:20]:
        classics.items.append((f"spotify:track:{tid}", iso(now_ms)[:19] + "Z", "bob"))
    return Seed(tracks, users, {p.id: p for p in (road, classics)}, source)


def tracks_from_uris(uris: Iterable[str], tracks: dict[str, Track]) -> list[Track | None]:
    """Resolve ``spotify:track:<id>`` URIs to seeded tracks (None for unknown ones)."""
    out: list[Track | None] = []
    for uri in uris:
        tid = uri.rsplit(":", 1)[-1] if uri.startswith("spotify:track:") else None
        out.append(tracks.get(tid) if tid else None)
    return out
