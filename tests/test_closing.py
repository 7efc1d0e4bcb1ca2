"""`compare`'s closing summary fits an 80-column terminal or log; `--json` is one document."""

from __future__ import annotations

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT

pytestmark = pytest.mark.cross_env
pytest.importorskip("matplotlib",
                    reason="the closing table's labels come from benchmarks.report.figures")

from benchmarks.report.closing import closing_document, ok_rows  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
QUESTIONS = ("Are the twins equal?", "Is the augmentation finding reproduced?",
             "What do the shortcut controls say?")


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A results folder of committed records: both twins, two variants, seeds 0-2, three
    regimes at 32 px, enough for all three answers."""
    runs = tmp_path / "results" / "runs"
    runs.mkdir(parents=True)
    names = "*-random-full-32px-s[012]-*", "*-baseline-random-hud_only-32px-s[012]-*", \
        "*-baseline-session-full-32px-s[012]-*"
    for pattern in names:
        for path in (PROJECT_ROOT / "results" / "runs").glob(pattern + ".json"):
            record = json.loads(path.read_text())
            if record["config"]["epochs"] == 10 and "dropout" not in record["config"]:
                shutil.copy(path, runs / path.name)
    return tmp_path / "results"


def _closing_script(results: Path) -> list[str]:
    code = ("import sys; from pathlib import Path; "
            "from benchmarks.report.closing import print_closing;"
            f"print_closing(Path({str(results / 'runs')!r}), None, 'REPORT', 0.05)")
    return [sys.executable, "-c", code]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {**env, **extra}


def _check_fits(text: str, width: int, results: Path) -> None:
    lines = text.splitlines()
    assert max(map(len, lines)) <= width, [line for line in lines if len(line) > width]
    # the dataset is named once, above the table, not in every row
    assert sum("facial-emotion (" in line for line in lines) == 1
    rows = [line for line in lines if re.match(r"\s*32 px ", line)]
    document = closing_document(ok_rows(results / "runs"), 0.05, "REPORT")
    entries = document["datasets"][0]["table"]
    # one line per row: none wrapped onto a second line
    assert len(rows) == len(entries) >= 8
    for row, entry in zip(rows, entries, strict=True):
        low, high = 100 * entry["ci_low"], 100 * entry["ci_high"]
        assert row.rstrip().endswith(f"{100 * entry['accuracy']:.1f} [{low:.1f}, {high:.1f}]"
                                     f"  {100 * entry['majority']:.1f}")
    for question in QUESTIONS:
        assert sum(line.startswith(question) for line in lines) == 1, question
    assert lines[-1] == "report: REPORT"


def test_closing_written_to_a_file_fits_80_columns(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "closing.txt"
    with out.open("w") as handle:
        subprocess.run(_closing_script(results), stdout=handle, cwd=PROJECT_ROOT, env=_env(),
                       check=True)
    _check_fits(out.read_text(encoding="utf-8"), 80, results)


def test_closing_redirected_follows_columns(results: Path, tmp_path: Path) -> None:
    run = subprocess.run(_closing_script(results), capture_output=True, text=True,
                         cwd=PROJECT_ROOT, env=_env(COLUMNS="120"), check=True)
    widths = [len(line) for line in run.stdout.splitlines()]
    assert 80 < max(widths) <= 120  # the answers use the width the user gave


def test_closing_on_an_80_column_terminal(results: Path) -> None:
    """A real terminal (a pseudo-terminal here), 80 columns wide, as rich asks it."""
    main, child = pty.openpty()
    proc = subprocess.Popen(_closing_script(results), stdout=child, stderr=subprocess.DEVNULL,
                            cwd=PROJECT_ROOT, env=_env(COLUMNS="80", TERM="xterm"))
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert proc.wait(timeout=120) == 0
    text = ANSI.sub("", b"".join(chunks).decode("utf-8").replace("\r\n", "\n"))
    _check_fits(text, 80, results)


def test_report_json_is_one_document_with_the_three_answers(results: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    with out.open("w") as handle:
        run = subprocess.run([sys.executable, "-m", "benchmarks", "report", "--results",
                              str(results), "--json"], stdout=handle, stderr=subprocess.PIPE,
                             text=True, cwd=PROJECT_ROOT, env=_env())
    assert run.returncode == 0, run.stderr
    document = json.loads(out.read_text(encoding="utf-8"))  # stdout holds nothing else
    assert document["report"] == str(results / "COMPARISON.md")
    (dataset,) = document["datasets"]
    assert dataset["dataset"].startswith("facial-emotion (")
    answers = dataset["answers"]
    assert [answers[key].split("?")[0] + "?" for key in ("twins", "finding", "shortcuts")] == \
        list(QUESTIONS)
    assert "**" not in json.dumps(answers)
    frameworks = {(e["framework"], e["variant"], e["split"], e["hud"]): e
                  for e in dataset["table"]}
    torch = frameworks[("torch", "baseline", "random", "full")]
    accuracies = [json.loads(p.read_text())["metrics"]["accuracy"]
                  for p in (results / "runs").glob("torch-baseline-random-full-*.json")]
    assert torch["seeds"] == len(accuracies) == 3
    assert torch["accuracy"] == pytest.approx(sum(accuracies) / 3)


def test_compare_json_prints_only_the_document(results: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """compare's own wiring, with the matrix already run (its records are the fixture's)."""
    import benchmarks.cli.compare as compare

    run_ids = [p.stem for p in (results / "runs").glob("*.json")]
    monkeypatch.setattr(compare, "build_cells", lambda profile, adapt=frozenset(): [])
    monkeypatch.setattr(compare, "preflight", lambda cells, folder, force: None)
    monkeypatch.setattr(compare, "run_matrix", lambda *args: {"run_ids": run_ids, "failed": 0,
                                                                "reader_gone": False})
    monkeypatch.setattr("benchmarks.cli.compare.render",
                        lambda results, out: out / "COMPARISON.md")
    assert compare.main(["--results", str(results), "--json", "--tensorboard"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert all(document["datasets"][0]["answers"].values())
    assert "tensorboard: " in captured.err  # the export's line stays off stdout
    assert (results / "tensorboard").is_dir()


def test_closing_without_finished_runs_names_only_the_report(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    from benchmarks.report.closing import print_closing

    (tmp_path / "runs").mkdir()
    print_closing(tmp_path / "runs", [], "REPORT", 0.05, as_json=True)
    assert json.loads(capsys.readouterr().out) == {"datasets": [], "report": "REPORT"}


def test_a_bf16_row_is_told_apart_from_its_float32_row(tmp_path: Path) -> None:
    """The bf16 check trains the same cells in both precisions: each gets its own line, and
    the bf16 line says so (two identical-looking lines with different numbers mislead)."""
    from rich.console import Console

    from benchmarks.report.closing import render_table

    runs = tmp_path / "runs"
    runs.mkdir()
    for path in (PROJECT_ROOT / "results" / "runs").glob(
            "*-baseline-random-full-64px-s[12]-*.json"):
        config = json.loads(path.read_text())["config"]
        # the whole training set: the palette finding's runs of the same cell train on a subset
        if ((config["epochs"], config.get("dropout"), config["threads"]) == (20, "shared", 1)
                and config.get("train_frames") in (None, 0)):
            shutil.copy(path, runs / path.name)
    entries = closing_document(ok_rows(runs), 0.05, "REPORT")["datasets"][0]["table"]
    assert sorted(e["precision"] for e in entries) == ["bf16", "bf16", "float32", "float32"]
    console = Console(width=80, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render_table(entries))
    labels = [line.rsplit(" 2 ", 1)[0].rstrip()
              for line in console.export_text().splitlines() if " 64 px " in f" {line}"]
    assert len(labels) == 4 and len(set(labels)) == 4, labels
    assert sum("bf16" in label for label in labels) == 2


def test_the_closing_interval_stays_within_0_and_100_percent(results: Path) -> None:
    """Three seeds far apart near 100 % give a t-interval above 100 %; an accuracy cannot be
    there, so the closing table (and its --json) clip it, as the report does."""
    runs = results / "runs"
    cell = sorted(runs.glob("torch-baseline-random-full-32px-s[012]-*.json"))
    assert len(cell) == 3
    for path, accuracy in zip(cell, (0.99, 0.70, 0.98), strict=True):
        record = json.loads(path.read_text())
        record["metrics"]["accuracy"] = accuracy
        path.write_text(json.dumps(record))
    entries = closing_document(ok_rows(runs), 0.05, "REPORT")["datasets"][0]["table"]
    entry = next(e for e in entries if (e["framework"], e["variant"], e["split"], e["hud"])
                 == ("torch", "baseline", "random", "full"))
    assert entry["accuracy"] == pytest.approx(0.89)
    assert entry["ci_high"] == 1.0 and 0.0 <= entry["ci_low"] < 0.89
