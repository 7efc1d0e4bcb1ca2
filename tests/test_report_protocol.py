"""The report names, per setting, where a run's protocol departs from the published one."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.cross_env
# benchmarks.report.render draws figures, and matplotlib lives in the harness env only: the
# framework
# envs collect this file too, so they must skip it before the import rather than fail on it.
pytest.importorskip("matplotlib",
                    reason="benchmarks.report.render needs the harness env's matplotlib")

from benchmarks.matrix.records import Row, Setting  # noqa: E402
from benchmarks.report.render import protocol_notes  # noqa: E402
from common_data.data.card import SHIPPED_CARDS, load_card  # noqa: E402


def _row(image_size: int, epochs: int, seeds: int) -> Row:
    setting = Setting("facial-emotion", "random", -1, "full", image_size)
    records = [{"config": {"image_size": image_size, "epochs": epochs}, "status": "ok"}
               for _ in range(seeds)]
    return Row(setting, "tf", "baseline", "p", records)


def test_published_protocol_is_named_as_such() -> None:
    assert protocol_notes([_row(128, 20, 5)])[0].startswith("Protocol: the published one")


def test_each_departure_is_named_with_the_right_count() -> None:
    single = protocol_notes([_row(128, 20, 1)])[0]
    assert "1 seed per cell" in single and "input" not in single and "epochs" not in single
    reduced = protocol_notes([_row(32, 10, 3)])[0]
    assert reduced.startswith("**Reduced protocol**")
    for part in ("3 seeds per cell", "input 32x32 instead of 128x128",
                 "baseline trained 10 epochs instead of 20"):
        assert part in reduced


def test_cells_with_different_seed_counts_get_one_note_with_the_range() -> None:
    note = protocol_notes([_row(64, 20, 1), _row(64, 20, 3)])[0]
    assert "1–3 seeds per cell" in note
    assert note.count("per cell") == 1


def _verdict_rows() -> list[dict]:
    return [{"framework": fw, "split": "random", "hud": "full", "delta_accuracy": -0.1,
             "verdict": "reproduced", "baseline_accuracy": {"mean": 0.8}} for fw in ("tf", "torch")]


@pytest.mark.parametrize(
    ("protocol", "published"),
    [({"image_size": 128, "epochs": 20, "augmented_epochs": 40, "early_stopping": True}, True),
     ({"image_size": 64, "epochs": 20, "augmented_epochs": 40, "early_stopping": True}, False),
     ({"image_size": 128, "epochs": 10, "augmented_epochs": 40, "early_stopping": True}, False),
     ({"image_size": 128, "epochs": 20, "augmented_epochs": 10, "early_stopping": False}, False)],
)
def test_only_the_published_protocol_is_called_the_published_setting(
    protocol: dict, published: bool
) -> None:
    from benchmarks.findings.sentences import sentences

    text = " ".join(sentences(_verdict_rows(), {}, protocol))
    assert ("published setting" in text) is published
    if not published:
        assert "not the published protocol" in text


def _rows(accuracies: dict[tuple[str, str, str, str], list[float]]) -> list[Row]:
    """Rows for (split, hud, variant, framework) with one record per seed."""
    rows = []
    for (split, hud, variant, framework), values in accuracies.items():
        setting = Setting("data", split, -1, hud, 64, "ab12cd34ef")
        records = [{"status": "ok", "metrics": {"accuracy": a},
                    "config": {"seed": seed, "epochs": 20, "dropout": "shared"}}
                   for seed, a in enumerate(values)]
        rows.append(Row(setting, framework, variant, "p", records))
    return rows


def test_the_three_answers_carry_the_runs_numbers() -> None:
    from benchmarks.report.summary import answers

    rows = _rows({
        ("random", "full", "baseline", "torch"): [0.80, 0.82, 0.84],
        ("random", "full", "baseline", "tf"): [0.79, 0.82, 0.83],
        ("random", "full", "augmented", "torch"): [0.40, 0.42, 0.41],
        ("random", "full", "augmented", "tf"): [0.50, 0.52, 0.51],
        ("random", "hud_only", "baseline", "torch"): [0.78, 0.79, 0.80],
        ("session", "full", "baseline", "tf"): [0.30, 0.31, 0.29],
    })
    twins, finding, shortcut = answers(rows, min_effect=0.05)
    assert "+0.7 pp [" in twins and "3 seeds, shared dropout masks" in twins
    assert "PyTorch random/full -41.0 pp" in finding and "(reproduced)" in finding
    assert "PyTorch HUD only 79.0 % vs full frame 82.0 %" in shortcut
    assert "TensorFlow session split (full) 30.0 % vs random 81.3 %" in shortcut


def _published_line(framework: str, variant: str, model: str, accuracy: float,
                    params: int, **config: object) -> str:
    """The published table's line for `model`, with one 64-px run of ours."""
    from benchmarks.report.render import published_table

    setting = Setting("data", "random", -1, "full", 64, "ab12cd34ef")
    seed_card = load_card(SHIPPED_CARDS / "facial-emotion.toml")  # where the figures come from
    record = {"status": "ok", "metrics": {"accuracy": accuracy},
              "data": {"dataset_hash": seed_card.content_hash},
              "model": {"params_total": params}, "config": {"seed": 0, **config}}
    text = "\n".join(published_table([Row(setting, framework, variant, "p", [record])]))
    return next(line for line in text.splitlines() if model in line)


