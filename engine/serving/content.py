"""Content signals for serving: audio-feature similarity, genres, artists (no ALS needed).

These reach every catalogue track, including those nobody has played (no ALS factors), and
power two things:

- cold start, when a listener has no history the ALS model knows: a profile built from what
  they chose on the page (tracks, artists, genres, audio clusters) scores every item with
  :class:`ColdStartWeights`;
- the content half of similar songs (``Recommender.similar``, blended in
  :mod:`engine.serving.hybrid`).

Audio vectors are the bundle's standardized features (the KMeans scaler's space, so cluster
centroids live in it too); similarity is cosine in that space, i.e. the direction of a track's
deviation from the catalogue average.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from engine.serving.rerank import ItemArrays, invert_csr, list_codes, unique_sorted


@dataclass(frozen=True)
class ColdStartWeights:
    """How the cold-start score combines its signals (each roughly in [0, 1]).

    score = audio·cos(track, profile) + genre·overlap + artist·[by a chosen artist]
            + cluster·[in a chosen cluster] + popularity·popularity

    A signal without seeds contributes nothing. Popularity keeps obscure near-duplicates of the
    profile from crowding out tracks people actually play.
    """

    audio: float = 1.0
    genre: float = 1.0
    artist: float = 0.5
    cluster: float = 0.5
    popularity: float = 0.3


@dataclass(frozen=True)
class Seeds:
    """What a listener chose, resolved to catalogue codes (unknown ones listed by name)."""

    tracks: np.ndarray
    artists: np.ndarray
    genres: tuple[str, ...]
    clusters: tuple[int, ...]
    unknown: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(len(self.tracks) or len(self.artists) or self.genres or self.clusters)


@dataclass(frozen=True)
class SeedScores:
    """Per-item cold-start scores and the components an explanation reads."""

    total: np.ndarray
    audio: np.ndarray | None
    genre: np.ndarray | None
    genres: frozenset[str]
    artist_items: np.ndarray
    cluster_set: frozenset[int]


class ContentIndex:
    """Audio vectors, genre and artist postings of a catalogue; heavy parts built on first use."""

    def __init__(
        self,
        items: pd.DataFrame,
        audio: np.ndarray,
        arrays: ItemArrays,
        kmeans: dict[str, Any],
    ) -> None:
        self._items = items
        self.audio = audio
        self.has_audio = items["has_audio"].to_numpy(dtype=bool)
        self.arrays = arrays
        self.kmeans = kmeans

    # -- audio ----------------------------------------------------------------------------

    @cached_property
    def audio_norms(self) -> np.ndarray:
        """‖a_i‖ (0 for items without audio)."""
        norms = np.linalg.norm(np.asarray(self.audio, dtype=np.float32), axis=1)
        return np.where(self.has_audio, norms, 0.0).astype(np.float32)

    def audio_cosine(self, vector: np.ndarray) -> np.ndarray:
        """Cosine of every item's audio vector with ``vector`` (NaN where an item has no audio)."""
        vector = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        dots = self.audio @ vector
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = dots / (self.audio_norms * norm)
        cos[~self.has_audio | (self.audio_norms == 0)] = np.nan
        return cos if norm > 0 else np.full(len(cos), np.nan, dtype=np.float32)

    def centroid(self, cluster: int) -> np.ndarray | None:
        """A cluster's centre in the audio space (KMeans centroid, else its items' mean)."""
        centroids = self.kmeans.get("centroids") or []
        if 0 <= cluster < len(centroids) and len(centroids[cluster]) == self.audio.shape[1]:
            return np.asarray(centroids[cluster], dtype=np.float32)
        members = np.flatnonzero((self.arrays.cluster == cluster) & self.has_audio)
        return np.asarray(self.audio[members], dtype=np.float32).mean(axis=0) if len(members) else None

    # -- genres and artists -------------------------------------------------------------

    @cached_property
    def _genres(self) -> tuple[np.ndarray, np.ndarray, dict[str, int], np.ndarray, np.ndarray]:
        ptr, codes, uniques = list_codes(self._items["genres"])
        lookup = {str(g).strip().casefold(): c for c, g in enumerate(uniques)}
        inv_ptr, inv_items = invert_csr(ptr, codes, len(uniques))
        return ptr, codes, lookup, inv_ptr, inv_items

    @cached_property
    def genre_names(self) -> np.ndarray:
        """Genre labels, indexed by genre code."""
        _, _, lookup, _, _ = self._genres
        names = np.empty(len(lookup), dtype=object)
        for name, code in lookup.items():
            names[code] = name
        return names

    @cached_property
    def genre_counts(self) -> np.ndarray:
        """Number of genres of each item (0: genres unknown)."""
        ptr, _, _, _, _ = self._genres
        return np.diff(ptr)

    def genres_of(self, item: int) -> list[str]:
        """Normalized genres of one item."""
        ptr, codes, _, _, _ = self._genres
        return [self.genre_names[c] for c in codes[ptr[item] : ptr[item + 1]]]

    def genre_overlap(self, genres: Iterable[str]) -> np.ndarray:
        """Binary-set cosine ``|G_i ∩ G| / sqrt(|G_i|·|G|)`` of every item with ``genres``."""
        ptr, _, lookup, inv_ptr, inv_items = self._genres
        wanted = {lookup[g] for g in genres if g in lookup}
        hits = np.zeros(len(ptr) - 1, dtype=np.float32)
        for code in wanted:
            np.add.at(hits, inv_items[inv_ptr[code] : inv_ptr[code + 1]], 1.0)
        sizes = np.diff(ptr).astype(np.float32)
        with np.errstate(invalid="ignore", divide="ignore"):
            overlap = hits / np.sqrt(sizes * max(1, len(wanted)))
        return np.nan_to_num(overlap, nan=0.0)

    @cached_property
    def _artist_items(self) -> tuple[np.ndarray, np.ndarray]:
        return invert_csr(self.arrays.artist_ptr, self.arrays.artist_codes, len(self.arrays.artist_ids))

    @cached_property
    def _artist_lookup(self) -> dict[str, list[int]]:
        lookup: dict[str, list[int]] = {}
        for code, artist_id in enumerate(self.arrays.artist_ids.tolist()):
            lookup.setdefault(str(artist_id), []).append(code)
        for code, name in enumerate(self.arrays.artist_names.tolist()):
            if name:
                lookup.setdefault(str(name).strip().casefold(), []).append(code)
        return lookup

    def artist_codes(self, keys: Iterable[str]) -> tuple[np.ndarray, list[str]]:
        """Resolve artist ids or names (case-insensitive) to codes; also return unknown keys."""
        keys = [str(key) for key in keys]
        groups = self.artist_code_lists(keys)
        found = [code for codes in groups for code in codes]
        unknown = [key for key, codes in zip(keys, groups) if not codes]
        return np.unique(np.asarray(found, dtype=np.int64)), unknown

    def artist_code_lists(self, keys: Iterable[str]) -> list[list[int]]:
        """Per key, the distinct codes it names (an artist id, or a name case-insensitively;
        ascending, empty when unknown; new lists, the lookup's own are never handed out):
        :meth:`artist_codes` key by key, in plain Python (a Spotify export names hundreds of
        artists: numpy per key cost ~15 µs each)."""
        lookup = self._artist_lookup
        out: list[list[int]] = []
        for key in keys:
            key = str(key)
            codes = lookup.get(key) or lookup.get(key.strip().casefold()) or []
            out.append(list(codes) if len(codes) < 2 else sorted(set(codes)))
        return out

    def items_of_artists(self, codes: np.ndarray) -> np.ndarray:
        """Item indices of every track by any of the artist ``codes``."""
        inv_ptr, inv_items = self._artist_items
        parts = [inv_items[inv_ptr[c] : inv_ptr[c + 1]] for c in np.asarray(codes, dtype=np.int64)]
        return unique_sorted(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    # -- cold start ---------------------------------------------------------------------

    def resolve_seeds(
        self,
        *,
        tracks: np.ndarray,
        artists: Iterable[str],
        genres: Iterable[str],
        clusters: Iterable[int],
        unknown_tracks: Iterable[str] = (),
    ) -> Seeds:
        """Turn page choices into :class:`Seeds` (artist ids/names, genre labels, cluster ids)."""
        artist_codes, unknown = self.artist_codes(artists)
        _, _, lookup, _, _ = self._genres
        genre_keys = tuple(dict.fromkeys(str(g).strip().casefold() for g in genres))
        unknown += [g for g in genre_keys if g not in lookup]
        k = int(self.kmeans.get("k", 0) or (self.arrays.cluster.max() + 1))
        cluster_ids = tuple(dict.fromkeys(int(c) for c in clusters))
        unknown += [f"cluster {c}" for c in cluster_ids if not 0 <= c < k]
        return Seeds(
            tracks=np.asarray(tracks, dtype=np.int64),
            artists=artist_codes,
            genres=tuple(g for g in genre_keys if g in lookup),
            clusters=tuple(c for c in cluster_ids if 0 <= c < k),
            unknown=tuple(unknown_tracks) + tuple(unknown),
        )

    def seed_scores(self, seeds: Seeds, weights: ColdStartWeights = ColdStartWeights()) -> SeedScores:
        """Score every item against the seeds (see :class:`ColdStartWeights`)."""
        n = len(self.arrays.popularity)
        artist_items = self.items_of_artists(seeds.artists) if len(seeds.artists) else np.zeros(0, dtype=np.int64)
        # The audio profile: one vector per chosen track, per artist (mean of their tracks)
        # and per cluster (its centroid), averaged so each choice counts once.
        vectors = [np.asarray(self.audio[t], dtype=np.float32) for t in seeds.tracks if self.has_audio[t]]
        for code in seeds.artists:
            own = self.items_of_artists(np.array([code]))
            own = own[self.has_audio[own]]
            if len(own):
                vectors.append(np.asarray(self.audio[own], dtype=np.float32).mean(axis=0))
        for c in seeds.clusters:
            centre = self.centroid(c)
            if centre is not None:
                vectors.append(centre)
        total = weights.popularity * self.arrays.popularity.astype(np.float64)
        audio = None
        if vectors:
            audio = self.audio_cosine(np.mean(vectors, axis=0))
            total += weights.audio * np.nan_to_num(audio, nan=0.0)
        genre_set = set(seeds.genres)
        for item in np.concatenate([seeds.tracks, artist_items]).tolist():
            genre_set.update(self.genres_of(item))
        genre = None
        if genre_set:
            genre = self.genre_overlap(genre_set)
            total += weights.genre * genre
        if len(artist_items):
            total[artist_items] += weights.artist
        if seeds.clusters:
            total += weights.cluster * np.isin(self.arrays.cluster, seeds.clusters)
        return SeedScores(
            total=total if len(total) == n else np.zeros(n),
            audio=audio,
            genre=genre,
            genres=frozenset(genre_set),
            artist_items=artist_items,
            cluster_set=frozenset(seeds.clusters),
        )
