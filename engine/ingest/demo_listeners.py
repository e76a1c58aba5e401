"""Deterministic, synthetic demo listeners for the embedded catalogue.

The product needs listening data to train on before anyone signs in; the demo listeners are
that data, and they are **synthetic** — the README, the app and the ``demo`` command's output say so.
They are built to make recommendations look sensible:

- A set of shared *taste centres* is drawn from the catalogue: a genre (tracks whose artists
  carry it), an era-and-sound neighbourhood (a decade plus an audio-feature region around
  an anchor track) or an artist neighbourhood (an artist's tracks and the tracks that sound
  and date like them). Centres are shared, so listeners form communities, which is what
  collaborative filtering learns from.
- Each listener takes 2-3 centres (popular centres more often) with Dirichlet mixture weights,
  a heavy-tailed number of distinct tracks (lognormal, median ~35), tracks drawn within each
  centre's pool in proportion to closeness x (popularity + 1), and heavy-tailed play counts
  (lognormal, larger for tracks close to the centre).
- Everything comes from one ``numpy`` generator seeded by ``seed``, over the catalogue sorted
  by ``track_id``: the same catalogue and seed give identical output.

:func:`make_demo_listeners` builds the interactions (``source = "demo"``, user ids ``demo:...``)
and a table describing each listener's centres; :func:`write_demo_listeners` writes them to
``data/parquet/interactions_demo`` and ``demo_listeners.parquet`` (``python -m engine demo`` and
``prepare``); :func:`demo_tables` returns both as the tables training ships inside the bundle;
:func:`load_tracks` reads the catalogue (canonical parquet or a Kaggle CSV). pandas/numpy only:
no Spark needed.

Synthetic full-size data for benchmarks lives in :mod:`engine.ingest.synthetic`
(:func:`~engine.ingest.synthetic.synthesize_catalog`,
:func:`~engine.ingest.synthetic.make_synthetic_interactions`), re-exported here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.schemas import INTERACTION_COLUMNS
from engine.ingest.synthetic import (
    kaggle_columns_present,
    make_synthetic_interactions,
    synthesize_catalog,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "DEFAULT_LISTENERS",
    "make_demo_listeners",
    "make_synthetic_interactions",
    "synthesize_catalog",
    "write_demo_listeners",
]

#: ~1,500 listeners x ~40 tracks: Spark ALS rank 32-64 trains in a minute or two on 2 cores.
DEFAULT_LISTENERS = 1500
SOURCE_DEMO = "demo"
USER_PREFIX = "demo:"
#: Features that place a track in "sound space" (standardized), plus the release year.
TASTE_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "acousticness",
    "instrumentalness",
    "valence",
    "speechiness",
    "loudness",
    "tempo",
)
YEAR_SCALE = 12.0  # years per standard unit in taste space: a decade is "close"
POOL_SIZE = 250  # tracks per era/sound or artist neighbourhood
MIN_GENRE_TRACKS = 15
_TS_START = pd.Timestamp("2025-01-01", tz="UTC")

_DESCRIPTORS = {  # (feature, direction) -> word for a centre's label
    ("acousticness", 1): "acoustic",
    ("energy", 1): "high-energy",
    ("energy", -1): "mellow",
    ("danceability", 1): "danceable",
    ("instrumentalness", 1): "instrumental",
    ("valence", 1): "upbeat",
    ("valence", -1): "melancholic",
    ("speechiness", 1): "spoken & rap",
    ("acousticness", -1): "electric",
    ("loudness", 1): "loud",
}


@dataclass
class _Centre:
    label: str
    pool: np.ndarray  # row indices
    prob: np.ndarray  # sampling probabilities over pool
    closeness: np.ndarray  # 0..1 per pool row


def _taste_space(tracks: pd.DataFrame) -> np.ndarray:
    cols = []
    for name in TASTE_FEATURES:
        x = pd.to_numeric(tracks[name], errors="coerce") if name in tracks else pd.Series(np.nan, index=tracks.index)
        x = x.fillna(x.median() if x.notna().any() else 0.0).to_numpy(dtype=np.float64)
        sd = x.std()
        cols.append((x - x.mean()) / (sd if sd > 0 else 1.0))
    year = _years(tracks)
    cols.append((year - year.mean()) / YEAR_SCALE)
    return np.column_stack(cols)


def _years(tracks: pd.DataFrame) -> np.ndarray:
    year = pd.to_numeric(tracks.get("release_year", pd.Series(np.nan, index=tracks.index)), errors="coerce")
    return year.fillna(year.median() if year.notna().any() else 2000).to_numpy(dtype=np.float64)


def _lists(values: pd.Series | None, n: int) -> list[list[str]]:
    if values is None:
        return [[] for _ in range(n)]
    out = []
    for v in values.tolist():
        if v is None or isinstance(v, float):
            out.append([])
        elif isinstance(v, str):
            out.append([v])
        else:
            out.append([str(x) for x in v])
    return out


def _descriptor(centre_vec: np.ndarray) -> str:
    scores = {}
    for (feature, sign), word in _DESCRIPTORS.items():
        scores[word] = sign * centre_vec[TASTE_FEATURES.index(feature)]
    return max(scores, key=lambda w: scores[w])


def _centre_from_pool(label: str, pool: np.ndarray, x: np.ndarray, centre: np.ndarray, pop_w: np.ndarray) -> _Centre:
    d = np.sqrt(((x[pool] - centre) ** 2).sum(axis=1))
    scale = np.median(d) + 1e-9
    closeness = np.exp(-0.5 * (d / scale) ** 2)
    prob = closeness * pop_w[pool]
    return _Centre(label, pool, prob / prob.sum(), closeness)


def _nearest(x: np.ndarray, centre: np.ndarray, k: int) -> np.ndarray:
    d = ((x - centre) ** 2).sum(axis=1)
    k = min(k, len(d))
    idx = np.argpartition(d, k - 1)[:k]
    return idx[np.lexsort((idx, d[idx]))]


def _make_centres(
    tracks: pd.DataFrame, x: np.ndarray, pop_w: np.ndarray, n_centres: int, rng: np.random.Generator
) -> list[_Centre]:
    n = len(tracks)
    years = _years(tracks)
    genres = _lists(tracks["genres"] if "genres" in tracks else None, n)
    artists = _lists(tracks["artist_names"] if "artist_names" in tracks else None, n)

    genre_rows: dict[str, list[int]] = {}
    for i, gs in enumerate(genres):
        for g in gs:
            genre_rows.setdefault(g, []).append(i)
    genre_names = sorted(g for g, rows in genre_rows.items() if len(rows) >= MIN_GENRE_TRACKS)
    artist_rows: dict[str, list[int]] = {}
    for i, names in enumerate(artists):
        if names:
            artist_rows.setdefault(names[0], []).append(i)
    artist_names = sorted(a for a, rows in artist_rows.items() if len(rows) >= 2)

    kinds = ["genre", "era", "artist"]
    kind_p = np.array([0.45, 0.40, 0.15]) * np.array([bool(genre_names), True, bool(artist_names)])
    centres: list[_Centre] = []
    used: set[str] = set()
    for _ in range(n_centres * 3):
        if len(centres) >= n_centres:
            break
        kind = kinds[rng.choice(3, p=kind_p / kind_p.sum())]
        if kind == "genre":
            sizes = np.array([len(genre_rows[g]) for g in genre_names], dtype=np.float64)
            g = genre_names[rng.choice(len(genre_names), p=np.sqrt(sizes) / np.sqrt(sizes).sum())]
            label, pool = g, np.array(genre_rows[g])
            centre = x[pool].mean(axis=0)
        elif kind == "era":
            anchor = int(rng.choice(n, p=pop_w / pop_w.sum()))
            centre = x[anchor]
            pool = _nearest(x, centre, POOL_SIZE)
            decade = int(np.median(years[pool]) // 10 * 10)
            label = f"{decade}s {_descriptor(x[pool].mean(axis=0))}"
        else:
            a_pop = np.array([pop_w[artist_rows[a]].sum() for a in artist_names])
            a = artist_names[rng.choice(len(artist_names), p=a_pop / a_pop.sum())]
            own = np.array(artist_rows[a])
            centre = x[own].mean(axis=0)
            pool = np.union1d(own, _nearest(x, centre, POOL_SIZE))
            label = f"{a} & similar"
        if label in used:
            continue
        used.add(label)
        centres.append(_centre_from_pool(label, pool, x, centre, pop_w))
    return centres


def make_demo_listeners(
    tracks_pdf: pd.DataFrame,
    *,
    n_listeners: int = DEFAULT_LISTENERS,
    seed: int = 42,
    mean_tracks: float = 40.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic listeners with clustered tastes over a catalogue.

    Parameters
    ----------
    tracks_pdf
        Canonical tracks (``track_id``, audio features, ``release_year``, ``popularity``;
        ``genres`` and ``artist_names`` lists used when present).
    n_listeners
        How many listeners (user ids ``demo:001``...).
    seed
        Same catalogue + seed -> identical output (row order of ``tracks_pdf`` does not matter).
    mean_tracks
        Mean number of distinct tracks per listener (heavy-tailed around it).

    Returns
    -------
    (interactions, listeners)
        ``interactions`` has the canonical columns (``source = "demo"``, weight = play
        count, ``ts`` within 2025, UTC); ``listeners`` has ``user_id, display_name,
        description, centres, n_tracks, n_plays``.
    """
    if n_listeners < 1:
        raise ValueError(f"n_listeners must be >= 1, got {n_listeners}")
    if "track_id" not in tracks_pdf.columns or len(tracks_pdf) < 20:
        raise ValueError("make_demo_listeners needs a tracks table with track_id and at least 20 rows")
    tracks = tracks_pdf.drop_duplicates("track_id").sort_values("track_id", kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    x = _taste_space(tracks)
    if "popularity" in tracks.columns:
        pop = pd.to_numeric(tracks["popularity"], errors="coerce").fillna(0).to_numpy(dtype=np.float64)
    else:
        pop = np.zeros(len(tracks))
    pop_w = pop.clip(0, 100) + 1.0  # popularity bias: a 60 is played ~6x as often as a 10
    n_centres = int(np.clip(len(tracks) // 80, 12, 400))
    centres = _make_centres(tracks, x, pop_w, n_centres, rng)
    # Some communities are bigger than others.
    centre_p = 1.0 / np.arange(1, len(centres) + 1) ** 0.7
    centre_p = centre_p[rng.permutation(len(centres))]
    centre_p /= centre_p.sum()

    width = max(3, len(str(n_listeners)))
    track_ids = tracks["track_id"].astype(str).to_numpy()
    users, items, plays, listeners = [], [], [], []
    seen_names: dict[str, int] = {}
    for u in range(n_listeners):
        k = 2 if rng.random() < 0.5 else 3
        chosen = rng.choice(len(centres), size=min(k, len(centres)), replace=False, p=centre_p)
        mix = np.sort(rng.dirichlet(np.full(len(chosen), 2.0)))[::-1]
        n_u = int(np.clip(round(rng.lognormal(np.log(mean_tracks) - 0.125, 0.5)), 10, 200))
        alloc = rng.multinomial(n_u, mix)
        picked: dict[int, float] = {}
        for c_idx, count in zip(chosen.tolist(), alloc.tolist()):
            c = centres[c_idx]
            count = min(count, len(c.pool))
            if count == 0:
                continue
            sel = rng.choice(len(c.pool), size=count, replace=False, p=c.prob)
            n_plays = np.ceil(rng.lognormal(0.3 + 1.0 * c.closeness[sel], 1.0)).clip(1, 500)
            for row, p in zip(c.pool[sel].tolist(), n_plays.tolist()):
                picked[row] = picked.get(row, 0.0) + p
        user_id = f"{USER_PREFIX}{u + 1:0{width}d}"
        rows = sorted(picked)
        users.extend([user_id] * len(rows))
        items.extend(rows)
        plays.extend(picked[r] for r in rows)
        labels = [centres[c].label for c in chosen.tolist()]
        # "soul & jazz", but "Elvis & similar + 1960s acoustic" when a label has its own "&".
        name = (" + " if any("&" in lab for lab in labels[:2]) else " & ").join(labels[:2])
        seen_names[name] = seen_names.get(name, 0) + 1
        if seen_names[name] > 1:
            name = f"{name} ({seen_names[name]})"
        shares = ", ".join(f"{w:.0%} {lab}" for w, lab in zip(mix.tolist(), labels))
        listeners.append(
            {
                "user_id": user_id,
                "display_name": name,
                "description": f"Synthetic demo listener: {shares}",
                "centres": labels,
                "n_tracks": len(rows),
                "n_plays": int(sum(picked.values())),
            }
        )
    seconds = rng.integers(0, 365 * 24 * 3600, size=len(users))
    interactions = pd.DataFrame(
        {
            "user_id": pd.Series(users, dtype=object),
            "track_id": track_ids[np.asarray(items, dtype=np.int64)],
            "weight": np.asarray(plays, dtype=np.float64),
            "source": SOURCE_DEMO,
            "ts": (_TS_START + pd.to_timedelta(seconds, unit="s")).astype("datetime64[us, UTC]"),
        },
        columns=list(INTERACTION_COLUMNS),
    )
    return interactions, pd.DataFrame(listeners)


# -- files and the CLI -------------------------------------------------------------------------


def load_tracks(path: str | Path) -> pd.DataFrame:
    """A catalogue for the demo: canonical tracks parquet (file or directory) or a Kaggle CSV."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no catalogue here; run `python -m engine ingest-catalog --sample` first")
    try:
        if ".csv" not in p.name.lower():
            return pd.read_parquet(p)
        df = pd.read_csv(p)
    except Exception as exc:  # pyarrow/pandas raise many kinds; name the file
        raise InputError(f"{p}: cannot be read as a catalogue ({str(exc).splitlines()[0][:200]})") from None
    if not kaggle_columns_present(df.columns):
        raise InputError(f"{p}: not a Kaggle tracks.csv (needs id, id_artists, release_date columns)")
    return df


def write_demo_listeners(
    spark: "SparkSession | None",
    settings: Settings,
    *,
    n_listeners: int = DEFAULT_LISTENERS,
    seed: int = 42,
    tracks_path: str | Path | None = None,
) -> tuple[Path, Path]:
    """Make the demo listeners from the canonical tracks and write them.

    Writes ``settings.parquet_dir/interactions_demo/part-00000.parquet`` (replaced) and
    ``settings.parquet_dir/demo_listeners.parquet``. ``spark`` is not needed (pandas reads the
    parquet); it is accepted so callers holding a session can pass it. Returns both paths.
    """
    tracks = load_tracks(tracks_path or settings.parquet_dir / "tracks")
    if "track_id" not in tracks.columns:
        raise InputError("the demo listeners need canonical tracks (run ingest-catalog), not a raw CSV")
    interactions, listeners = make_demo_listeners(tracks, n_listeners=n_listeners, seed=seed)
    out_dir = settings.parquet_dir / "interactions_demo"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    interactions.to_parquet(out_dir / "part-00000.parquet", index=False)
    listeners_path = settings.parquet_dir / "demo_listeners.parquet"
    listeners.to_parquet(listeners_path, index=False)
    return out_dir, listeners_path





def demo_tables(settings: Settings) -> dict[str, "object"]:
    """The demo listeners and their histories as pandas tables (shipped inside the bundle)."""

    listeners = pd.read_parquet(settings.parquet_dir / "demo_listeners.parquet")
    history = pd.read_parquet(settings.parquet_dir / "interactions_demo", columns=["user_id", "track_id", "weight"])
    return {"demo_listeners": listeners, "demo_history": history}
