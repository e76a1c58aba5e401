"""Synthetic, full-size data for performance work: a catalogue and interactions.

The full 586,672-track Kaggle catalogue is not available on every network, yet performance
work needs the real size. :func:`synthesize_catalog` generates a catalogue in the Kaggle
``tracks.csv`` format whose audio features, years, popularity and artist sizes follow a real
sample; :func:`make_synthetic_interactions` generates clustered, popularity-biased,
heavy-tailed listening data over any catalogue. Everything synthetic is labelled: track,
artist and user ids start with ``syn:`` (``engine.core.schemas.SYNTHETIC_ID_PREFIX``), which no
Spotify id can (they are 22 base-62 characters), and ``source`` is ``synthetic``.

How the catalogue follows the reference (all vectorized numpy):

- Each synthetic track copies one reference row's features (a smoothed bootstrap: continuous
  features get Gaussian noise of 5% of their spread, clipped to the observed range; years
  move by at most a couple of years; popularity by a few points), so marginals *and*
  correlations (energy vs acousticness vs loudness vs year) carry over.
- Artist sizes follow a truncated power law ``P(s) ~ s^-a`` whose exponent is fitted so that
  sampling the synthetic catalogue down to the reference's size reproduces the reference's
  share of artists seen once (the reference is treated as a uniform sample of the catalogue
  being generated, as the real 10k sample is of the real 586,672 tracks).
- An artist's tracks come from one neighbourhood of the reference (sorted by year, then
  energy), so an artist has an era and a sound; the neighbourhood widens with the artist's
  size (long careers).
- The number of artists per track and the release-date formats (``YYYY`` vs ``YYYY-MM-DD``)
  follow the reference's shares.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.core.schemas import AUDIO_FEATURES, INT_AUDIO_FEATURES, SYNTHETIC_ID_PREFIX
from engine.ingest.catalog_checks import TRACK_SOURCE_COLUMNS

#: Column order of the Kaggle tracks.csv (without the leading unnamed index column): what ingest reads.
KAGGLE_TRACK_COLUMNS = TRACK_SOURCE_COLUMNS
SOURCE_SYNTHETIC = "synthetic"
_BASE62 = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
_CONTINUOUS = tuple(f for f in AUDIO_FEATURES if f not in INT_AUDIO_FEATURES)


@dataclass
class Reference:
    """The columns of a real catalogue sample that synthesis needs, as arrays."""

    features: pd.DataFrame  # AUDIO_FEATURES, NaN filled with medians
    year: np.ndarray
    popularity: np.ndarray
    duration_ms: np.ndarray
    explicit: np.ndarray
    date_kind: np.ndarray  # 4 (YYYY), 7 (YYYY-MM) or 10 (full date), per row
    first_artist: np.ndarray  # primary artist id per row
    n_artists: np.ndarray
    name_words: np.ndarray
    artist_words: np.ndarray
    track_ids: np.ndarray


def _list_column(values: pd.Series) -> list[list[str]]:
    """Lists from list-like cells or Kaggle Python-literal strings (``"['a', 'b']"``)."""
    out = []
    for v in values.tolist():
        if isinstance(v, str):
            try:
                parsed = ast.literal_eval(v)
            except (ValueError, SyntaxError):
                parsed = [v]
            out.append([str(x) for x in parsed] if isinstance(parsed, (list, tuple)) else [str(parsed)])
        elif v is None or (isinstance(v, float) and np.isnan(v)):
            out.append([])
        else:
            out.append([str(x) for x in v])
    return out


def reference_from(pdf: pd.DataFrame, *, light: bool = False) -> Reference:
    """Read a catalogue in the canonical tracks format or the Kaggle ``tracks.csv`` format.

    ``light`` skips what only catalogue synthesis needs (artist lists, name vocabularies),
    which is the slow part on a full-size catalogue.
    """
    if "track_id" in pdf.columns:  # canonical (engine.core.schemas.TRACK_COLUMNS)
        ids, artist_ids, artist_names = pdf["track_id"], pdf["artist_ids"], pdf["artist_names"]
        year = pd.to_numeric(pdf["release_year"], errors="coerce")
    elif "id" in pdf.columns:  # Kaggle
        ids, artist_ids, artist_names = pdf["id"], pdf["id_artists"], pdf["artists"]
        dates = pdf["release_date"].astype(str)
        year = pd.to_numeric(dates.str[:4], errors="coerce")
        odd = year.isna()  # e.g. DD-MM-YYYY after a spreadsheet round trip: search the rest
        year[odd] = pd.to_numeric(dates[odd].str.extract(r"(\d{4})")[0], errors="coerce")
    else:
        raise ValueError(f"not a tracks table (no track_id or id column): {list(pdf.columns)}")
    missing = [c for c in (*AUDIO_FEATURES, "popularity") if c not in pdf.columns]
    if missing:
        raise ValueError(f"tracks table lacks columns {missing}")
    features = pdf[list(AUDIO_FEATURES)].apply(pd.to_numeric, errors="coerce")
    features = features.fillna(features.median()).fillna(0.0).reset_index(drop=True)
    year = year.fillna(year.median() if year.notna().any() else 2000).to_numpy(dtype=np.int64)
    if "release_date" in pdf.columns:
        date_len = pdf["release_date"].astype(str).str.len().to_numpy()
        date_kind = np.where(date_len <= 4, 4, np.where(date_len <= 7, 7, 10))
    else:
        date_kind = np.full(len(pdf), 10)
    if light:
        aid_lists: list[list[str]] = [[]] * len(pdf)
        words = a_words = pd.Series([], dtype=object)
    else:
        aid_lists = _list_column(artist_ids)
        name_lists = _list_column(artist_names)
        names = pdf["name"].astype(str) if "name" in pdf.columns else pd.Series([""] * len(pdf))
        words = names.str.findall(r"[^\W\d_]{2,}").explode().dropna()
        a_words = pd.Series([n for lst in name_lists for n in lst]).str.findall(r"[^\W\d_]{2,}")
        a_words = a_words.explode().dropna()
    explicit = pdf["explicit"] if "explicit" in pdf.columns else pd.Series(np.zeros(len(pdf)))
    duration = pdf["duration_ms"] if "duration_ms" in pdf.columns else pd.Series(np.full(len(pdf), 210_000))
    return Reference(
        features=features,
        year=year,
        popularity=pd.to_numeric(pdf["popularity"], errors="coerce").fillna(0).to_numpy(dtype=np.float64),
        duration_ms=pd.to_numeric(duration, errors="coerce").fillna(210_000).to_numpy(dtype=np.float64),
        explicit=explicit.astype(str).str.lower().isin(["1", "true"]).to_numpy(),
        date_kind=date_kind,
        first_artist=np.array([lst[0] if lst else "" for lst in aid_lists], dtype=object),
        n_artists=np.array([max(1, len(lst)) for lst in aid_lists]),
        name_words=np.array(sorted(set(words.tolist())) or ["Song"], dtype=object),
        artist_words=np.array(sorted(set(a_words.tolist())) or ["Artist"], dtype=object),
        track_ids=ids.astype(str).to_numpy(),
    )


def _style_order(ref: Reference) -> np.ndarray:
    """Row order by era first, then sound (energy): neighbours in it are similar tracks."""
    return np.lexsort((ref.features["energy"].to_numpy(), ref.year))


def _random_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct ``syn:`` + 22 base-62 ids (Spotify-like length, never a Spotify id)."""
    out = np.empty(0, dtype=object)
    while len(out) < n:
        codes = rng.integers(0, 62, size=(n - len(out), 22))
        chars = np.ascontiguousarray(_BASE62[codes]).view("<U22").ravel()
        out = pd.unique(np.concatenate([out, np.strings.add(SYNTHETIC_ID_PREFIX, chars).astype(object)]))
    return out[:n]


