"""Errors that reach a user as one readable line instead of a traceback."""


class BenchError(ValueError):
    """Base for every user-facing error: the message names the file, flag or value."""


class DataError(BenchError):
    """A dataset folder, image file or cache entry is not what was expected."""


class ConfigError(BenchError):
    """A run config, profile or command-line flag is not what was expected."""


def reader_went_away() -> int:
    """Exit code for a BrokenPipeError on stdout (`describe | head`): not an error of ours.

    Points stdout at /dev/null so the interpreter's flush at exit does not complain again, and
    returns 141 (128 + SIGPIPE), what a shell tool that the pipe killed would report.
    """
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141
