"""`export --format tensorboard`: TensorBoard's own reader finds every record's history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import SEED_RUNS

pytestmark = pytest.mark.cross_env
pytest.importorskip("tensorboardX", reason="the writer lives in the harness env")
accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the reader lives in the harness env")

from tensorboard.plugins.hparams import metadata  # noqa: E402

from benchmarks.report.export import main  # noqa: E402
from benchmarks.report.tensorboard_export import EPOCH_TAGS, MARKER, run_folder  # noqa: E402
from common_data.errors import ConfigError  # noqa: E402


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A results folder holding committed records: both twins of one setting, two protocols."""
    runs = tmp_path / "results" / "runs"
    runs.mkdir(parents=True)
    for path in SEED_RUNS:
        if path.suffix == ".json":
            shutil.copy(path, runs / path.name)
    return tmp_path / "results"


def _records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "runs").glob("*.json"))]


def _read(folder: Path) -> accumulator.EventAccumulator:
    events = accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return events


def test_event_files_hold_each_records_history_and_hparams(results: Path) -> None:
    assert main(["--results", str(results), "--format", "tensorboard"]) == 0
    records = _records(results)
    assert {r["framework"] for r in records} == {"torch", "tf"}
    for record in records:
        events = _read(results / "tensorboard" / run_folder(record))
        for key, tag in EPOCH_TAGS.items():
            stored = [(e["epoch"], e[key]) for e in record["history"] if e[key] is not None]
            read = [(s.step, s.value) for s in events.Scalars(tag)]
            assert [step for step, _ in read] == [step for step, _ in stored], tag
            # event files store float32
            assert [v for _, v in read] == pytest.approx([v for _, v in stored], rel=1e-6)
        final = events.Scalars("final/accuracy")
        assert [s.value for s in final] == pytest.approx([record["metrics"]["accuracy"]])
        assert final[0].step == record["history"][-1]["epoch"]
        start = metadata.parse_session_start_info_plugin_data(
            events.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content)
        assert start.hparams["framework"].string_value == record["framework"]
        assert start.hparams["seed"].number_value == record["config"]["seed"]
        assert start.hparams["epochs"].number_value == record["config"]["epochs"]
        assert start.hparams["dropout"].string_value == record["config"].get(
            "dropout", "framework")
    # the twins of one setting and protocol sit side by side; another protocol sits apart
    by_folder: dict[Path, set[str]] = {}
    for record in records:
        by_folder.setdefault(run_folder(record).parent, set()).add(record["framework"])
    assert sorted(map(sorted, by_folder.values())) == [["tf", "torch"], ["torch"]]
    # one experiment at the root lists every framework, so the HParams table filters by it
    root = _read(results / "tensorboard")
    experiment = metadata.parse_experiment_plugin_data(
        root.SummaryMetadata(metadata.EXPERIMENT_TAG).plugin_data.content)
    domains = {info.name: list(info.domain_discrete) for info in experiment.hparam_infos}
    assert sorted(domains["framework"]) == ["tf", "torch"]
    assert domains["seed"] == [0.0]


def test_second_export_replaces_and_drops_runs_whose_records_are_gone(results: Path) -> None:
    out = results / "tensorboard"
    assert main(["--results", str(results), "--format", "tensorboard"]) == 0
    first = sorted(out.rglob("events.out.tfevents.*"))
    gone = sorted((results / "runs").glob("*.json"))[0]
    removed = run_folder(json.loads(gone.read_text()))
    assert main(["--results", str(results), "--format", "tensorboard"]) == 0
    # one event file per run, not two: TensorBoard would draw every curve twice
    assert len(sorted(out.rglob("events.out.tfevents.*"))) == len(first)
    gone.unlink()
    assert main(["--results", str(results), "--format", "tensorboard"]) == 0
    assert not (out / removed).exists()
    assert len(sorted(out.rglob("events.out.tfevents.*"))) == len(first) - 1
    assert not [p for p in results.iterdir() if p.name.startswith(".")], "temporaries left"


def test_a_folder_the_export_did_not_write_is_never_replaced(results: Path) -> None:
    mine = results / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match=f"--out {mine}: a folder this export did not write"):
        main(["--results", str(results), "--format", "tensorboard", "--out", str(mine)])
    assert (mine / "notes.txt").read_text() == "keep me" and not (mine / MARKER).exists()


def test_twins_share_a_folder_though_only_tensorflow_has_onednn() -> None:
    """TensorFlow's oneDNN is on out of the box and PyTorch has no such switch; that must not
    part the twins (committed synthetic records: one protocol, both frameworks)."""
    runs = SEED_RUNS[0].parent
    tf = json.loads((runs / "tf-baseline-random-full-64px-s0-3705617c74.json").read_text())
    torch = json.loads((runs / "torch-baseline-random-full-64px-s0-1414b9e1f0.json").read_text())
    assert tf["config"]["mode"]["onednn"] and not torch["config"]["mode"]["onednn"]
    assert run_folder(tf).parent == run_folder(torch).parent
    assert (run_folder(tf).name, run_folder(torch).name) == ("tf-baseline-s0-onednn",
                                                             "torch-baseline-s0")


def test_a_hostile_variant_cannot_place_files_outside_the_export(results: Path) -> None:
    from common_data.run.config import config_digest

    path = sorted((results / "runs").glob("*.json"))[0]
    record = json.loads(path.read_text())
    record["config"]["variant"] = "/".join([".."] * 6 + ["escaped"])
    record["config_hash"] = config_digest(record["config"])  # a valid record otherwise
    path.write_text(json.dumps(record))
    before = set(results.parent.rglob("*"))
    assert main(["--results", str(results), "--format", "tensorboard"]) == 0
    out = results / "tensorboard"
    written = set(results.parent.rglob("*")) - before
    assert written and all(p == out or out in p.parents for p in written)
    # record validation refuses it (its variant is no variant), so it is not exported; were
    # it read, its folder name would still stay inside the export
    folder = run_folder(record)
    assert not (out / folder).exists()
    assert ".." not in folder.parts and "escaped" in folder.name
