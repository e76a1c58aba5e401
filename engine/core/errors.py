"""Exceptions whose message is meant for a person: one line naming the file, field or value."""


class EngineError(Exception):
    """Base class for errors the CLI prints as one line (exit code 2), without a traceback."""


class InputError(EngineError):
    """Input cannot be used: an unreadable file, a missing required column, nothing usable left."""


class BundleError(EngineError):
    """A model bundle is missing, incomplete, or does not match its manifest."""


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 300 characters) of a foreign exception."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__
