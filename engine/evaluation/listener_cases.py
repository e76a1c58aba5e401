"""Held-out real listening, as the app would receive it: the cases of the real-listener evaluation.

A :class:`Case` is one listener's history as history items (what ``engine.core.matching``
reads: track id, title, artist, weight) plus the artists they play afterwards (normalized
names, :func:`engine.core.matching.normalize_artist`). Where the cases come from:

- :func:`hetrec_cases` — Last.fm HetRec 2011 users (real), artist level: each user's artists are
  mapped onto the catalogue by normalized name, and 20% of the mapped ones (seeded) are held out
  as the future; the history is every other artist as an artist-only item weighted by plays.
  The future is new artists by construction.
- :func:`hetrec_play_cases` — the same users with their *plays* split instead: each artist's
  play count is split binomially, 80% history / 20% future. A stand-in for a time split where
  plays are exchangeable over time (HetRec has no play times): most future plays go to artists
  already in the history, as in a real listener's next months, and a few to new ones.
- :func:`demo_cases` — the bundle's **synthetic** demo listeners with a time split (the first
  80% of each listener's time span is the history) when the interactions carry ``ts``, else a
  seeded 20% holdout of their tracks.
- :func:`export_case` — one Spotify data export already split by time; the export parser lives
  in ``spotify/`` (the engine may not import it), so ``scripts/evaluate_listeners.py`` reads and
  splits exports and hands the parts here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.core.config import Settings
from engine.core.errors import InputError
from engine.core.matching import normalize_artist
from engine.evaluation.datasets import need_raw, raw_data_dirs

#: Share of each listener's artists (HetRec), plays (HetRec plays) or time span held out.
HOLDOUT = 0.2
#: Listeners with fewer mapped artists / tracks are not evaluated (too little to split).
MIN_ITEMS = 5
#: The engine's own case sources (exports come from ``scripts/evaluate_listeners.py``).
CASE_SETS = ("hetrec", "hetrec-plays", "demo")


@dataclass(frozen=True)
class Item:
    """One history item, the fields ``engine.core.matching.match_history`` reads."""

    track_id: str | None
    title: str
    artist: str
    weight: float


@dataclass(frozen=True)
class Case:
    """One listener: the history as the app would receive it and the artists played afterwards."""

    user: str
    items: tuple[Item, ...]
    future: frozenset[str]

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError(f"case {self.user!r} has an empty history")


@dataclass(frozen=True)
class CaseSet:
    """The cases of one source, what they are, and how much of the source maps onto the catalogue."""

    name: str
    description: str
    cases: tuple[Case, ...]
    stats: Mapping[str, int | float]


def catalog_artist_names(items: pd.DataFrame) -> set[str]:
    """Normalized names of every artist credited on a catalogue track."""
    return {n for names in items["artists"].tolist() for n in map(normalize_artist, _names(names)) if n}


def read_hetrec(user_artists: Path, artists: Path) -> pd.DataFrame:
    """HetRec 2011 ``user_artists.dat`` joined with ``artists.dat``: ``user, artist, weight``.

    Rows whose artist id has no name, or whose weight is not a positive number, are dropped
    (counted in the frame's ``attrs["dropped"]``). A missing column raises an InputError naming
    the file and the column.
    """
    ua = _read_tsv(user_artists, ("userID", "artistID", "weight"))
    names = _read_tsv(artists, ("id", "name"))
    merged = ua.merge(names[["id", "name"]], left_on="artistID", right_on="id", how="inner")
    weight = pd.to_numeric(merged["weight"], errors="coerce")
    ok = weight.gt(0) & merged["name"].notna()
    out = pd.DataFrame({"user": "hetrec:" + merged["userID"].astype(str), "artist": merged["name"].astype(str),
                        "weight": weight.astype(float)})[ok.to_numpy()].reset_index(drop=True)
    out.attrs["dropped"] = int(len(ua) - int(ok.sum()))
    return out


def _read_tsv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    # quoting=3: artist names hold bare quotes (HetRec's files are not CSV-quoted).
    frame = pd.read_csv(path, sep="\t", quoting=3, dtype=str, keep_default_na=False)
    frame.columns = [c.strip() for c in frame.columns]
    for col in columns:
        if col not in frame.columns:
            raise InputError(f"{path}: no column {col!r} (has {', '.join(frame.columns)})")
    return frame


def _mapped(plays: pd.DataFrame, catalog: set[str]) -> pd.DataFrame:
    plays = plays.assign(norm=plays["artist"].map(normalize_artist))
    return plays.assign(mapped=plays["norm"].isin(catalog))


def _hetrec_stats(plays: pd.DataFrame, n_cases: int) -> dict[str, int | float]:
    per_user = plays[plays["mapped"]].groupby("user").size()
    return {
        "users": int(plays["user"].nunique()),
        "artists": int(plays["norm"].nunique()),
        "artists_mapped": int(plays.loc[plays["mapped"], "norm"].nunique()),
        "plays_share_mapped": round(float(plays.loc[plays["mapped"], "weight"].sum() / plays["weight"].sum()), 4),
        "users_with_a_mapped_artist": int(len(per_user)),
        "cases": n_cases,
    }


def hetrec_cases(plays: pd.DataFrame, catalog: set[str], *, seed: int = 42, holdout: float = HOLDOUT) -> CaseSet:
    """Per user with at least :data:`MIN_ITEMS` mapped artists: hold out ``holdout`` of them.

    ``plays`` is :func:`read_hetrec`'s frame; ``catalog`` the normalized artist names of the
    catalogue (:func:`catalog_artist_names`). Unmapped artists stay in the history (the app
    would see them too; they match nothing).
    """
    plays = _mapped(plays, catalog)
    rng = np.random.default_rng(seed)
    cases = []
    for user, rows in plays.groupby("user", sort=True):
        mapped = np.flatnonzero(rows["mapped"].to_numpy())
        if len(mapped) < MIN_ITEMS:
            continue
        held = rng.choice(mapped, size=max(1, round(holdout * len(mapped))), replace=False)
        keep = np.ones(len(rows), dtype=bool)
        keep[held] = False
        history = rows[keep]
        items = tuple(Item(None, "", a, float(w)) for a, w in zip(history["artist"], history["weight"]))
        cases.append(Case(str(user), items, frozenset(rows["norm"].to_numpy()[held].tolist())))
    what = (f"Last.fm HetRec 2011 (real listeners): {holdout:.0%} of each user's catalogue-mapped artists held out "
            f"(seed {seed}); history = the other artists, artist-only items weighted by plays")
    return CaseSet("hetrec", what, tuple(cases), _hetrec_stats(plays, len(cases)))


def hetrec_play_cases(plays: pd.DataFrame, catalog: set[str], *, seed: int = 42, holdout: float = HOLDOUT) -> CaseSet:
    """Per user with at least :data:`MIN_ITEMS` mapped artists: split every artist's plays.

    Each play goes to the future with probability ``holdout`` (a binomial draw per artist);
    history = artists with plays left, future = artists with at least one future play.
    """
    plays = _mapped(plays, catalog)
    rng = np.random.default_rng(seed)
    cases = []
    for user, rows in plays.groupby("user", sort=True):
        if int(rows["mapped"].sum()) < MIN_ITEMS:
            continue
        counts = np.maximum(1, np.round(rows["weight"].to_numpy())).astype(np.int64)
        future = rng.binomial(counts, holdout)
        left = counts - future
        items = tuple(Item(None, "", a, float(w)) for a, w in zip(rows["artist"], left) if w > 0)
        ahead = frozenset(n for n, f in zip(rows["norm"], future) if f > 0 and n)
        if items and ahead:
            cases.append(Case(str(user), items, ahead))
    what = (f"Last.fm HetRec 2011 (real listeners): each artist's plays split {1 - holdout:.0%} history / "
            f"{holdout:.0%} future (binomial, seed {seed}), a stand-in for a time split")
    return CaseSet("hetrec-plays", what, tuple(cases), _hetrec_stats(plays, len(cases)))


def demo_cases(
    interactions: pd.DataFrame, items: pd.DataFrame, *, seed: int = 42, holdout: float = HOLDOUT
) -> CaseSet:
    """Time split of ``user_id, track_id, weight[, ts]`` rows over the bundle's ``items``.

    With ``ts``: the history is each listener's rows in the first ``1 - holdout`` of their time
    span, the future the rest. Without: a seeded ``holdout`` share of their tracks. History
    items carry the catalogue's title and first artist, as an export with ids would.
    """
    for col in ("user_id", "track_id", "weight"):
        if col not in interactions.columns:
            raise InputError(f"demo interactions lack column {col!r} (have {', '.join(interactions.columns)})")
    meta = items.set_index("track_id")[["name", "artists"]]
    rows = interactions[interactions["track_id"].isin(meta.index)]
    timed = "ts" in rows.columns and rows["ts"].notna().all()
    rng = np.random.default_rng(seed)
    cases = []
    for user, group in rows.groupby("user_id", sort=True):
        if len(group) < MIN_ITEMS:
            continue
        if timed:
            ts = pd.to_datetime(group["ts"], utc=True)
            cut = ts.min() + (1 - holdout) * (ts.max() - ts.min())
            past = (ts <= cut).to_numpy()
        else:
            past = np.ones(len(group), dtype=bool)
            past[rng.choice(len(group), size=max(1, round(holdout * len(group))), replace=False)] = False
        if past.all() or not past.any():
            continue
        history, future = group[past], group[~past]
        hist_items = tuple(
            Item(t, str(meta.at[t, "name"]), _first(meta.at[t, "artists"]), float(w))
            for t, w in zip(history["track_id"], history["weight"]) if float(w) > 0
        )
        ahead = frozenset(n for t in future["track_id"] for n in map(normalize_artist, _names(meta.at[t, "artists"])) if n)
        if hist_items and ahead:
            cases.append(Case(str(user), hist_items, ahead))
    split = (f"time split: first {1 - holdout:.0%} of each listener's time span as history" if timed
             else f"no play times: {holdout:.0%} of each listener's tracks held out (seed {seed})")
    what = f"demo listeners (SYNTHETIC, and the demo model was trained on all their listening): {split}"
    stats = {"users": int(rows["user_id"].nunique()), "cases": len(cases), "timed": int(timed)}
    return CaseSet("demo", what, tuple(cases), stats)


def export_case(user: str, items: Iterable[Item], future_artists: Iterable[str]) -> Case:
    """A case from an export split by time: history items and the artist names played afterwards."""
    ahead = frozenset(n for n in map(normalize_artist, future_artists) if n)
    return Case(user, tuple(items), ahead)


def _names(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if value is None:
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, Iterable) else []  # type: ignore[arg-type]


def _first(value: object) -> str:
    names = _names(value)
    return names[0] if names else ""


def load_case_set(
    name: str,
    settings: Settings,
    items: pd.DataFrame,
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    data_dir: Path | None = None,
    seed: int = 42,
) -> CaseSet:
    """One of :data:`CASE_SETS` over a bundle's ``items``.

    HetRec files are looked for in ``data_dir``, else ``data/raw`` then ``SHARED_DATA_DIR``
    (``engine.evaluation.datasets.raw_data_dirs``). The demo listeners come from
    ``DATA_DIR/parquet/interactions_demo`` (with play times) when present, else from the
    bundle's ``tables["demo_history"]`` (without).
    """
    if name in ("hetrec", "hetrec-plays"):
        dirs = raw_data_dirs(settings, data_dir)
        plays = read_hetrec(need_raw(dirs, "hetrec2011_user_artists.dat.gz", "user_artists.dat"),
                            need_raw(dirs, "hetrec2011_artists.dat.gz", "artists.dat"))
        build = hetrec_cases if name == "hetrec" else hetrec_play_cases
        return build(plays, catalog_artist_names(items), seed=seed)
    if name == "demo":
        path = settings.parquet_dir / "interactions_demo"
        if path.exists():
            return demo_cases(pd.read_parquet(path), items, seed=seed)
        if tables and "demo_history" in tables:
            return demo_cases(tables["demo_history"], items, seed=seed)
        raise InputError(f"no demo listeners: {path} not found and the bundle has no demo_history table "
                         "(run `python -m engine prepare`)")
    raise InputError(f"--listeners {name!r}: expected one of {', '.join(CASE_SETS)} "
                     "(exports: scripts/evaluate_listeners.py --exports DIR)")
