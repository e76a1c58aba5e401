"""``python -m tests.fake_spotify --port N``: run the fake Spotify for manual use of the app."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from tests.fake_spotify.server import FakeSpotify
from tests.fake_spotify.state import DEFAULT_CLIENTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_spotify", description=__doc__)
    parser.add_argument("--port", type=int, default=8777, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--catalogue", default="auto",
                        help="tracks CSV(.gz) to seed from; 'auto' = data/sample, else $SHARED_DATA_DIR, "
                             "'generated' = made-up tracks")
    parser.add_argument("--auto-approve", metavar="USER", help="approve sign-ins at once as this user")
    parser.add_argument("--client-id", default=next(iter(DEFAULT_CLIENTS)))
    parser.add_argument("--client-secret", default=DEFAULT_CLIENTS[next(iter(DEFAULT_CLIENTS))])
    parser.add_argument("--full-fields", action="store_true",
                        help="include fields Spotify removed for development-mode apps (popularity...)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")

    catalogue = None if args.catalogue == "generated" else args.catalogue
    fake = FakeSpotify(port=args.port, catalogue=catalogue, auto_approve=args.auto_approve,
                       dev_mode=not args.full_fields, clients={args.client_id: args.client_secret or None})
    fake.start()
    users = ", ".join(f"{u.id} ({len(u.history_track_ids())} tracks)" for u in fake.seed.users.values())
    print(f"Fake Spotify on {fake.base_url}  (catalogue: {fake.seed.source})\n"
          f"Seeded users: {users}\n"
          f"Point the app at it (.env):\n"
          f"  SPOTIFY_API_BASE={fake.api_base}\n"
          f"  SPOTIFY_ACCOUNTS_BASE={fake.accounts_base}\n"
          f"  SPOTIFY_CLIENT_ID={args.client_id}\n"
          f"  SPOTIFY_CLIENT_SECRET=<the client secret, or leave empty for PKCE>\n"
          f"A token for scripts: curl '{fake.base_url}/_test/token?user=alice'\n"
          f"Ctrl-C to stop.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
