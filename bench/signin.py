"""Sign-in links under a flood of anonymous reruns: what grows, and what a link costs.

Every Home-page rerun of a signed-out visitor draws a "Sign in with Spotify" link. Before the
PKCE verifier was derived from the state (``spotify.auth.pkce_verifier``), each link stored one
in a process-wide table capped at 10,000 entries, so 10,000 anonymous reruns evicted a real
pending sign-in. This starts one sign-in, draws ``--reruns`` links for fresh sessions, then
finishes the first sign-in against the local fake Spotify and prints the process-wide entries,
whether the sign-in completed, and microseconds per link: a measurement, not a pass/fail.
PKCE (no client secret). Run from the repository root: ``python bench/signin.py [--reruns 20000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spotify import auth as sign_in  # noqa: E402
from tests.fake_spotify import FakeSpotify  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=20_000)
    args = parser.parse_args()
    with FakeSpotify(catalogue=None, auto_approve="alice") as fake:
        config = sign_in.AuthConfig(client_id="fake-client-id", state_secret="bench-secret",
                                    api_base=fake.api_base, accounts_base=fake.accounts_base)
        mine = sign_in.SpotifyAuth(config, {})
        url = mine.authorize_url()
        flood = sign_in.SpotifyAuth(config, {})
        start = time.perf_counter()
        for _ in range(args.reruns):
            flood.session.clear()  # a fresh anonymous session each time
            flood.authorize_url()
        per_link_us = (time.perf_counter() - start) / args.reruns * 1e6
        entries = len(sign_in.SEEN)  # the only process-wide sign-in record (used nonces)
        location = requests.get(url, allow_redirects=False, timeout=10).headers["Location"]
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        completed = mine.handle_callback(query) and mine.client().me()["id"] == "alice"
    print(f"{args.reruns} anonymous reruns: process-wide sign-in entries {entries}, "
          f"the first visitor's sign-in completed: {completed}, {per_link_us:.0f} us per link")


if __name__ == "__main__":
    main()
