"""The regimes are one table each (common_data/regimes.toml): what the run config accepts,
what the CLIs offer and refuse, what a matrix profile may name and what the report prints all
follow a change to a row, so a regime is never listed twice and the lists cannot drift apart."""

from __future__ import annotations

import ast
import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT
from rich.console import Console

from benchmarks.__main__ import main as bench_main
from benchmarks.matrix.cells import check_matrix, expand
from benchmarks.matrix.records import Row, Setting
from benchmarks.report.closing import render_table
from benchmarks.report.summary import keyed_answers
from common_data import regimes
from common_data.__main__ import main as data_main
from common_data.data.preprocess import HudBox, Preprocess
from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORKS
from common_data.regimes import OVERLAYS, SPLITS, VARIANTS, OverlayMode, SplitKind
from common_data.run.config import load_run_config

PROFILE = {"path": "p.toml", "frameworks": ["torch"], "variants": ["baseline"], "seeds": [0],
           "splits": ["random"], "hud": ["full"], "run": {"data": "synthetic"}}


@pytest.fixture(autouse=True)
def _tables_in_their_order() -> Iterator[None]:
    """Each test edits the tables through monkeypatch, whose undo puts a deleted row back at
    the end; the rows are put back in the file's order after it, for the tests that follow."""
    saved = [(table, list(table.items())) for table in (SPLITS, OVERLAYS, VARIANTS)]
    yield
    for table, rows in saved:
        table.clear()
        table.update(rows)


def _data_help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        data_main(["split", "--help"])
    return capsys.readouterr().out


