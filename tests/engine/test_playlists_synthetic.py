"""The synthetic playlist benchmark (engine.ingest.playlists_synthetic): its shape, no Spark.

The thresholds are the properties of the real playlist data the benchmark stands in for
(7,023 playlists x 67,660 tracks, 552,925 pairs after dropping tracks with < 2 playlists).
Each locality assertion is checked against a shuffled control, so it can fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from engine.core.schemas import INTERACTION_COLUMNS, SYNTHETIC_ID_PREFIX
from engine.ingest.playlists_synthetic import (
    SOURCE_PLAYLISTS,
    PlaylistShape,
    generate_playlists,
    make_playlists,
)


@pytest.fixture(scope="module")
def full():
    """The default size (about a second to generate)."""
    return generate_playlists(seed=42)


@pytest.fixture(scope="module")
def kept(full) -> pd.DataFrame:
    """What the evaluation keeps: tracks in at least 2 playlists."""
    df = full.interactions
    deg = df.groupby("track_id")["user_id"].transform("size")
    return df[deg >= 2]


def test_layout_ids_and_binary_weights(full) -> None:
    df = full.interactions
    assert list(df.columns) == list(INTERACTION_COLUMNS)
    assert (df["weight"] == 1.0).all() and (df["source"] == SOURCE_PLAYLISTS).all()
    assert df["user_id"].str.startswith(f"{SYNTHETIC_ID_PREFIX}pl").all()
    assert df["track_id"].str.startswith(f"{SYNTHETIC_ID_PREFIX}pt").all()
    assert not df.duplicated(["user_id", "track_id"]).any()
    assert str(df["ts"].dtype) == "datetime64[us, UTC]"
    # tracks are added in list order: ts strictly increases within a playlist
    assert (df.groupby("user_id")["ts"].diff().dropna() > pd.Timedelta(0)).all()


def test_deterministic_for_a_seed() -> None:
    a = make_playlists(n_playlists=400, seed=7)
    pd.testing.assert_frame_equal(a, make_playlists(n_playlists=400, seed=7))
    assert not a.equals(make_playlists(n_playlists=400, seed=8))


def test_default_size_matches_the_real_data(kept) -> None:
    assert kept["user_id"].nunique() >= 6_950
    assert 500_000 <= len(kept) <= 600_000
    assert 60_000 <= kept["track_id"].nunique() <= 75_000


def test_list_lengths_are_heavy_tailed(full) -> None:
    lengths = full.interactions.groupby("user_id").size()
    q10, q50, q90 = np.quantile(lengths, [0.1, 0.5, 0.9])
    assert 40 <= q50 <= 60
    assert lengths.min() >= 3 and lengths.max() <= 250  # 5-250 drawn; off-scene repeats may merge
    assert q90 >= 2.5 * q50 and q10 <= 0.4 * q50  # a long right tail, and short lists too
    assert (lengths >= 200).mean() > 0.02


def test_most_tracks_are_in_two_to_five_playlists(kept) -> None:
    deg = kept.groupby("track_id").size()
    assert ((deg >= 2) & (deg <= 5)).mean() >= 0.5
    # ... and the head is there but mild: no track in more than 10% of the playlists
    assert deg.max() >= 100 and deg.max() <= 0.10 * kept["user_id"].nunique()


def test_scenes_are_small(full) -> None:
    sizes = np.bincount(full.track_scene)
    assert sizes.min() >= 15 and sizes.max() <= 400
    assert 30 <= np.median(sizes) <= 120
    assert len(sizes) >= 500  # many scenes: more than ALS's rank can give one dimension each


def _matrix(df: pd.DataFrame, track_ids: np.ndarray) -> sp.csr_matrix:
    col = pd.Series(np.arange(len(track_ids)), index=track_ids)[df["track_id"]].to_numpy()
    row = pd.factorize(df["user_id"])[0]
    return sp.csr_matrix((np.ones(len(df)), (row, col)), shape=(row.max() + 1, len(track_ids)))


def _locality(df: pd.DataFrame, full, n_tracks: int = 400) -> tuple[float, float]:
    """For sampled tracks (in >= 3 playlists): the share of their 10 most co-listened tracks
    that are in the same scene, and the share of all their co-listenings within their genre."""
    X = _matrix(df, full.track_ids)
    deg = np.asarray(X.sum(axis=0)).ravel()
    sample = np.random.default_rng(0).choice(np.flatnonzero(deg >= 3), size=n_tracks, replace=False)
    co = (X[:, sample].T @ X).tocsr()  # sample x tracks co-occurrence counts
    top_same, genre_mass = [], []
    for r, t in enumerate(sample):
        cols, vals = co.indices[co.indptr[r] : co.indptr[r + 1]], co.data[co.indptr[r] : co.indptr[r + 1]]
        vals = np.where(cols == t, 0.0, vals)
        top = np.argsort(-vals, kind="stable")[:10]
        top_same.append((full.track_scene[cols[top]] == full.track_scene[t]).mean())
        genre_mass.append(vals[full.track_genre[cols] == full.track_genre[t]].sum() / vals.sum())
    return float(np.mean(top_same)), float(np.mean(genre_mass))


def test_co_listened_tracks_concentrate_in_the_scene(full) -> None:
    df = full.interactions
    top_same, genre_mass = _locality(df, full)
    # Control: the same rows with track ids shuffled across them (degrees kept, scenes lost).
    shuffled = df.assign(track_id=np.random.default_rng(1).permutation(df["track_id"].to_numpy()))
    control_top, control_genre = _locality(shuffled, full)
    assert top_same >= 0.6 and control_top <= 0.05
    assert genre_mass >= 0.3 and control_genre <= 0.05


def test_playlists_draw_mostly_from_a_few_scenes(full) -> None:
    df = full.interactions
    scene = pd.Series(full.track_scene, index=full.track_ids)[df["track_id"]].to_numpy()
    counts = pd.DataFrame({"p": df["user_id"].to_numpy(), "s": scene}).value_counts().reset_index(name="n")
    counts = counts.sort_values(["p", "n"], ascending=[True, False], kind="stable")
    top3 = counts[counts.groupby("p").cumcount() < 3].groupby("p")["n"].sum() / counts.groupby("p")["n"].sum()
    assert top3.median() >= 0.6  # the rest: off-scene noise and spill-over
    # and not from one scene only: the median list has at least 2 scenes with >= 3 tracks
    assert (counts["n"] >= 3).groupby(counts["p"]).sum().median() >= 2


def test_smaller_runs_keep_the_shape() -> None:
    small = generate_playlists(700, seed=3)
    assert len(np.bincount(small.track_scene)) == round(700 * PlaylistShape().scenes_per_playlist)
    lengths = small.interactions.groupby("user_id").size()
    assert 35 <= lengths.median() <= 65


def test_rejects_an_empty_benchmark() -> None:
    with pytest.raises(ValueError, match="n_playlists"):
        make_playlists(n_playlists=0)
