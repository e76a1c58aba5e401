"""Deterministic, **synthetic** playlist-shaped interactions: the ``--data playlists`` benchmark.

Real track-level playlist data (the dataset the project cannot ship) differs from artist play
counts: lists are short and coherent, most tracks sit in only 2-5 lists, and what predicts a
held-out track is *local* co-occurrence — the handful of other lists that hold the same album
or the same small scene. This module generates data with that shape, so anyone can reproduce
how models behave on it. How a playlist arises here:

- The catalogue is many small **scenes** (an artist's catalogue, a local genre, a label): sizes
  lognormal, 15-400 tracks (median ~:data:`SCENE_MEDIAN`). Each scene is cut into contiguous
  **albums** of 6-16 tracks. Scenes are grouped into **genres** of a few scenes each. Scene
  popularity is Zipf-like; inside a scene, track appeal is Zipf-like over a random order times a
  mild global popularity factor (lognormal), so a few tracks per scene are its hits.
- A playlist has a heavy-tailed length (lognormal, median ~57, clipped to 5-250), draws 1-3
  scenes (the first by popularity, the others mostly from the same genre) with Dirichlet shares,
  and fills each scene's share with, sometimes, a contiguous run of one album, then tracks drawn
  without replacement by appeal (Gumbel top-k). It takes at most 30% of a scene; the rest spills
  into further scenes, mostly of the genre (long lists span more scenes). A per-playlist share of
  0-50% is **off-scene** tracks drawn by global popularity (noise only popularity predicts).
- Membership is binary (``weight`` 1.0); ``ts`` follows the list's order (tracks added over
  days from a random creation time), so ``--split time`` works too.

Ids carry the synthetic prefix (``syn:pl…`` playlists, ``syn:pt…`` tracks; track numbers are
shuffled, so they reveal no scene) and ``source`` is ``playlists-synthetic``. Everything comes
from one ``numpy`` generator seeded by ``seed``: the same arguments give the identical frame.
The default size matches the real dataset after the evaluation's "< 2 listeners" filter
(~7,000 playlists, ~550k pairs, ~65k tracks); the number of scenes scales with
``n_playlists`` so smaller runs keep the shape. numpy/pandas only, no Spark.

:func:`make_playlists` returns the canonical interactions frame; :func:`generate_playlists` also
returns each track's scene and genre (for tests and analysis). The evaluation's loader is
``engine.evaluation.datasets.load_dataset(..., "playlists")``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from engine.core.schemas import INTERACTION_COLUMNS, SYNTHETIC_ID_PREFIX

SOURCE_PLAYLISTS = "playlists-synthetic"
PLAYLIST_PREFIX = f"{SYNTHETIC_ID_PREFIX}pl"
TRACK_PREFIX = f"{SYNTHETIC_ID_PREFIX}pt"
DEFAULT_PLAYLISTS = 7000
SCENE_MEDIAN = 60
_TS_START = pd.Timestamp("2020-01-01", tz="UTC")
_TS_SPAN_DAYS = 5 * 365


@dataclass(frozen=True)
class PlaylistShape:
    """The generator's knobs (defaults: the shape of the real playlist data)."""

    scenes_per_playlist: float = 0.16  # scenes in the catalogue per playlist generated
    scene_median: float = SCENE_MEDIAN  # tracks per scene (lognormal median)
    scene_sigma: float = 0.7
    scene_min: int = 15
    scene_max: int = 400
    scene_zipf: float = 0.6  # scene popularity ~ 1 / rank^a
    track_zipf: float = 0.6  # a track's appeal inside its scene ~ 1 / rank^a
    global_pop_sigma: float = 0.5  # mild global popularity: lognormal factor on appeal
    scenes_per_genre: float = 6.0  # mean scenes in a genre
    same_genre: float = 0.75  # chance that a playlist's 2nd/3rd scene comes from its 1st scene's genre
    n_scenes_p: tuple[float, float, float] = (0.35, 0.40, 0.25)  # P(1, 2, 3 scenes in a playlist)
    length_median: float = 57.0
    length_sigma: float = 0.95
    length_min: int = 5
    length_max: int = 250
    off_scene_max: float = 0.5  # per playlist, off-scene share ~ U(0, this)
    scene_fill: float = 0.3  # a playlist takes at most this share of one scene's tracks
    album_p: float = 0.2  # chance that a scene's share starts with a contiguous album run
    album_min: int = 6
    album_max: int = 16

    def to_dict(self) -> dict[str, object]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class PlaylistData:
    """Generated interactions plus the hidden structure behind them."""

    interactions: pd.DataFrame  # canonical INTERACTION_COLUMNS
    track_ids: np.ndarray  # every generated track (some may be in no playlist)
    track_scene: np.ndarray  # scene index per entry of track_ids
    track_genre: np.ndarray  # genre index per entry of track_ids
    playlist_scenes: list[list[int]]  # the scenes each playlist drew from


