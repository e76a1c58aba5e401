"""Exceptions whose message is meant for the listener: one sentence, never a secret or a token.

spotipy's own exceptions stop inside ``spotify/``: :mod:`spotify.client` turns every one into
a type from here, so callers catch :class:`SpotifyError` and show ``str(exc)``.
"""

from __future__ import annotations


class SpotifyError(Exception):
    """Base class: something about Spotify went wrong; ``str(exc)`` can be shown as is."""


class AuthError(SpotifyError):
    """Sign-in failed or is needed again (bad or expired ``state``, refused code, revoked token)."""


class SpotifyUnavailable(SpotifyError):
    """Spotify is rate-limiting us, failing, or unreachable beyond what we are willing to wait.

    ``retry_after`` is the number of seconds Spotify asked us to wait, when it said.
    """

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class ExportError(SpotifyError):
    """A Spotify data export (zip or JSON) could not be read at all."""


class SpotifyRefused(SpotifyError):
    """Spotify answered a request with an error that retrying will not fix (a 4xx, mostly).

    ``status`` is the HTTP status (None when spotipy refused the request before sending it);
    ``str(exc)`` is a sentence for the listener (:func:`refusal_sentence` unless given).
    """

    def __init__(self, message: str | None = None, *, status: int | None = None) -> None:
        super().__init__(message or refusal_sentence(status))
        self.status = status


def refusal_sentence(status: int | None) -> str:
    """What to tell the listener when Spotify refuses a request with HTTP ``status``."""
    if status == 403:
        return ("Spotify refused access (HTTP 403). If this app is in Spotify's development mode, your account "
                "must be on its user list; otherwise sign out and sign in again to grant the permissions.")
    if status == 404:
        return "Spotify could not find that item (HTTP 404); reload the page and try again."
    return f"Spotify answered with an error (HTTP {status}); please try again in a moment."
