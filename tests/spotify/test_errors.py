"""spotify.errors: SpotifyRefused carries the status and a sentence for the listener."""

from __future__ import annotations

from spotify.errors import SpotifyError, SpotifyRefused, refusal_sentence


def test_refusals_are_sentences_with_their_status() -> None:
    forbidden = SpotifyRefused(status=403)
    assert isinstance(forbidden, SpotifyError) and forbidden.status == 403
    assert str(forbidden).startswith("Spotify refused access (HTTP 403).") and "user list" in str(forbidden)
    assert str(SpotifyRefused(status=404)) == refusal_sentence(404) == (
        "Spotify could not find that item (HTTP 404); reload the page and try again.")
    assert str(SpotifyRefused(status=418)) == "Spotify answered with an error (HTTP 418); please try again in a moment."
    own = SpotifyRefused("Spotify cannot use 'x' as a track id, URI or link.")
    assert own.status is None and str(own).startswith("Spotify cannot use")