def make_playlists(
    n_playlists: int = DEFAULT_PLAYLISTS, seed: int = 42, shape: PlaylistShape | None = None
) -> pd.DataFrame:
    """Synthetic playlist memberships in the canonical interactions layout (see the module doc).

    Columns ``user_id`` (a playlist, ``syn:pl…``), ``track_id`` (``syn:pt…``), ``weight`` 1.0,
    ``source = "playlists-synthetic"``, ``ts`` (UTC). One row per (playlist, track); tracks in a
    single playlist are kept (the evaluation drops them, as it does for real data).
    """
    return generate_playlists(n_playlists, seed=seed, shape=shape).interactions


def _gumbel_top(log_w: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` indices drawn without replacement with probability ∝ exp(log_w) (Gumbel top-k)."""
    if k >= len(log_w):
        return np.arange(len(log_w))
    keys = log_w - np.log(-np.log(rng.random(len(log_w))))
    return np.argpartition(-keys, k - 1)[:k]


def _draw(cdf: np.ndarray, rng: np.random.Generator) -> int:
    """One index drawn with the probabilities whose cumulative sum is ``cdf``."""
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))


def generate_playlists(
    n_playlists: int = DEFAULT_PLAYLISTS, *, seed: int = 42, shape: PlaylistShape | None = None
) -> PlaylistData:
    """:func:`make_playlists` with the scenes and genres behind the data."""
    if n_playlists < 1:
        raise ValueError(f"n_playlists must be >= 1, got {n_playlists}")
    s = shape or PlaylistShape()
    rng = np.random.default_rng(seed)

    # -- the catalogue: scenes -> albums, genres, appeal ---------------------------------------
    n_scenes = max(3, round(n_playlists * s.scenes_per_playlist))
    sizes = np.clip(
        np.round(rng.lognormal(np.log(s.scene_median), s.scene_sigma, n_scenes)), s.scene_min, s.scene_max
    ).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    n_tracks = int(starts[-1])
    scene_of = np.repeat(np.arange(n_scenes), sizes)
    n_genres = max(1, round(n_scenes / s.scenes_per_genre))
    genre_of_scene = rng.integers(0, n_genres, n_scenes)
    scene_pop = 1.0 / np.arange(1, n_scenes + 1) ** s.scene_zipf
    scene_pop = scene_pop[rng.permutation(n_scenes)]
    scene_p = scene_pop / scene_pop.sum()
    scene_cdf = np.cumsum(scene_p)
    global_pop = rng.lognormal(0.0, s.global_pop_sigma, n_tracks)
    log_appeal = np.empty(n_tracks)
    album_starts: list[np.ndarray] = []  # per scene: album boundaries (local positions)
    for c in range(n_scenes):
        lo, n = int(starts[c]), int(sizes[c])
        rank = rng.permutation(n) + 1
        log_appeal[lo : lo + n] = -s.track_zipf * np.log(rank) + np.log(global_pop[lo : lo + n])
        cuts = np.cumsum(rng.integers(s.album_min, s.album_max + 1, size=n // s.album_min + 1))
        album_starts.append(np.concatenate([[0], cuts[cuts < n], [n]]))
    # Global popularity of a track for off-scene picks: its scene's popularity times its appeal.
    scene_top = np.maximum.reduceat(log_appeal, starts[:-1])
    glob_w = scene_p[scene_of] * np.exp(log_appeal - scene_top[scene_of])
    glob_cdf = np.cumsum(glob_w)
    glob_cdf /= glob_cdf[-1]
    scenes_in_genre = [np.flatnonzero(genre_of_scene == g) for g in range(n_genres)]

    # -- the playlists -------------------------------------------------------------------------
    lengths = np.clip(
        np.round(rng.lognormal(np.log(s.length_median), s.length_sigma, n_playlists)), s.length_min, s.length_max
    ).astype(np.int64)
    p_counts = np.asarray(s.n_scenes_p, dtype=np.float64)
    n_chosen = rng.choice(len(p_counts), size=n_playlists, p=p_counts / p_counts.sum()) + 1
    users: list[np.ndarray] = []
    items: list[np.ndarray] = []
    playlist_scenes: list[list[int]] = []
    def another_scene(chosen: list[int]) -> int | None:
        """A further scene: mostly from the first scene's genre, else any (by popularity)."""
        pool = scenes_in_genre[genre_of_scene[chosen[0]]]
        if rng.random() < s.same_genre and len(pool) > len(chosen):
            cand = pool[~np.isin(pool, chosen)]
            if len(cand):
                return int(cand[_draw(np.cumsum(scene_p[cand]), rng)])
        other = _draw(scene_cdf, rng)
        return None if other in chosen else other

    def fill(c: int, count: int) -> np.ndarray:
        """``count`` tracks of scene ``c``: maybe an album run first, then by appeal."""
        lo, n = int(starts[c]), int(sizes[c])
        run = np.empty(0, dtype=np.int64)
        if rng.random() < s.album_p:
            bounds = album_starts[c]
            a = int(rng.integers(0, len(bounds) - 1))
            a_lo, a_hi = int(bounds[a]), int(bounds[a + 1])
            take = min(count, int(rng.integers(max(1, (a_hi - a_lo) // 2), a_hi - a_lo + 1)))
            run = np.arange(a_lo, a_lo + take)
        log_w = log_appeal[lo : lo + n].copy()
        log_w[run] = -np.inf
        drawn = _gumbel_top(log_w, count - len(run), rng) if count > len(run) else np.empty(0, dtype=np.int64)
        drawn = drawn[np.isfinite(log_w[drawn])]
        return lo + np.concatenate([run, np.sort(drawn)])

    for p in range(n_playlists):
        chosen = [_draw(scene_cdf, rng)]
        for _ in range(int(n_chosen[p]) - 1):
            extra = another_scene(chosen)
            if extra is not None:
                chosen.append(extra)
        length = int(lengths[p])
        n_off = int(round(length * rng.random() * s.off_scene_max))
        shares = rng.multinomial(length - n_off, rng.dirichlet(np.full(len(chosen), 2.0))).tolist()
        picked: list[np.ndarray] = []
        surplus, i, tries = 0, 0, 0
        # A playlist takes at most `scene_fill` of a scene; what does not fit spills into the
        # next scene, and past the drawn ones into further scenes (long lists span a genre).
        while i < len(chosen):
            c = chosen[i]
            want = (shares[i] if i < len(shares) else 0) + surplus
            count = min(want, max(1, int(s.scene_fill * sizes[c])))
            surplus = want - count
            if count:
                picked.append(fill(c, count))
            i += 1
            while i == len(chosen) and surplus > 0 and tries < 20:
                tries += 1
                extra = another_scene(chosen)
                if extra is not None:
                    chosen.append(extra)
        playlist_scenes.append(chosen)
        if n_off:
            picked.append(np.searchsorted(glob_cdf, rng.random(n_off), side="right").clip(0, n_tracks - 1))
        tracks = pd.unique(np.concatenate(picked)) if picked else np.empty(0, dtype=np.int64)
        users.append(np.full(len(tracks), p, dtype=np.int64))
        items.append(np.asarray(tracks, dtype=np.int64))

    user_idx = np.concatenate(users)
    item_idx = np.concatenate(items)
    # ts: a creation time per playlist, then tracks added in list order, hours to days apart.
    created = rng.integers(0, _TS_SPAN_DAYS * 86400, size=n_playlists)
    gaps = rng.exponential(86400.0, size=len(user_idx)).astype(np.int64) + 1
    first_row = np.concatenate([[0], np.cumsum([len(u) for u in users])[:-1]])
    offsets = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first_row] - gaps[first_row], [len(u) for u in users])
    seconds = created[user_idx] + offsets

    width_p = max(5, len(str(n_playlists)))
    width_t = max(6, len(str(n_tracks)))
    track_number = rng.permutation(n_tracks)  # ids in shuffled order: the id reveals no scene
    track_ids = np.array([f"{TRACK_PREFIX}{i:0{width_t}d}" for i in track_number], dtype=object)
    playlist_ids = np.array([f"{PLAYLIST_PREFIX}{i:0{width_p}d}" for i in range(n_playlists)], dtype=object)
    interactions = pd.DataFrame(
        {
            "user_id": playlist_ids[user_idx],
            "track_id": track_ids[item_idx],
            "weight": np.ones(len(user_idx), dtype=np.float64),
            "source": SOURCE_PLAYLISTS,
            "ts": (_TS_START + pd.to_timedelta(seconds, unit="s")).astype("datetime64[us, UTC]"),
        },
        columns=list(INTERACTION_COLUMNS),
    )
    return PlaylistData(interactions, track_ids, scene_of, genre_of_scene[scene_of], playlist_scenes)
