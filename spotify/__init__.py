"""Everything about Spotify: sign-in, the API client, listening history, playlists.

Nothing here knows the catalogue or the model; functions take a ``spotipy.Spotify`` first and
return small dataclasses.
"""
