"""The benchmark workloads' framework-free half: the published-pipeline emulation must
produce the very batches the shared loader does, or the end-to-end comparison is unfair."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from common_data.bench import suite as suite_plan
from common_data.bench.workload import published_batches
from common_data.data import cache
from common_data.data.batches import iterate_batches
from common_data.data.discovery import discover
from common_data.data.preprocess import Preprocess
from common_data.run.cpu import CPUINFO_ENV


def test_published_emulation_gives_the_shared_loaders_bytes(
    make_dataset: Callable[..., Path], tmp_cache: Path
) -> None:
    root = make_dataset(per_folder=3)
    preprocess = Preprocess(size=16)
    images = cache.load(discover(root), preprocess)
    indices = np.arange(len(images))[::-1].copy()
    for augment in (False, True):
        kwargs = dict(batch_size=4, seed=3, epoch=1, shuffle=augment, augment=augment)
        ours = list(iterate_batches(images.images, images.labels, indices, **kwargs))
        theirs = list(published_batches(images.records, images.labels, indices, preprocess,
                                        **kwargs))
        assert len(ours) == len(theirs) == 4
        for (x, y), (px, py) in zip(ours, theirs, strict=True):
            assert x.dtype == px.dtype == np.float32
            assert np.array_equal(x, px) and np.array_equal(y, py)


def test_bf16_cases_run_on_a_gpu_or_a_bf16_cpu_and_are_skipped_with_the_reason_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setenv(CPUINFO_ENV, str(cpuinfo))
    cpuinfo.write_text("processor\t: 0\nflags\t\t: avx2 avx512f\n")
    modes = ("default", "mixed_precision", "bf16_channels_last")
    assert [suite_plan.mode_precision("torch", m) for m in modes] == ["sgemm", "bf16", "bf16"]
    assert suite_plan.mode_precision("tf", "bf16_onednn") == "bf16"
    reason = suite_plan.unavailable_reason("bf16", gpu=False)
    assert reason and reason.startswith("no GPU: mode 'mixed_precision' (bf16) on the CPU needs "
                                        "the CPU feature avx512_bf16 or amx_bf16")
    assert suite_plan.unavailable_reason("bf16", gpu=True) is None
    assert suite_plan.unavailable_reason("sgemm", gpu=False) is None
    cpuinfo.write_text("processor\t: 0\nflags\t\t: avx2 avx512f avx512_bf16\n")
    assert suite_plan.unavailable_reason("bf16", gpu=False) is None
