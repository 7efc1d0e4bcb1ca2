"""The report's per-model cost table: one row per model and timing condition, from records."""

import pytest

from benchmarks.performance.model_cost import cost_rows, section

pytestmark = pytest.mark.cross_env


def _record(framework: str, step_ms: float, *, spec: str = "resnet50", jobs: int = 1,
            transfer: str = "scratch", rss: float = 900.0, status: str = "ok") -> dict:
    return {
        "status": status, "framework": framework,
        "config": {"image_size": 64, "batch_size": 32, "threads": 1, "transfer": transfer,
                   "mode": {"onednn": framework == "tf", "channels_last": False}},
        "environment": {"concurrent_runs": jobs},
        "model": {"spec": spec, "params_total": 23_528_522},
        "timing": {"step_ms_median": step_ms, "images_per_s": 32_000 / step_ms},
        "memory": {"peak_rss_mb": rss, "device_peak_mb": None},
    }


def test_one_row_per_model_and_condition_with_the_median_step() -> None:
    rows = cost_rows([
        _record("torch", 900.0), _record("torch", 1000.0), _record("torch", 5000.0, rss=1500.0),
        _record("torch", 400.0, jobs=2),                   # timed beside another run
        _record("tf", 700.0),
        _record("torch", 800.0, transfer="v2"),
        _record("torch", 1.0, status="failed"),            # never timed
    ])
    by = {(r["model"], r["framework"], r["runs_at_once"]): r for r in rows}
    assert set(by) == {("resnet50", "torch", 1), ("resnet50", "torch", 2), ("resnet50", "tf", 1),
                       ("resnet50 (transfer v2)", "torch", 1)}
    alone = by[("resnet50", "torch", 1)]
    assert (alone["runs"], alone["step_ms"], alone["peak_mb"]) == (3, 1000.0, 1500.0)
    assert by[("resnet50", "tf", 1)]["modes"] == "onednn"


def test_section_renders_a_row_per_model_and_nothing_without_records() -> None:
    text = "\n".join(section([_record("tf", 700.0)]))
    row = "| resnet50 | 23,528,522 | 64x64 | 32 | 1 | onednn | 1 | TensorFlow | 1 | 700.0 |"
    assert row in text
    assert section([]) == []
