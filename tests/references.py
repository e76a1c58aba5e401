"""Plain-loop references that tests hold the vectorised serving code to.

Written the slow, obvious way and apart from :mod:`engine.serving`, so that a test comparing the
two is not comparing the code with itself.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence


def capped_walk(credits: Iterable[Sequence[Hashable]], k: int, cap: int | None) -> list[int]:
    """The greedy artist cap: walk the candidates in order (each given by its credited artists)
    and keep one unless an artist of it already has ``cap`` picks, until ``k`` are kept.
    Returns the kept candidates' positions; a ``cap`` of 0 or None keeps every candidate."""
    kept: list[int] = []
    counts: dict[Hashable, int] = {}
    for position, artists in enumerate(credits):
        if cap and any(counts.get(a, 0) >= cap for a in artists):
            continue
        for a in artists:
            counts[a] = counts.get(a, 0) + 1
        kept.append(position)
        if len(kept) == k:
            break
    return kept
