"""A local fake of Spotify's accounts service and Web API, for tests and offline manual use.

In tests::

    from tests.fake_spotify import FakeSpotify

    with FakeSpotify(auto_approve="alice") as fake:
        fake.api_base        # "http://127.0.0.1:PORT/v1/"  -> spotipy's ``prefix``
        fake.accounts_base   # "http://127.0.0.1:PORT"      -> /authorize, /api/token
        fake.fail_next(2, 429, retry_after=1)
        fake.requests        # every request received (method, path, url, query, json, user...)

Standalone, with a seeded account built from the catalogue sample::

    python -m tests.fake_spotify --port 8777 [--auto-approve alice]

Seeded users: ``alice`` (a few hundred tracks), ``bob`` (older taste), ``carol`` (no history).
Client: id ``fake-client-id``, secret ``fake-client-secret`` (PKCE works without the secret).
``GET /_test/token?user=alice`` returns a valid access token (this fake only).
"""

from tests.fake_spotify.server import FakeSpotify
from tests.fake_spotify.state import DEFAULT_CLIENTS, KNOWN_SCOPES, RecordedRequest

__all__ = ["DEFAULT_CLIENTS", "FakeSpotify", "KNOWN_SCOPES", "RecordedRequest"]
