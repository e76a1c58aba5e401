"""Exceptions whose message is meant for a person: one line naming the file, field or value."""


class EngineError(Exception):
    """Base class for errors the CLI prints as one line (exit code 2), without a traceback."""


class InputError(EngineError):
    """Input cannot be used: an unreadable file, a missing required column, nothing usable left."""


class BundleError(EngineError):
    """A model bundle is missing, incomplete, or does not match its manifest."""
