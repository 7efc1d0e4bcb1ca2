"""Errors that reach a user as one readable line instead of a traceback."""

import unicodedata
from typing import Any


class BenchError(ValueError):
    """Base for every user-facing error: the message names the file, flag or value."""


class DataError(BenchError):
    """A dataset folder, image file or cache entry is not what was expected."""


class ConfigError(BenchError):
    """A run config, profile or command-line flag is not what was expected."""


def one_line(text: object) -> str:
    """`text` with every character that breaks a line or steers a terminal (control
    characters, and U+0085, U+2028, U+2029, which `splitlines` also breaks at) shown as its
    escape (`\\n`, `\\x1b`, `\\u2028`): a file name from the data holding one must not
    split an `error:` line in two or forge a line of its own."""
    return "".join(
        c.encode("unicode_escape").decode("ascii")
        if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
        for c in str(text)
    )


def reader_went_away(stream: Any = None) -> int:
    """Exit code for a BrokenPipeError on stdout (`describe | head`): not an error of ours.

    Points the stream (stdout by default) at /dev/null so the interpreter's flush at exit does
    not complain again, and returns 141 (128 + SIGPIPE), what a shell tool that the pipe killed
    would report.
    """
    import os
    import sys

    try:
        fileno = (stream or sys.stdout).fileno()
    except (OSError, ValueError, AttributeError):  # a stream without a descriptor (a test's)
        return 141
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)
    return 141


class PipeSafe:
    """A text stream that outlives its reader: `compare 2>&1 | head -1` closes the pipe while
    the matrix still runs, and a progress line must not fail the cells or stop the report.
    After the first BrokenPipeError the stream's descriptor points at /dev/null and
    `reader_gone` is set, so the command can still end with 141 like other Unix tools."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._gone()

    def _gone(self) -> None:
        self.reader_gone = True
        reader_went_away(self.stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
