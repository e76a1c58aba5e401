"""Share codes (webapp.share_code): what a code carries, and one sentence for every bad code."""

from __future__ import annotations

import pytest

from engine.serving.listening import Listening
from webapp.share_code import (
    MAX_ARTISTS,
    MAX_CODE_CHARS,
    MAX_TRACKS,
    PREFIX,
    TTL_S,
    ShareCodec,
    ShareCodeError,
)

NOW = 1_780_000_000.0


def codec(secret: str = "state-secret", *, at: float = NOW) -> ShareCodec:
    return ShareCodec(secret, clock=lambda: at)


def history(n: int = 80, n_artists: int = 40) -> Listening:
    tracks = {f"{i:022d}": float(1 + (i * 37) % 101) + 0.123456 for i in range(n)}
    return Listening(tracks=tracks, artists={f"artist {i}": float(i + 1) for i in range(n_artists)})


def one_sentence(exc: pytest.ExceptionInfo[ShareCodeError]) -> str:
    text = str(exc.value)
    assert text.endswith(".") and "\n" not in text and text.count(". ") == 0, text
    return text


def test_a_code_carries_the_top_tracks_and_artists_and_nothing_else() -> None:
    h = history()
    code = codec().make(h, name="  Bob   the   listener ")
    assert code.startswith(PREFIX)
    taste = codec(at=NOW + 3600).read(code)
    top = sorted(h.tracks, key=lambda t: (-h.tracks[t], t))[:MAX_TRACKS]
    assert list(taste.tracks) == top
    assert all(taste.tracks[t] == pytest.approx(h.tracks[t], rel=5e-3) for t in top)  # 3 significant digits
    assert set(taste.artists) == {f"artist {i}" for i in range(40 - MAX_ARTISTS, 40)}
    assert taste.name == "Bob the listener"
    assert taste.expires is not None and taste.expires.timestamp() == pytest.approx(NOW + TTL_S)
    assert taste.listening() == Listening(tracks=dict(taste.tracks), artists=dict(taste.artists))


def test_the_largest_code_stays_well_within_the_bound() -> None:
    h = Listening(tracks={f"{i:x}".rjust(22, "Z"): 1.0 + i for i in range(5_000)},
                  artists={f"an artist name of forty characters {i:05d}": 2.0 + i for i in range(5_000)})
    code = codec().make(h, name="x" * 500)
    assert len(code) < MAX_CODE_CHARS // 2
    taste = codec().read(code)
    assert len(taste.tracks) == MAX_TRACKS and len(taste.artists) == MAX_ARTISTS and len(taste.name) == 40


def test_a_code_pasted_across_lines_still_reads() -> None:
    code = codec().make(history())
    assert codec().read("\n".join(code[i:i + 60] for i in range(0, len(code), 60)) + "  ").tracks


def test_an_expired_code_says_when_it_was_made() -> None:
    code = codec().make(history())
    assert codec(at=NOW + TTL_S - 1).read(code).tracks
    with pytest.raises(ShareCodeError) as exc:
        codec(at=NOW + TTL_S + 1).read(code)
    assert "expired" in one_sentence(exc) and "7 days" in str(exc.value)


@pytest.mark.parametrize("where", ["payload", "signature", "timestamp"])
def test_a_changed_code_does_not_check_out(where: str) -> None:
    code = codec().make(history())
    payload, stamp, signature = code[len(PREFIX):].rsplit(".", 2)
    flip = {"payload": (payload, 10), "signature": (signature, 5), "timestamp": (stamp, 2)}[where]
    part, at = flip
    changed = part[:at] + ("A" if part[at] != "A" else "B") + part[at + 1:]
    tampered = PREFIX + ".".join(changed if p is part else p for p in (payload, stamp, signature))
    assert tampered != code
    with pytest.raises(ShareCodeError) as exc:
        codec().read(tampered)
    assert "does not check out" in one_sentence(exc)


def test_another_apps_code_does_not_check_out() -> None:
    with pytest.raises(ShareCodeError) as exc:
        codec("another secret").read(codec().make(history()))
    assert "does not check out" in one_sentence(exc)


def test_an_oversized_code_is_refused_before_anything_is_read() -> None:
    with pytest.raises(ShareCodeError) as exc:
        codec().read(PREFIX + "A" * MAX_CODE_CHARS)
    assert "too long" in one_sentence(exc) and f"{MAX_CODE_CHARS:,}" in str(exc.value)


@pytest.mark.parametrize("garbage", ["", "hello", "mr1.", "mr1.abc", "mr1.a.b", "mr1.a.b.c.d", "mr1.a b.c",
                                     "eyJ2IjoxfQ.AAAA.BBBB", "mr1.<script>.x.y", "\x00\x01", "🎵🎵🎵"])
def test_garbage_gets_one_sentence(garbage: str) -> None:
    with pytest.raises(ShareCodeError) as exc:
        codec().read(garbage)
    assert one_sentence(exc)


def test_a_well_formed_but_unsigned_token_does_not_check_out() -> None:
    with pytest.raises(ShareCodeError) as exc:
        codec().read("mr1.eyJ2IjoxfQ.aGVsbG8.c2lnbmF0dXJl")
    assert "does not check out" in one_sentence(exc)


def test_a_code_of_another_version_says_so() -> None:
    with pytest.raises(ShareCodeError) as exc:
        codec().read("mr2." + codec().make(history())[len(PREFIX):])
    assert "another version" in one_sentence(exc)


@pytest.mark.parametrize("payload", [
    [1, 2], {"v": 2, "t": [], "a": []}, {"v": 1, "t": "x", "a": []}, {"v": 1, "t": [["id", -1]], "a": []},
    {"v": 1, "t": [["id", float("inf")]], "a": []}, {"v": 1, "t": [["", 1]], "a": []},
    {"v": 1, "t": [["id", True]], "a": []}, {"v": 1, "t": [["id", 1]] * (MAX_TRACKS + 1), "a": []},
])
def test_a_signed_payload_of_the_wrong_shape_is_refused(payload: object) -> None:
    c = codec()
    code = PREFIX + c._serializer.dumps(payload)  # signed with the right key, but not a taste
    with pytest.raises(ShareCodeError) as exc:
        c.read(code)
    assert "could not be read" in one_sentence(exc)


def test_without_a_secret_codes_are_signed_per_process() -> None:
    code = codec("").make(history())
    assert codec("").read(code).tracks
    with pytest.raises(ShareCodeError):
        codec("state-secret").read(code)
