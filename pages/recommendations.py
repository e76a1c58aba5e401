"""Recommendations: your mix, "More from artists you love", "New to you"; cards with reasons,
"Why this?", previews and like/dislike; controls (and the familiarity ↔ discovery dial) in the
sidebar; "Edit your taste" above the cards; "Mixes by taste" and the Blend with a second
listener below them."""

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from engine.serving.listens import Listens
from engine.serving.results import PATH_POPULARITY, PATH_SEEDS, Recommendations, TasteLists
from webapp import actions, blend_view, resources, session, widgets
from webapp.cards import md_escape
from webapp.listeners import (
    EXPLICIT_CHOICES,
    LIST_VIEWS,
    Listener,
    RecControls,
    full_range_is_none,
    list_caption,
    list_title,
)


def sidebar_controls(items: pd.DataFrame, labels: dict[int, str]) -> bool:
    """The "Tune" sidebar; stores the controls and returns the "show every player" toggle."""
    saved = session.controls()
    dated = items.loc[items["year"] > 0, "year"]
    years = (int(dated.min()), int(dated.max())) if len(dated) else (1900, 2030)
    with st.sidebar:
        st.header("Tune")
        discovery = st.slider("Familiar ↔ New", 0.0, 1.0, saved.discovery, 0.1, key="ctl_discovery",
                              help="Your mix: the share of songs by artists you have not played yet.")
        k = st.slider("How many", 5, 50, saved.k, step=5, key="ctl_k")
        novelty = st.slider("Novelty", 0.0, 1.0, saved.novelty, 0.05, key="ctl_novelty",
                            help="Higher values favour lesser-known tracks.")
        per_artist = st.slider("At most per artist", 1, 5, saved.max_per_artist, key="ctl_per_artist")
        era = st.slider("Era", years[0], years[1], saved.year_range or years, key="ctl_era")
        energy = st.slider("Energy", 0.0, 1.0, saved.energy_range or (0.0, 1.0), 0.05, key="ctl_energy")
        explicit = st.radio("Explicit lyrics", list(EXPLICIT_CHOICES), index=list(EXPLICIT_CHOICES).index(saved.explicit),
                            horizontal=True, key="ctl_explicit")
        clusters = st.multiselect("Sound", sorted(labels), default=list(saved.clusters), key="ctl_clusters",
                                  format_func=lambda c: f"{c}: {labels[c]}", placeholder="Any sound")
        show_players = st.toggle("Show every player", key="ctl_players",
                                 help="Loads Spotify's player on every card (slower).")
    view = st.segmented_control("List", LIST_VIEWS, default=saved.view, format_func=list_title, key="ctl_view",
                                label_visibility="collapsed") or saved.view
    session.set_controls(RecControls(
        k=k, novelty=novelty, max_per_artist=per_artist, year_range=full_range_is_none(era, years),
        energy_range=full_range_is_none(energy, (0.0, 1.0)), explicit=explicit, clusters=tuple(clusters),
        discovery=discovery, view=view,
    ))
    return bool(show_players)


def header(listener: Listener) -> None:
    """Who the list is for and how much of their history the catalogue knows."""
    match = listener.match
    st.caption(f"For **{md_escape(listener.label)}**" + (" (a synthetic demo listener)" if listener.synthetic else "")
               + (f" — {match.sentence} ({match.breakdown})" if match else ""))


def list_summary(lists: TasteLists, result: Recommendations) -> None:
    """What each list is: its share of new artists and popularity percentile, the shown one first."""
    view = session.controls().view
    st.caption(f"**{md_escape(list_title(view))}**: {md_escape(list_caption(lists.stats.get(view)))}")
    others = [v for v in LIST_VIEWS if v != view and v in lists.stats]
    if others:
        st.caption(" · ".join(f"{md_escape(list_title(v))}: {md_escape(list_caption(lists.stats[v]).split(' (')[0])}"
                              for v in others))
    feedback = actions.feedback()
    if feedback.liked_tracks or feedback.disliked_tracks or feedback.disliked_artists:
        st.caption(f"Your feedback shapes this list: {len(feedback.liked_tracks)} liked, "
                   f"{len(feedback.disliked_tracks)} disliked songs, {len(feedback.disliked_artists)} hidden artists.")
    if result.path == PATH_POPULARITY:
        st.info("None of your songs are in the model yet, so these are popular tracks. "
                "Pick a few songs on the Home page to steer them.")
    elif result.path == PATH_SEEDS:
        st.caption("Based on the songs and artists you picked.")


def cards(listener: Listener, frame: pd.DataFrame, *, why: Mapping[str, Listens], show_players: bool) -> None:
    """The recommendation cards, two per row in rank order, each with its "Why this?" listens."""
    if not len(frame):
        st.warning("No songs pass these filters. Widen the era or energy range, or clear the sound filter.")
        return
    widgets.card_styles()
    ids = frame["track_id"].tolist()
    images, covers = actions.known_artwork(ids, listener), {}
    for position, row in enumerate(frame.to_dict("records")):
        if position % 2 == 0:  # one row of two cards at a time keeps reading (and DOM) order = rank order
            grid = st.columns(2)
        with grid[position % 2]:
            covers[row["track_id"]] = widgets.track_card(
                row, verb=listener.verb, image=images.get(row["track_id"]), position=position,
                show_player=show_players, why=why.get(row["track_id"]))
    # Album art Spotify has to be asked for fills in after the cards are on the screen.
    for track_id, url in actions.artwork(ids, listener).items():
        if track_id not in images:
            widgets.set_cover(covers[track_id], url)
    st.page_link("pages/playlists.py", label="Save these as a playlist", icon=":material/queue_music:")


listener = widgets.require_listener()
labels = resources.cluster_labels()
st.title("Recommendations")
players = sidebar_controls(resources.recommender().bundle.items, labels)
header(listener)
with st.spinner("Finding songs…"):
    lists, result, frame = actions.taste_lists(listener)
list_summary(lists, result)
widgets.taste_editor(listener)
cards(listener, frame, why=actions.listens(listener, frame["track_id"].tolist()), show_players=players)
widgets.mixes_section(listener)
blend_view.blend_section(listener)
