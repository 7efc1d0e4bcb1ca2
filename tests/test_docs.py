"""The README stays short and the documentation stays connected.

The README answers what the tool is for and gives the two commands; everything else lives in
`docs/*.md`, one page per topic. These checks keep that shape: the README fits in 250 lines,
every relative link in it and in the docs reaches an existing file (and, for `#anchor`
links, an existing heading of that file), and no page in `docs/` is an orphan the README does
not link. Links are read with markdown-it (the parser rich already brings), so a link-like
text inside a code block is not taken for a link.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

pytestmark = pytest.mark.cross_env

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250


def parse(path: Path) -> list:
    return MarkdownIt("commonmark").enable("table").parse(path.read_text(encoding="utf-8"))


def links(path: Path) -> list[str]:
    """Every link and image target in the file, in order."""
    found = []
    for token in parse(path):
        for child in token.children or []:
            if child.type == "link_open":
                found.append(str(child.attrs["href"]))
            elif child.type == "image":
                found.append(str(child.attrs["src"]))
    return found


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation other than `-` and `_`
    dropped, spaces turned into `-`. Hand-written because GitHub's renderer defines it and no
    pinned library reproduces it; the rule is small and documented by GitHub."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings; a repeated heading gets `-1`, `-2`, ... as
    on GitHub."""
    tokens = parse(path)
    seen: dict[str, int] = {}
    result = set()
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[i + 1]
        text = "".join(c.content for c in inline.children or []
                       if c.type in ("text", "code_inline"))
        base = slug(text)
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


def link_problems(root: Path) -> list[str]:
    """One line per relative link in README.md and docs/*.md that reaches no file or no
    heading."""
    problems = []
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for href in links(page):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc:
                continue  # an external address: not this test's business
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            where = f"{page.relative_to(root)}: link {href!r}"
            if not target.is_relative_to(root.resolve()) or not target.exists():
                problems.append(f"{where} points to no file in the repository")
            elif (parts.fragment and target.suffix == ".md"
                  and parts.fragment not in anchors(target)):
                problems.append(f"{where} names no heading of {target.name}")
    return problems


def orphan_docs(root: Path) -> list[str]:
    """The pages in docs/ that the README does not link."""
    linked = {
        (root / unquote(urlsplit(href).path)).resolve()
        for href in links(root / "README.md")
        if not urlsplit(href).scheme and urlsplit(href).path
    }
    return [p.name for p in sorted((root / "docs").glob("*.md")) if p.resolve() not in linked]


def test_the_readme_fits_in_its_line_budget():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; move detail into docs/ (at most {README_MAX_LINES})")


def test_every_relative_link_reaches_a_file_and_heading():
    assert link_problems(ROOT) == []


def test_every_page_in_docs_is_linked_from_the_readme():
    assert orphan_docs(ROOT) == []


def test_the_checks_catch_a_broken_link_anchor_and_orphan(tmp_path: Path):
    """The checks above would pass vacuously if they found no links; on a small tree with one
    of each fault they must name each one."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(
        "# Title\n\n## Two words\n\n[ok](docs/a.md#a-page) [self](#two-words) "
        "[gone](docs/missing.md) [bad anchor](docs/a.md#no-such-heading)\n\n"
        "```\n[not a link](nowhere.md)\n```\n", encoding="utf-8")
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n[up](../README.md#title)\n",
                                            encoding="utf-8")
    (tmp_path / "docs" / "b.md").write_text("# Unlinked\n", encoding="utf-8")
    assert link_problems(tmp_path) == [
        "README.md: link 'docs/missing.md' points to no file in the repository",
        "README.md: link 'docs/a.md#no-such-heading' names no heading of a.md",
    ]
    assert orphan_docs(tmp_path) == ["b.md"]


def test_slugs_follow_githubs_rule():
    assert slug("The augmentation finding, and writing your own") == (
        "the-augmentation-finding-and-writing-your-own")
    assert slug("Parallel runs (`--jobs`)") == "parallel-runs---jobs"
    assert slug("bf16 on the CPU") == "bf16-on-the-cpu"