def _refused(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert bench_main([*argv, "--results", str(tmp_path / "results")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    return line


def test_the_tables_are_the_files_rows_in_its_order() -> None:
    text = (PROJECT_ROOT / "common_data" / "regimes.toml").read_text(encoding="utf-8")
    for table, rows in (("split", SPLITS), ("overlay", OVERLAYS), ("variant", VARIANTS)):
        listed = [line[len(table) + 2:-1] for line in text.splitlines()
                  if line.startswith(f"[{table}.")]
        assert listed == list(rows), table


@pytest.mark.cross_env  # the harness's CLI draws figures: matplotlib, the harness env's
def test_a_split_kind_left_out_of_the_table_is_gone_from_every_list(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "{random,session,loso,grouped}" in _data_help(capsys)
    monkeypatch.delitem(SPLITS, "loso")

    assert "{random,session,grouped}" in _data_help(capsys)  # the --split choices
    with pytest.raises(ConfigError, match="key 'split' must be 'random', 'session' or "
                                          "'grouped', got 'loso'"):
        load_run_config({"split": "loso", "fold": 0})
    assert _refused(["compare", "--splits", "loso"], tmp_path, capsys) == (
        "error: --splits: unknown value 'loso' (expected one of: random, session, grouped)")
    with pytest.raises(ConfigError, match="key 'splits' has 'loso' "
                                          r"\(expected random, session, grouped\)"):
        check_matrix(dict(PROFILE, splits=["loso"]))


@pytest.mark.cross_env  # the harness's CLI draws figures: matplotlib, the harness env's
def test_a_variant_left_out_of_the_table_is_refused_by_flag_config_and_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(VARIANTS, "augmented")
    assert _refused(["compare", "--variants", "augmented"], tmp_path, capsys) == (
        "error: --variants: unknown value 'augmented' (expected one of: baseline)")
    assert _refused(["finding"], tmp_path, capsys).endswith(  # its arm is checked by the table
        "augmentation.toml arm 'augmented': variant 'augmented', expected one of baseline")
    with pytest.raises(ConfigError, match="key 'variant' must be"):
        load_run_config({"variant": "augmented"})
    with pytest.raises(ConfigError, match=r"\[variant.augmented\] is not valid \(expected "
                                          r"tables \[variant.baseline\]\)"):
        check_matrix(dict(PROFILE, variant={"augmented": {"epochs": 3}}))


def test_an_overlay_mode_added_to_the_table_is_offered_named_and_refused_without_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(OVERLAYS, "blurred", OverlayMode("blurred", "face blurred",
                                                         overlay=True))
    assert "{full,masked,hud_only,blurred}" in _data_help(capsys)  # the --hud choices
    assert load_run_config({"hud": "blurred"}).hud == "blurred"
    assert regimes.regime_label("session", "blurred") == "session, face blurred"
    box = HudBox("clock", 0.0, 0.1, 0.0, 0.5)
    with pytest.raises(ConfigError, match=r"'blurred' is listed in regimes\.toml but .*has no "
                                          "code that applies it"):
        Preprocess(size=32, hud="blurred", boxes=(box,)).apply_hud(
            np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ConfigError, match="needs overlay regions"):  # a fact of the row
        Preprocess(size=32, hud="blurred")


def test_the_closing_table_names_a_regime_as_its_row_does(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = {"image_size": 48, "split": "random", "hud": "hud_only", "framework": "torch",
             "variant": "baseline", "seeds": 3, "accuracy": 0.7, "ci_low": None,
             "ci_high": None, "majority": 0.2}

    def printed() -> str:
        out = io.StringIO()
        Console(file=out, width=120).print(render_table([entry]))
        return out.getvalue()

    assert "random, HUD only" in printed()
    monkeypatch.setitem(OVERLAYS, "hud_only",
                        dataclasses.replace(OVERLAYS["hud_only"], name="face blanked"))
    assert "random, face blanked" in printed()


def test_a_split_with_folds_expands_and_is_titled_by_its_row(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SPLITS, "weekly", SplitKind("weekly", "one fold per week",
                                                    sessions=True, folds=True))
    cells = expand(dict(PROFILE, splits=["weekly"]), n_sessions=3)
    assert [c.fold for c in cells] == [0, 1, 2]
    assert "-weekly-f1-" in cells[1].run_id
    assert Setting("d", "weekly", 1, "full", 32).title.endswith("weekly split fold 1, HUD full, "
                                                                "32x32")
    with pytest.raises(ConfigError, match="split 'weekly' needs a dataset with at least two"):
        expand(dict(PROFILE, splits=["weekly"]), n_sessions=None)


@pytest.mark.cross_env  # the harness's CLI draws figures: matplotlib, the harness env's
def test_the_splits_flag_explains_each_split_from_its_row(
    capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        bench_main(["compare", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for key, kind in SPLITS.items():
        assert f"{key} ({kind.about})" in help_text


def _literal_lists(path: Path) -> list[tuple[int, list[str]]]:
    """(line, strings) of each tuple, list, set or dict-key literal in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        items = (node.keys if isinstance(node, ast.Dict)
                 else node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [])
        strings = [item.value for item in items
                   if isinstance(item, ast.Constant) and isinstance(item.value, str)]
        found.append((node.lineno if hasattr(node, "lineno") else 0, strings))
    return found


def test_no_module_lists_the_regimes_of_a_table_itself() -> None:
    """Two or more keys of one table in one literal is a second list of that table, which a
    new row would not reach; the code reads the table (or a fact of its rows) instead."""
    offenders = []
    for package in ("common_data", "benchmarks", "pytorch_impl", "tf_impl"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            for line, strings in _literal_lists(path):
                for name, table in (("split", SPLITS), ("overlay", OVERLAYS),
                                    ("variant", VARIANTS)):
                    keys = [s for s in strings if s in table]
                    if len(set(keys)) >= 2:
                        offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{line} lists "
                                         f"{name}s {keys}")
    assert not offenders, "\n".join(offenders)


def test_the_summary_takes_the_leakage_safe_splits_from_the_table(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shortcut answer sets the first leakage-safe split that ran beside the random one:
    the session split while the table calls it leakage-safe, the grouped one once it does
    not."""
    framework = next(iter(FRAMEWORKS))
    rows = []
    for split, accuracy in (("random", 0.8), ("session", 0.3), ("grouped", 0.5)):
        records = [{"status": "ok", "metrics": {"accuracy": accuracy},
                    "config": {"seed": seed, "epochs": 20, "dropout": "shared"}}
                   for seed in range(2)]
        rows.append(Row(Setting("data", split, -1, "full", 64, "ab12cd34ef"), framework,
                        "baseline", "p", records))
    name = FRAMEWORKS[framework].name

    def shortcuts(rows: list[Row]) -> str:
        return str(keyed_answers(rows, 0.05)["shortcuts"])

    assert f"{name} session split (full) 30.0 % vs random 80.0 %" in shortcuts(rows)
    monkeypatch.setitem(SPLITS, "session",
                        dataclasses.replace(SPLITS["session"], leakage_safe=False))
    assert f"{name} grouped split (full) 50.0 % vs random 80.0 %" in shortcuts(rows)
