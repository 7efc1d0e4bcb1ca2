"""`python -m benchmarks export`: the stored runs as a table a user's pandas reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.cross_env
pd = pytest.importorskip("pandas", reason="export lives in the harness env (pandas)")

from benchmarks.report.export import main, runs_frame  # noqa: E402
from common_data.errors import ConfigError  # noqa: E402

RESULTS = Path(__file__).resolve().parent.parent / "results"


def test_csv_has_one_row_per_committed_run_with_its_metrics(tmp_path: Path) -> None:
    out = tmp_path / "runs.csv"
    assert main(["--results", str(RESULTS), "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    records = {p.stem: json.loads(p.read_text(encoding="utf-8"))
               for p in (RESULTS / "runs").glob("*.json")}
    assert sorted(frame["run_id"]) == sorted(records)
    for row in frame.itertuples():
        metrics = records[row.run_id]["metrics"]
        if metrics:
            assert row.accuracy == pytest.approx(metrics["accuracy"], abs=1e-12)


def test_unknown_format_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--format 'xlsx': expected one of: csv, json, "
                       "parquet, tensorboard"):
        main(["--results", str(RESULTS), "--format", "xlsx"])


def test_parquet_round_trips_through_pandas(tmp_path: Path) -> None:
    """The engine is pinned in requirements/harness.txt, so a fresh env writes Parquet."""
    parquet = tmp_path / "runs.parquet"
    assert main(["--results", str(RESULTS), "--format", "parquet", "--out", str(parquet)]) == 0
    back = pd.read_parquet(parquet)
    assert len(back) == len(list((RESULTS / "runs").glob("*.json")))
    # every column and value, types included (CSV would turn an empty string into NaN)
    pd.testing.assert_frame_equal(back, runs_frame(RESULTS / "runs"))
