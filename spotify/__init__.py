"""Everything about Spotify: sign-in, the API client, listening history, playlists, ids.

Nothing here knows the catalogue, the model or the app: ``spotify/`` never imports
``engine``, ``webapp`` or streamlit. Functions take a client from :mod:`spotify.client`
first and return small dataclasses; failures are :mod:`spotify.errors` types (spotipy's
exceptions do not leave the package); :mod:`spotify.ids` is the one home of id, URI and
open.spotify.com link shapes.
"""
