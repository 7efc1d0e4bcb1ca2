"""Datasets are known by their content: two folders of the same name never merge in a report."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SEED_RUNS
from conftest import flat_dataset as dataset

from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from benchmarks.matrix.records import group_rows, rows_by_setting
from common_data.errors import ConfigError

pytestmark = pytest.mark.cross_env


def test_records_of_two_same_named_datasets_form_two_settings() -> None:
    record = json.loads(next(p for p in SEED_RUNS if p.suffix == ".json").read_text())
    other = copy.deepcopy(record)
    other["data"]["dataset_hash"] = "f" * 64  # same folder name, other content
    settings = list(rows_by_setting(group_rows([record, other])))
    assert len(settings) == 2
    assert len({s.title for s in settings}) == 2
    assert len({s.slug for s in settings}) == 2  # figure files cannot overwrite each other
    assert {s.title.split(":")[0] for s in settings} == {
        f"facial-emotion ({record['data']['dataset_hash'][:8]})", "facial-emotion (ffffffff)"
    }


def test_a_run_made_before_a_config_key_existed_shares_a_row_with_one_made_after() -> None:
    """A key added later is stored at its legacy value by newer runs (card "", the late mode
    onednn off) and is absent from older records; the config hash treats both alike, so the
    report's rows must too: one row of two seeds, not two rows of one."""
    record = json.loads(next(p for p in SEED_RUNS if p.suffix == ".json").read_text())
    newer = copy.deepcopy(record)
    newer["config"]["seed"] = record["config"]["seed"] + 1
    newer["config"].update(card="", card_sha256="", dropout=record["config"].get("dropout",
                                                                               "framework"))
    newer["config"]["mode"] = {**record["config"].get("mode", {}), "onednn": False}
    (row,) = group_rows([record, newer])
    assert len(row.records) == 2
    newer["config"]["card"] = "cards/mine.toml"   # another value is another protocol
    assert len(group_rows([record, newer])) == 2


def test_two_folders_named_data_give_two_headings_and_two_sets_of_rows(
    tmp_path: Path, tmp_cache: Path
) -> None:
    try:
        framework_python("torch")
    except ConfigError as exc:
        pytest.skip(f"torch env missing: {exc}")
    results = tmp_path / "results"
    first = dataset(tmp_path / "one" / "data")
    second = dataset(tmp_path / "two" / "data", per_class=6)
    for root in (first, second):
        run = subprocess.run(
            [sys.executable, "-m", "benchmarks", "compare", "--data", str(root), "--frameworks",
             "torch", "--variants", "baseline", "--seeds", "0", "--epochs", "1",
             "--image-size", "32", "--splits", "random", "--no-probe", "--jobs", "1",
             "--results", str(results)],
            cwd=PROJECT_ROOT, capture_output=True, text=True,
        )
        assert run.returncode == 0, run.stderr
    report = (results / "COMPARISON.md").read_text()
    headings = re.findall(r"^### (data \([0-9a-f]{8}\)): random split", report, re.MULTILINE)
    assert len(headings) == 2 and headings[0] != headings[1]
    sections = report.split("## Results")[1].split("## Speed")[0].split("### ")[1:]
    assert [s.count("| PyTorch | baseline | 1 |") for s in sections] == [1, 1]
    assert len(list((results / "figures").glob("curves-data-*.png"))) == 2
    assert len(list((results / "data").glob("data-*.json"))) == 2