def test_published_figures_stand_only_beside_the_dataset_they_were_measured_on() -> None:
    from benchmarks.report.render import published_table

    setting = Setting("data", "random", -1, "full", 64, "ab12cd34ef")
    record = {"status": "ok", "metrics": {"accuracy": 0.9}, "data": {"dataset_hash": "f" * 64},
              "model": {"params_total": 1},
              "config": {"seed": 0, "spec": "baseline_cnn", "epochs": 20}}
    text = "\n".join(published_table([Row(setting, "tf", "baseline", "p", [record])]))
    assert "published" not in text.split(":")[0] and "85.92" not in text
    assert text.startswith("None for these datasets")
    # beside runs of both datasets, the figures stand beside the seed dataset's runs only,
    # even where the other dataset's run is larger (the table prefers the largest input)
    seed_hash = load_card(SHIPPED_CARDS / "facial-emotion.toml").content_hash
    seed = {**record, "metrics": {"accuracy": 0.5}, "data": {"dataset_hash": seed_hash}}
    big = Setting("other", "random", -1, "full", 128, "ffffffff")
    text = "\n".join(published_table([Row(setting, "tf", "baseline", "p", [seed]),
                                       Row(big, "tf", "baseline", "p", [record])]))
    line = next(t for t in text.splitlines() if "| baseline CNN |" in t)
    assert "50.00" in line and "90.00" not in line


def test_a_scratch_run_is_never_shown_as_a_transfer_result() -> None:
    v2 = _published_line("torch", "baseline", "ResNet-50 transfer v2", 0.5, 23518277,
                         spec="resnet50", transfer="scratch", epochs=20)
    assert "not run: needs `--pretrained FILE`" in v2
    assert "from scratch instead: PyTorch 50.00 (1 seed, 64px" in v2
    v2 = _published_line("torch", "baseline", "ResNet-50 transfer v2", 0.5, 23518277,
                         spec="resnet50", transfer="v2", epochs=20)
    assert "| PyTorch 50.00 (1 seed, 64px" in v2 and "23,518,277" in v2


def test_a_smoke_run_names_its_epochs_beside_the_published_figure() -> None:
    row = _published_line("tf", "baseline", "| ResNet-152 |", 0.3, 58154053,
                          spec="resnet152", transfer="scratch", epochs=1)
    assert "from scratch instead: TensorFlow 30.00 (1 seed, 1 epoch, 64px" in row
    # the published augmented schedule is up to 40 epochs: such a run is not a departure
    row = _published_line("tf", "augmented", "geometric augmentation", 0.4, 3305285,
                          spec="baseline_cnn", epochs=40)
    assert "TensorFlow 40.00 (1 seed, 64px" in row


def test_a_row_of_another_model_names_it_beside_the_variant() -> None:
    row = _row(64, 20, 1)
    assert row.label == "baseline"
    row.records[0]["config"].update(spec="resnet50", transfer="scratch")
    assert row.label == "baseline (resnet50, from scratch)"


