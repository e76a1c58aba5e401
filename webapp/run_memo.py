"""What this script run already read: a memo that the next run starts without.

A page reads some things many times in one run (the stored likes; the serving recommender, once
per card) and must not keep them into the next run (the store, or the model's ``CURRENT``, may
have changed since). :func:`start_run`, at the top of every page (``widgets.page_setup``),
forgets the last run's values. Per browser session (``st.session_state``), so one listener's
values never sit in a cache shared by every visitor.

Its own module, below :mod:`webapp.session` (which owns every other session key): the cached
resources (:mod:`webapp.resources`), which session builds on, use it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import streamlit as st

T = TypeVar("T")

K_RUN = "run_memo"


def start_run() -> None:
    """A new script run: forget what the last one read."""
    st.session_state[K_RUN] = {}


def once_per_run(name: str, compute: Callable[[], T]) -> T:
    """``compute()`` the first time ``name`` is asked for in this run, the same value after."""
    memo = st.session_state.setdefault(K_RUN, {})
    if name not in memo:
        memo[name] = compute()
    return cast(T, memo[name])


def forget_run_value(name: str) -> None:
    """Drop ``name`` from this run's memo (after a write that changes it)."""
    st.session_state.get(K_RUN, {}).pop(name, None)
