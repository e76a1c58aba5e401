"""The "Mixes by taste" section's words and tables, without Streamlit.

The mixes themselves are :func:`engine.serving.mixes.build_mixes`; this module decides which of
the page's request they follow (:func:`mix_request`), turns a mix into card rows and CSV
(:func:`mix_frame`), says what it is (:func:`mix_title`, :func:`mix_caption`), and names its
Spotify playlist (:func:`playlist_name`). Saved mixes are recognised by that name
(:func:`is_mix_playlist`), so saving the Recommendations list never overwrites a saved mix and
saving a mix again replaces the one saved under its name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import pandas as pd

from engine.serving.listening import artist_weights_of
from engine.serving.mixes import MIN_ENTRIES, MIN_SHARE, Mix, MixPlan
from engine.serving.options import Options
from engine.serving.recommender import Recommender
from webapp.listeners import list_caption

#: Every mix's playlist name starts with this (Spotify shows names up to 100 characters).
MIX_PLAYLIST_PREFIX = "Taste mix · "
MAX_PLAYLIST_NAME = 100
#: What the section says a mix is.
ABOUT = (f"One mix per sound that holds at least {MIN_SHARE:.0%} of your listening (and {MIN_ENTRIES} of your "
         "songs): more from your artists in that sound, with a few artists new to you.")
EMPTY_MIX = "Nothing left to play in this sound: you have heard (or left out) all of it."
NO_MIXES = (f"No sound holds {MIN_SHARE:.0%} of your listening with {MIN_ENTRIES} songs or more yet, so there "
            "are no mixes. Listen to (or pick) a few more songs.")


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_Record = TypeVar("_Record", bound=_Named)


@dataclass
class MixMemo:
    """What one session keeps of its last mixes request: the plans, and the mixes built so far
    (by cluster). A new request (another taste, bundle or options) starts an empty one."""

    plans: tuple[MixPlan, ...] | None = None
    built: dict[int, Mix] = field(default_factory=dict)


def mix_request(options: Options) -> Options:
    """The request the mixes start from: the lists' taste (likes, dislikes, hidden artists,
    exclusions, the explicit filter) without the sidebar's era, energy, sound and novelty,
    which tune the lists above; each mix then sets its own cluster, length and dial."""
    return dataclasses.replace(options, year_range=None, energy_range=None, clusters=None, novelty=0.0,
                               freshness=0.0)


def mix_key(version: str, history: Mapping[str, float], options: Options) -> Hashable:
    """A hashable key of one mixes request: the bundle version, the history (tracks and
    artist-only weights) and the options; equal requests give equal mixes."""
    tracks = tuple(sorted((str(t), float(w)) for t, w in history.items()))
    artists = tuple(sorted((str(a), float(w)) for a, w in artist_weights_of(history).items()))
    return version, tracks, artists, options


def mix_frame(rec: Recommender, mix: Mix) -> pd.DataFrame:
    """``Recommender.frame`` of the mix's tracks plus ``new`` (by an artist absent from the history)."""
    frame = rec.frame(mix.tracks)
    frame["new"] = list(mix.new)
    return frame


def mix_title(mix: Mix | MixPlan) -> str:
    """``"Fast, high energy · hip hop — 33% of your listening"`` (plain text)."""
    return f"{mix.name} — {mix.share:.0%} of your listening"


def mix_caption(mix: Mix) -> str:
    """``"20 songs · from 9 of your songs in this sound · 25% new artists · popularity …"``."""
    songs = f"{len(mix)} song{'s' if len(mix) != 1 else ''}"
    yours = f"from {mix.entries} of your songs and artists in this sound"
    return f"{songs} · {yours} · {list_caption(mix.stats)}"


def playlist_name(mix: Mix) -> str:
    """The mix's Spotify playlist name: :data:`MIX_PLAYLIST_PREFIX` + its name, at most 100 characters."""
    name = MIX_PLAYLIST_PREFIX + mix.name
    return name if len(name) <= MAX_PLAYLIST_NAME else name[: MAX_PLAYLIST_NAME - 1].rstrip() + "…"


def playlist_description(mix: Mix) -> str:
    """The playlist's description: what the mix is made of."""
    return (f"Made by the music recommender from the {mix.share:.0%} of your listening that sounds "
            f"{mix.sound}; {mix.stats.share_new:.0%} new artists.")


def is_mix_playlist(name: str) -> bool:
    """True for a playlist saved from a mix (by its name)."""
    return str(name).startswith(MIX_PLAYLIST_PREFIX)


def playlists_to_update(records: Sequence[_Record], *, name: str, mix: bool) -> list[_Record]:
    """The saved playlists a save may replace, newest first: for a mix, the ones saved under
    the same name; for any other list, every saved playlist that is not a mix."""
    return [r for r in records if r.name == name] if mix else not_mixes(records)


def not_mixes(records: Sequence[_Record]) -> list[_Record]:
    """The saved playlists that are not mixes, in their order (what the Playlists page updates)."""
    return [r for r in records if not is_mix_playlist(r.name)]
