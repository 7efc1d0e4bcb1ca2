"""Names from the data, made safe for the Markdown (and the HTML it may hold) of a report.

A folder or file name can hold a backtick, `<img onerror=...>` or a newline. Written as they
are, they would open a code span that swallows the rest of a line, inject raw HTML, or forge
a heading. Ordinary names come out unchanged, so a report of well-named data reads the same.
"""

from __future__ import annotations

import re

from common_data.errors import one_line

# Markdown punctuation that can open or close inline markup; `_` is left alone: inside a word
# (hud_only) it never emphasises, and escaping it would clutter every such name.
_MARKUP = re.compile(r"([\\`*\[\]|])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def visible_controls(text: str) -> str:
    """Newlines, tabs and other line breaks as their escapes (`\\n`): one line stays one."""
    return one_line(text)


def md_text(text: object) -> str:
    """`text` for running Markdown: markup characters backslash-escaped, HTML as entities."""
    escaped = _MARKUP.sub(r"\\\1", str(text))
    escaped = "".join(_HTML.get(c, c) for c in escaped)
    return visible_controls(escaped)


def md_code(text: object) -> str:
    """`text` as an inline code span nothing in it can close: the fence is one backtick longer
    than the longest run inside (HTML is never interpreted inside a code span)."""
    body = visible_controls(str(text))
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"
