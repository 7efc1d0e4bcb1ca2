"""Errors that reach a user as one readable line instead of a traceback."""


class BenchError(ValueError):
    """Base for every user-facing error: the message names the file, flag or value."""


class DataError(BenchError):
    """A dataset folder, image file or cache entry is not what was expected."""


class ConfigError(BenchError):
    """A run config, profile or command-line flag is not what was expected."""
