"""The rows of a JSON list, read as a stream: bounded in memory, depth and tokens.

``json.loads`` builds a whole file before anything can be checked: a 15 MB file of ``[{}, {},
...]`` is five million dicts (~400 MB), and one of ``[[[[...`` fails only with RecursionError.
:func:`json_rows` reads tokens instead (ijson, on the yajl C parser: ~5 M tokens a second here)
and keeps, of each row, only the fields asked for; nested values are skipped, not built. So
memory per row is bounded by the fields kept, and every token counts against the import's
``max_json_values``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, Protocol

import ijson

from spotify.export_files import CHUNK_BYTES
from spotify.export_limits import Budget, FileRefused

#: Value kept for a wanted field whose value is an array or an object (never a valid field).
NESTED: Final = object()
#: Tokens counted locally before they are charged to the budget (fewer calls per token).
_CHARGE_EVERY = 4096
_STARTS = ("start_map", "start_array")
_ENDS = ("end_map", "end_array")
# yajl's messages (first line, prefix dropped) -> what they mean for a listener.
_YAJL = {
    "premature EOF": "not valid JSON (the file ends in the middle)",
    "trailing garbage": "not valid JSON (there is text after the end of the list)",
    "invalid char in json text.": "not valid JSON (an unexpected character)",
    "invalid bytes in UTF8 string.": "not UTF-8 text",
    # yajl reads integers as 64-bit and floats as doubles: a longer number cannot be a play's.
    "integer overflow": "holds a number too long to read (an integer of more than 18 digits)",
    "numeric (floating point) overflow": "holds a number too large to read",
}


class Readable(Protocol):
    """A binary stream as ijson reads it."""

    def read(self, n: int = -1, /) -> bytes:
        """Up to ``n`` bytes; ``b""`` at the end."""
        ...


def syntax_sentence(exc: BaseException) -> str:
    """One line for a JSON syntax error of ijson/yajl (whose own message spans three lines)."""
    text = str(exc).strip().removeprefix("b'").removeprefix('b"')
    first = text.split("\\n", 1)[0].split("\n", 1)[0].strip()
    for prefix in ("parse error: ", "lexical error: "):
        first = first.removeprefix(prefix)
    return _YAJL.get(first) or f"not valid JSON ({first[:80]})"


def json_rows(stream: Readable, wanted: frozenset[str], budget: Budget) -> Iterator[dict[str, Any] | None]:
    """The elements of the top-level JSON list in ``stream``, one at a time.

    An object element gives a dict of its ``wanted`` keys (a nested value as :data:`NESTED`);
    any other element gives None.

    Raises
    ------
    FileRefused
        The document is not a list, is not valid JSON, or nests deeper than ``max_depth``.
    ImportStopped
        The import's ``max_json_values`` or ``max_rows`` was reached.
    """
    max_depth = budget.limits.max_depth
    events = ijson.basic_parse(stream, use_float=True, buf_size=CHUNK_BYTES)
    depth = 0  # 1 = inside the top-level list, 2 = inside one of its elements
    row: dict[str, Any] | None = None
    key: str | None = None
    uncharged = 0
    try:
        for event, value in events:
            uncharged += 1
            if uncharged >= _CHARGE_EVERY:
                budget.take_values(uncharged)
                uncharged = 0
            if depth == 2 and row is not None:  # a field of a row object: the common case first
                if event == "map_key":
                    key = value
                elif event == "end_map":
                    budget.take_row()
                    budget.take_values(uncharged)
                    uncharged = 0
                    yield row
                    row, depth = None, 1
                elif event in _STARTS:
                    if key in wanted:
                        row[key] = NESTED
                    depth = 3
                    if depth > max_depth:
                        raise FileRefused(f"nested deeper than {max_depth} levels, which no history file is")
                elif key in wanted:
                    row[key] = value
            elif depth == 1:
                if event == "start_map":
                    row, key, depth = {}, None, 2
                elif event == "start_array":
                    depth = 2
                elif event == "end_array":
                    depth = 0
                else:
                    budget.take_row()
                    yield None
            elif depth == 0:
                if event != "start_array":
                    raise FileRefused("expected a JSON list of plays")
                depth = 1
            elif event in _STARTS:
                depth += 1
                if depth > max_depth:
                    raise FileRefused(f"nested deeper than {max_depth} levels, which no history file is")
            elif event in _ENDS:
                depth -= 1
                if depth == 1:  # the end of a row that was an array
                    budget.take_row()
                    yield None
    except ijson.JSONError as exc:
        raise FileRefused(syntax_sentence(exc)) from None
    finally:
        budget.values += uncharged  # no raise here: the generator may be closing
