"""The committed report is what the committed records render to.

results/COMPARISON.md is rendered from results/runs/ (plus matrix.json, findings/ and
data/). Rendering those same files again must give the same document, number for number: a
refactor that moves a metric, a statistic or a table changes no published figure without
this test saying so, and the committed report can never drift from the records beside it.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.cross_env
# benchmarks.report.render draws figures, and matplotlib lives in the harness env only.
pytest.importorskip("matplotlib",
                    reason="benchmarks.report.render needs the harness env's matplotlib")

from benchmarks.report.render import render  # noqa: E402

RESULTS = Path(__file__).resolve().parent.parent / "results"
RENDERED_AT = re.compile(r"(?<=report` on )\d{4}-\d\d-\d\d \d\d:\d\d UTC")  # all that may differ


def _stable(text: str) -> list[str]:
    return RENDERED_AT.sub("<time>", text).splitlines()


def test_committed_records_render_the_committed_report(tmp_path: Path) -> None:
    committed = (RESULTS / "COMPARISON.md").read_text(encoding="utf-8")
    rendered = render(RESULTS, tmp_path).read_text(encoding="utf-8")
    diff = list(difflib.unified_diff(_stable(committed), _stable(rendered),
                                     "results/COMPARISON.md", "rendered now", lineterm="", n=0))
    assert not diff, "the committed records render another report:\n" + "\n".join(diff[:40])