def test_without_an_overlay_probe_the_summary_reads_only_the_grouped_split() -> None:
    from benchmarks.report.summary import answers

    rows = _rows({("random", "full", "baseline", "torch"): [0.95, 0.96],
                  ("grouped", "full", "baseline", "torch"): [0.40, 0.42]})
    supports = {"random": (30, 60), "grouped": (38, 50)}  # (largest class, frames)
    for row in rows:
        top, n = supports[row.setting.split]
        for record in row.records:
            record["metrics"].update(n=n, per_class={"fear": {"support": top},
                                                     "joy": {"support": n - top}})
    (shortcut,) = [a for a in answers(rows, min_effect=0.05) if "shortcut" in a]
    assert ("PyTorch grouped split (full) 41.0 % (majority class 76.0 %) vs random 95.5 % "
            "(majority class 50.0 %)") in shortcut
    assert "HUD" not in shortcut and "session" not in shortcut
    assert "A grouped split far below the random one" in shortcut
    assert "near-copies" not in shortcut  # no audit, no claim
    for row in rows:
        for record in row.records:
            record["data"] = {"dataset_hash": "d" * 64}
    audit = {"d" * 64: {"splits": {"random, HUD full": {"near_duplicate_fraction": 0.991}}}}
    (shortcut,) = [a for a in answers(rows, 0.05, audit) if "shortcut" in a]
    assert ("vs random 95.5 % (majority class 50.0 %); near-copies: 99.1 % of the random "
            "split's validation frames have a near-copy in training (leakage audit), so its "
            "accuracy is inflated; the grouped split above keeps them apart") in shortcut
    audit["d" * 64]["splits"]["random, HUD full"]["near_duplicate_fraction"] = 0.03
    assert "near-copies" not in answers(rows, 0.05, audit)[-1]  # a few percent: no flag


def test_the_regime_chart_marks_each_splits_majority_class_rate(tmp_path) -> None:
    from benchmarks.report import figures

    rows = _rows({("random", "full", "baseline", "torch"): [0.9],
                  ("grouped", "full", "baseline", "torch"): [0.4]})
    for row, (top, n) in zip(rows, [(30, 60), (38, 50)], strict=True):
        row.records[0]["metrics"].update(n=n, per_class={"a": {"support": top},
                                                         "b": {"support": n - top}})
    regimes = [("random", "full"), ("grouped", "full"), ("session", "full")]
    assert figures.majority_rates(rows, regimes) == [0.5, 0.76, None]
    assert figures.regime_chart(rows, tmp_path / "chart.png").stat().st_size > 0


def test_a_finding_whose_matrix_still_runs_is_marked_interim(tmp_path) -> None:
    """A finding evaluated from a part of its records (`--no-train` while the matrix runs)
    says so in its heading and before its table; a complete one says nothing of the kind."""
    import json
    from pathlib import Path

    from benchmarks.report.findings_section import findings_section

    stored = json.loads((Path(__file__).resolve().parent.parent / "results" / "findings"
                         / "augmentation.json").read_text())
    stored["cells"] = {"with_records": 54, "total": 54}
    (tmp_path / "findings").mkdir()
    (tmp_path / "findings" / "augmentation.json").write_text(json.dumps(stored))
    complete = "\n".join(findings_section(tmp_path, tmp_path / "figures", tmp_path))
    assert "interim" not in complete.lower()

    stored["cells"]["with_records"] = 31
    (tmp_path / "findings" / "augmentation.json").write_text(json.dumps(stored))
    lines = findings_section(tmp_path, tmp_path / "figures", tmp_path)
    heading = next(line for line in lines if line.startswith("### Finding: augmentation"))
    assert heading.endswith(" — interim, 31 of 54 cells")
    note = next(line for line in lines if line.startswith("**Interim:**"))
    assert note.startswith("**Interim:** 23 of its 54 cells have no record yet.")
    # how to resume is said only where the command shown trained nothing
    assert ("without `--no-train` resumes them" in note) == ("--no-train" in stored["command"])
    assert lines.index(note) < next(i for i, line in enumerate(lines) if line.startswith("|"))
    assert not any("CPU models" in line for line in lines)   # one CPU model: nothing to say

    stored["cpus"] = {"AMD EPYC": 41, "Intel | Xeon": 13}   # a name is escaped in the table
    (tmp_path / "findings" / "augmentation.json").write_text(json.dumps(stored))
    cpu = next(line for line in findings_section(tmp_path, tmp_path / "figures", tmp_path)
               if "CPU models" in line)
    assert cpu.startswith("Its runs were made on 2 CPU models: AMD EPYC (41), Intel \\| Xeon (13).")

    stored["hud_only_probe"]["tf"]["n_seeds"] = 1   # one seed is one seed, not "1 seeds"
    stored["selection"]["seeds"] = [0]
    stored["command"] = stored["command"].replace("--no-train", "")
    (tmp_path / "findings" / "augmentation.json").write_text(json.dumps(stored))
    lines = findings_section(tmp_path, tmp_path / "figures", tmp_path)
    probe = next(line for line in lines if line.startswith("HUD-only probe"))
    assert "over 1 seed " in probe and "over 3 seeds " in probe
    assert any("(1 seed per cell)" in line for line in lines)
    note = next(line for line in lines if line.startswith("**Interim:**"))
    assert "resumes" not in note
