"""Exceptions whose message is meant for the listener: one sentence, never a secret or a token."""

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