def _singleton_share(a: float, q: float, s_max: int) -> float:
    """Share of artists seen once among those seen at all, when a catalogue whose artist sizes
    follow ``s^-a`` (s <= s_max) is sampled at rate ``q``."""
    s = np.arange(1, s_max + 1, dtype=np.float64)
    w = s**-a
    seen = 1 - (1 - q) ** s
    once = s * q * (1 - q) ** (s - 1)
    return float((w * once).sum() / (w * seen).sum())


def fit_artist_exponent(ref: Reference, n_tracks: int) -> tuple[float, int]:
    """Power-law exponent and largest artist size so that thinning matches the reference."""
    counts = pd.Series(ref.first_artist).value_counts()
    target = float((counts == 1).mean())
    # The reference is treated as a uniform sample of the catalogue being generated.
    q = min(1.0, len(ref.first_artist) / n_tracks)
    s_max = int(min(max(1, n_tracks // 20), max(10, np.ceil(counts.max() / q))))
    grid = np.linspace(1.05, 4.0, 119)
    shares = np.array([_singleton_share(a, q, s_max) for a in grid])
    return float(grid[np.argmin(np.abs(shares - target))]), s_max


def _artist_sizes(rng: np.random.Generator, n_tracks: int, a: float, s_max: int) -> np.ndarray:
    """Sizes drawn from ``P(s) ~ s^-a`` until they cover ``n_tracks`` (the last one trimmed)."""
    s = np.arange(1, s_max + 1)
    p = s**-a
    p /= p.sum()
    sizes = np.empty(0, dtype=np.int64)
    while sizes.sum() < n_tracks:
        need = int((n_tracks - sizes.sum()) / (p * s).sum() * 1.1) + 10
        sizes = np.concatenate([sizes, rng.choice(s, size=need, p=p)])
    cum = np.cumsum(sizes)
    last = int(np.searchsorted(cum, n_tracks))
    sizes = sizes[: last + 1].copy()
    sizes[-1] -= cum[last] - n_tracks
    return sizes


def _join_slots(slots: np.ndarray, counts: np.ndarray, sep: str) -> np.ndarray:
    """Row i joins ``slots[i, :counts[i]]`` with ``sep`` (object arrays: Python string
    concatenation per element, much faster here than fixed-width numpy strings)."""
    slots = slots.astype(object)
    out = slots[:, 0].copy()
    for k in range(1, slots.shape[1]):
        more = counts > k
        out[more] = out[more] + sep + slots[more, k]
    return out


def _join_words(rng: np.random.Generator, vocab: np.ndarray, n: int, lo: int, hi: int) -> np.ndarray:
    """``n`` names of ``lo``-``hi`` words drawn from ``vocab``."""
    words = vocab.astype(object)
    picks = words[rng.integers(0, len(words), size=(n, hi))]
    return _join_slots(picks, rng.integers(lo, hi + 1, size=n), " ")


def synthesize_catalog(reference_pdf: pd.DataFrame, n_tracks: int, *, seed: int = 42) -> pd.DataFrame:
    """A synthetic catalogue of ``n_tracks`` in the Kaggle ``tracks.csv`` column format.

    Parameters
    ----------
    reference_pdf
        A real catalogue sample, canonical tracks format or Kaggle format.
    n_tracks
        Rows to generate (600k take a few seconds).
    seed
        Same seed, same output.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`KAGGLE_TRACK_COLUMNS`; ``artists``/``id_artists`` are Python-literal
        list strings as in the Kaggle file; ids and artist ids start with ``syn:``.
    """
    if n_tracks < 1:
        raise ValueError(f"n_tracks must be >= 1, got {n_tracks}")
    ref = reference_from(reference_pdf)
    rng = np.random.default_rng(seed)
    m = len(ref.year)
    order = _style_order(ref)

    a, s_max = fit_artist_exponent(ref, n_tracks)
    sizes = _artist_sizes(rng, n_tracks, a, s_max)
    n_artists = len(sizes)
    owner = np.repeat(np.arange(n_artists), sizes)
    rng.shuffle(owner)  # the file's row order should not group artists
    anchor = rng.uniform(0, m, size=n_artists)
    # An artist's tracks sit around its anchor in the (year, energy) order; reflecting at the
    # ends keeps every reference row equally likely, so marginals are preserved.
    # Big artists have long careers: their spread grows with the log of their size.
    spread = 0.015 * m * (1 + np.log10(sizes))
    pos = anchor[owner] + rng.normal(0, 1, size=n_tracks) * spread[owner]
    pos = np.abs(pos)
    pos = np.where(pos >= m, 2 * m - pos - 1e-9, pos)
    rows = order[np.clip(pos.astype(np.int64), 0, m - 1)]

    out: dict[str, object] = {}
    out["id"] = _random_ids(rng, n_tracks)
    out["name"] = _join_words(rng, ref.name_words, n_tracks, 1, 4)
    pop = ref.popularity[rows] + rng.normal(0, 3, size=n_tracks)
    out["popularity"] = np.clip(np.rint(pop), 0, 100).astype(np.int64)
    out["duration_ms"] = np.rint(ref.duration_ms[rows] * rng.lognormal(0, 0.1, size=n_tracks)).astype(np.int64)
    out["explicit"] = ref.explicit[rows].astype(np.int64)

    artist_ids = _random_ids(rng, n_artists)
    artist_names = _join_words(rng, ref.artist_words, n_artists, 1, 3)
    n_credit = ref.n_artists[rows]
    # Featured artists: drawn in proportion to artist size (big artists feature more).
    extra = np.searchsorted(np.cumsum(sizes) / sizes.sum(), rng.random((n_tracks, 3)), side="right")
    extra = np.minimum(extra, n_artists - 1)
    # Up to 4 credits: the owner, then distinct featured artists. Names and ids are letters
    # and digits only, so the Python-literal list strings can be assembled directly.
    slots = np.concatenate([owner[:, None], extra], axis=1)
    dup = np.zeros_like(slots, dtype=bool)
    for k in range(1, 4):
        dup[:, k] = (slots[:, k, None] == slots[:, :k]).any(axis=1)
    n_credit = np.minimum(n_credit, 4)
    # A duplicate featured artist shortens the list at that point.
    first_dup = np.where(dup.any(axis=1), dup.argmax(axis=1), 4)
    n_credit = np.minimum(n_credit, first_dup)
    for col, table in (("artists", artist_names), ("id_artists", artist_ids)):
        out[col] = "['" + _join_slots(table[slots], n_credit, "', '") + "']"

    years = np.clip(ref.year[rows] + np.rint(rng.normal(0, 0.7, size=n_tracks)), ref.year.min(), ref.year.max())
    years = years.astype(np.int64).astype(str).astype(object)
    two_digits = np.array([f"{i:02d}" for i in range(32)], dtype=object)
    year_month = years + "-" + two_digits[rng.integers(1, 13, size=n_tracks)]
    full = year_month + "-" + two_digits[rng.integers(1, 29, size=n_tracks)]
    kind = ref.date_kind[rows]
    out["release_date"] = np.where(kind == 4, years, np.where(kind == 7, year_month, full))

    feats = ref.features.to_numpy(dtype=np.float64)[rows]
    sd = ref.features.std().to_numpy()
    lo, hi = ref.features.min().to_numpy(), ref.features.max().to_numpy()
    for j, name in enumerate(AUDIO_FEATURES):
        if name in INT_AUDIO_FEATURES:
            out[name] = feats[:, j].astype(np.int64)
        else:
            noisy = feats[:, j] + rng.normal(0, 0.05 * sd[j], size=n_tracks)
            out[name] = np.round(np.clip(noisy, lo[j], hi[j]), 6)
    return pd.DataFrame(out, columns=list(KAGGLE_TRACK_COLUMNS))


def make_synthetic_interactions(
    tracks_pdf: pd.DataFrame,
    n_interactions: int,
    *,
    seed: int = 42,
    mean_per_user: float = 50.0,
    block_size: int = 400,
) -> pd.DataFrame:
    """``n_interactions`` synthetic (user, track) rows over ``tracks_pdf`` (benchmarks).

    Tracks are ordered by era and energy and cut into blocks of ``block_size`` ("tastes");
    each user gets 2-3 blocks (popular blocks more often), a heavy-tailed number of tracks
    (lognormal around ``mean_per_user``), tracks drawn within the blocks in proportion to
    ``popularity + 1``, and heavy-tailed play counts as weights. Vectorized: 8M rows take
    seconds.

    Returns
    -------
    pandas.DataFrame
        ``user_id`` (``syn:u<n>``), ``track_id``, ``weight``, ``source`` (``synthetic``),
        ``ts`` (null), exactly ``n_interactions`` distinct (user, track) pairs (fewer only
        when the catalogue cannot hold that many).
    """
    ref = reference_from(tracks_pdf, light=True)
    rng = np.random.default_rng(seed)
    n_items = len(ref.track_ids)
    order = _style_order(ref)
    n_blocks = max(1, int(np.ceil(n_items / block_size)))
    bounds = np.linspace(0, n_items, n_blocks + 1).astype(np.int64)
    cdf = np.concatenate([[0.0], np.cumsum(ref.popularity[order] + 1.0)])

    n_users = max(1, int(round(n_interactions / mean_per_user)))
    activity = rng.lognormal(0, 1.0, size=n_users)
    activity /= activity.sum()
    block_pop = 1.0 / np.arange(1, n_blocks + 1) ** 0.6
    block_pop = block_pop[rng.permutation(n_blocks)]
    block_pop /= block_pop.sum()
    user_blocks = rng.choice(n_blocks, size=(n_users, 3), p=block_pop)
    user_mix = rng.dirichlet(np.ones(3), size=n_users)
    user_mix[rng.random(n_users) < 0.5, 2] = 0.0  # half the users have two tastes
    user_mix /= user_mix.sum(axis=1, keepdims=True)
    mix_cdf = np.cumsum(user_mix, axis=1)

    keys = np.empty(0, dtype=np.int64)
    target = min(n_interactions, n_users * n_items)
    for _ in range(20):
        need = target - len(keys)
        if need <= 0:
            break
        draw = int(need * 1.15) + 100
        users = rng.choice(n_users, size=draw, p=activity)
        which = (rng.random(draw)[:, None] > mix_cdf[users]).sum(axis=1).clip(0, 2)
        block = user_blocks[users, which]
        lo, hi = cdf[bounds[block]], cdf[bounds[block + 1]]
        pos = np.searchsorted(cdf, lo + rng.random(draw) * (hi - lo), side="right") - 1
        items = order[np.clip(pos, bounds[block], bounds[block + 1] - 1)]
        new = users.astype(np.int64) * n_items + items
        keys = np.concatenate([keys, pd.unique(new[~np.isin(new, keys)])])
    keys = np.sort(keys[:target])
    users, items = np.divmod(keys, n_items)
    user_names = np.array([f"{SYNTHETIC_ID_PREFIX}u{i:07d}" for i in range(n_users)], dtype=object)
    return pd.DataFrame(
        {
            "user_id": user_names[users],
            "track_id": ref.track_ids[items].astype(object),
            "weight": np.ceil(rng.lognormal(0.3, 1.0, size=len(keys))).clip(1, 1000),
            "source": SOURCE_SYNTHETIC,
            "ts": pd.Series(pd.NaT, index=range(len(keys)), dtype="datetime64[us, UTC]"),
        }
    )


def kaggle_columns_present(columns: Sequence[str]) -> bool:
    """True when ``columns`` look like the Kaggle tracks.csv header."""
    return {"id", "id_artists", "release_date"}.issubset(columns)
