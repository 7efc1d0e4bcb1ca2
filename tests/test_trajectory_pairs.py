"""Trajectory parity pairs runs that differ in one thing only: a bf16 run is set beside its
float32 self (a precision pair) and is never taken for a float32 run's twin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.cross_env
# the pairs' module draws the section's charts, and matplotlib lives in the harness env only
pytest.importorskip("matplotlib", reason="benchmarks.parity.trajectory needs matplotlib")

from benchmarks.matrix.records import is_bf16  # noqa: E402
from benchmarks.parity.trajectory import twin_pairs  # noqa: E402

RUNS = Path(__file__).resolve().parent.parent / "results" / "runs"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    """The bf16 check's committed cells in both precisions (64 px, seeds 0-2, both twins)."""
    found = [json.loads(p.read_text()) for p in RUNS.glob("*-baseline-random-full-64px-s*.json")]
    return [r for r in found
            if (r["config"]["epochs"], r["config"].get("dropout"), r["config"]["threads"])
            == (20, "shared", 1)]


def test_each_bf16_run_is_paired_with_its_float32_self(records: list[dict]) -> None:
    pairs = [p for p in twin_pairs(records) if p.kind == "precision"]
    assert sorted((p.a["framework"], p.seed) for p in pairs) == [
        (fw, seed) for fw in ("tf", "torch") for seed in (0, 1, 2)]
    for pair in pairs:
        assert not is_bf16(pair.a["config"]) and is_bf16(pair.b["config"])
        assert pair.a["framework"] == pair.b["framework"]
        assert pair.label.endswith("float32 vs bf16")


def test_twins_are_always_of_one_precision(records: list[dict]) -> None:
    twins = [p for p in twin_pairs(records) if p.kind == "twins"]
    assert {is_bf16(p.a["config"]) for p in twins} == {False, True}
    for pair in twins:
        assert is_bf16(pair.a["config"]) == is_bf16(pair.b["config"]), pair.label
        assert ("(bf16)" in pair.label) == is_bf16(pair.a["config"])
