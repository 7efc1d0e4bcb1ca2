"""Cross-dataset evaluation as a user runs it: a stored run scored on a folder it never saw.

Each framework trains one tiny run through the harness, then is evaluated on a flat folder
whose class names differ from the training set's (`anger`, `neutral`, plus an unknown `fear`),
with JPEG and BMP files of another size, some grayscale.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from common_data.errors import ConfigError
from common_data.run.schema import METRICS

pytestmark = pytest.mark.cross_env

# Folder in the new set -> folder of the synthetic set its frames are taken from.
SOURCES = {"anger": "angry", "neutral": "natural", "happy": "happy", "fear": "surpise"}
PER_FOLDER = {"anger": 4, "neutral": 4, "happy": 4, "fear": 3}


def _harness(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, env=env or os.environ.copy(),
                          timeout=300)


@pytest.fixture(scope="module", params=["torch", "tf"])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, str]:
    """(results folder, run id) of a one-epoch 32x32 run of the framework."""
    framework = request.param
    try:
        framework_python(framework)
    except ConfigError as exc:
        pytest.skip(f"framework env missing: {exc}")
    results = tmp_path_factory.mktemp(f"results-{framework}")
    run = _harness("compare", "--frameworks", framework, "--variants", "baseline", "--seeds", "0",
                   "--epochs", "1", "--image-size", "32", "--splits", "random", "--no-probe",
                   "--no-report", "--results", str(results))
    records = sorted((results / "runs").glob(f"{framework}-*.json"))
    if not records:
        tail = run.stderr.strip().splitlines()[-1:] or ["no output"]
        pytest.skip(f"no {framework} run record to evaluate (compare: {tail[0]})")
    return results, records[0].stem


@pytest.fixture(scope="module")
def other_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic frames re-encoded at 150x200 as JPEG and BMP, every other one grayscale."""
    from common_data.data.synthetic import ensure_synthetic

    source = ensure_synthetic()
    root = tmp_path_factory.mktemp("other") / "other-set"
    for folder, original in SOURCES.items():
        frames = sorted((source / original).rglob("*.png"))
        frames = frames[:: len(frames) // PER_FOLDER[folder]][: PER_FOLDER[folder]]
        (root / folder).mkdir(parents=True)
        for i, path in enumerate(frames):
            image = cv2.resize(cv2.imread(str(path)), (150, 200), interpolation=cv2.INTER_AREA)
            if i % 2:
                image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            assert cv2.imwrite(str(root / folder / f"frame{i}{'.jpg' if i < 2 else '.bmp'}"), image)
    return root


@pytest.fixture(scope="module")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Decoded test frames go to a temporary cache, not the project's .cache/."""
    return dict(os.environ, THERMAL_BENCH_CACHE=str(tmp_path_factory.mktemp("cache")))


def test_scores_an_unseen_folder_and_reports_what_it_could_not_map(
    trained: tuple[Path, str], other_data: Path, private_cache: dict[str, str]
) -> None:
    results, run_id = trained
    run = _harness("evaluate", "--run", run_id[:-4], "--data", str(other_data),
                   "--results", str(results), env=private_cache)
    assert run.returncode == 0, run.stderr
    for text in ("anger -> angry", "neutral -> natural", "happy -> happy",
                 "fear: 3 frames, not evaluated", "not in this folder: sad, surprise",
                 "accuracy", "macro F1", "recall per class", "confusion"):
        assert text in run.stdout

    (saved,) = (results / "evaluations").glob(f"{run_id}__other-set-*.json")
    doc = json.loads(saved.read_text())
    assert saved.name.endswith(f"-{doc['data']['dataset_hash'][:8]}.json")
    assert "(majority class 0.333)" in run.stdout
    assert doc["run_id"] == run_id
    assert doc["data"]["folders"] == {"anger": "angry", "happy": "happy", "neutral": "natural"}
    assert doc["data"]["frames"] == {"angry": 4, "happy": 4, "natural": 4}
    assert doc["data"]["unmapped"] == {"fear": 3}
    assert doc["data"]["absent_classes"] == ["sad", "surprise"]
    assert METRICS(doc["metrics"], "metrics") == []
    assert doc["metrics"]["n"] == 12 and sum(map(sum, doc["metrics"]["confusion"])) == 12
    assert (saved.parent / doc["predictions_file"]).is_file()
    assert not list(saved.parent.glob(".*.tmp"))


def test_json_output_with_user_aliases(
    trained: tuple[Path, str], other_data: Path, private_cache: dict[str, str], tmp_path: Path
) -> None:
    results, run_id = trained
    aliases = tmp_path / "aliases.toml"
    aliases.write_text('[aliases]\nfear = "surprise"\n')
    run = _harness("evaluate", "--run", run_id, "--data", str(other_data), "--results",
                   str(results), "--aliases", str(aliases), "--json", env=private_cache)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["data"]["unmapped"] == {}
    assert doc["data"]["frames"]["surprise"] == 3
    assert doc["metrics"]["n"] == 15
    assert doc["metrics"]["per_class"]["surprise"]["support"] == 3


def test_stored_weights_reproduce_the_runs_own_predictions(trained: tuple[Path, str]) -> None:
    """Scoring the training data again must give the record's validation probabilities:
    proof that the weights were reloaded into the right layers, not just that a number came
    out."""
    results, run_id = trained
    run = _harness("evaluate", "--run", run_id, "--data", "synthetic", "--results", str(results))
    assert run.returncode == 0, run.stderr
    assert "this is the dataset the run was trained on" in run.stdout
    with np.load(results / "runs" / f"{run_id}.predictions.npz") as stored:
        val, proba = stored["val_indices"], stored["proba"]
    (scored_path,) = (results / "evaluations").glob(f"{run_id}__synthetic-*.predictions.npz")
    with np.load(scored_path) as scored:
        np.testing.assert_allclose(scored["proba"][val], proba, atol=1e-6)


@pytest.mark.parametrize("case", ["unknown run", "missing data", "missing weights"])
def test_bad_input_fails_with_one_line(
    case: str, trained: tuple[Path, str], other_data: Path, tmp_path: Path
) -> None:
    results, run_id = trained
    args = {"--run": run_id, "--data": str(other_data), "--results": str(results)}
    expected: tuple[str, ...]
    if case == "unknown run":
        args["--run"] = "no-such-run"
        expected = ("'no-such-run'", "ls ")
    elif case == "missing data":
        args["--data"] = str(tmp_path / "absent")
        expected = (str(tmp_path / "absent"), "does not exist")
    else:
        (tmp_path / "runs").mkdir()
        shutil.copy(results / "runs" / f"{run_id}.json", tmp_path / "runs")
        args["--results"] = str(tmp_path)
        expected = ("weights file", "is missing", "--force")
    run = _harness("evaluate", *[item for pair in args.items() for item in pair])
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert run.stderr.startswith("error: ")
    for text in expected:
        assert text in run.stderr
