"""The sign-in's Spotify read (profile + five history sources) with a network round trip.

Against the local fake Spotify with ``--latency-ms`` added to every Web API request (a stand-in
for Spotify's round trip: ~50-150 ms from a hosted app), times, alternating in one run:

- page after page: the profile, then each source following ``next`` one request at a time;
- sources at once: the profile, then the five sources side by side, each still page after page
  (the sign-in before the profile joined the fan-out and later pages were read by offset);
- the app's read (``spotify.history.fetch_profile_and_history``): the profile beside the
  sources' first pages, then every later page side by side.

Prints the p50 of each and the request count; a measurement, not a pass/fail. The fake's
listeners have at most a few hundred saved tracks: a 1,000-track library has 20 pages of saved
tracks where ``alice`` has 5. Run from the repository root::

    python bench/history_read.py [--latency-ms 150] [--reps 5] [--user alice]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spotify import history  # noqa: E402
from spotify.fanout import run_all  # noqa: E402
from tests.fake_spotify import FakeSpotify  # noqa: E402
from tests.spotify.test_history import client_for  # noqa: E402


def page_after_page(sp: Any) -> None:
    sp.me()
    for time_range in history.TIME_RANGES:
        history.fetch_top_tracks(sp, time_range)
    history.fetch_recently_played(sp)
    history.fetch_saved_tracks(sp)


def sources_at_once(sp: Any) -> None:
    sp.me()
    reads: list[Callable[[Any], Any]] = [
        *(lambda c, r=r: history.fetch_top_tracks(c, r) for r in history.TIME_RANGES),
        history.fetch_recently_played, history.fetch_saved_tracks,
    ]
    outcomes = run_all(sp, reads)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    if failed:
        raise failed[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=150.0, help="added to every Web API request")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--user", default="alice", help="a seeded listener of the fake")
    args = parser.parse_args()
    ways: dict[str, Callable[[Any], Any]] = {
        "page after page": page_after_page,
        "sources at once, pages in turn (before)": sources_at_once,
        "the app's read (profile beside, pages by offset)": history.fetch_profile_and_history,
    }
    with FakeSpotify(latency_s=args.latency_ms / 1000) as fake:
        sp = client_for(fake, args.user)
        times: dict[str, list[float]] = {name: [] for name in ways}
        requests: dict[str, int] = {}
        for _ in range(args.reps):  # alternating, so every way sees the same load
            for name, read in ways.items():
                before = len(fake.requests)
                start = time.perf_counter()
                read(sp)
                times[name].append(time.perf_counter() - start)
                requests[name] = len(fake.requests) - before
        saved = len(history.fetch_saved_tracks(sp))
    print(f"{args.user}: {saved} saved tracks; {args.latency_ms:g} ms per Web API request; "
          f"{args.reps} repetitions, alternating")
    for name in ways:
        print(f"  {name:50} p50 {statistics.median(times[name]):.2f} s  ({requests[name]} requests)")


if __name__ == "__main__":
    main()
