"""What the CPU is and which bf16 instructions it has, from /proc/cpuinfo.

Apart from `host` (which needs the twin) because the run config's validation asks it too:
a bf16 mode on a CPU without native bf16 is refused before anything runs.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

CPUINFO_ENV = "THERMAL_BENCH_CPUINFO"
# x86 flags with which the frameworks' CPU kernel library computes bf16 convolutions and
# matmuls natively; without them bf16 is emulated and slower than float32
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpuinfo_path() -> Path:
    """The file CPU facts are read from: /proc/cpuinfo, or `THERMAL_BENCH_CPUINFO` (tests point
    it at a file describing another CPU, e.g. one without bf16)."""
    return Path(os.environ.get(CPUINFO_ENV) or "/proc/cpuinfo")


def _cpuinfo_lines() -> list[str]:
    try:
        return cpuinfo_path().read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it, else what `platform` knows."""
    for line in _cpuinfo_lines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def cpu_bf16_features() -> list[str]:
    """The CPU's flags among BF16_CPU_FLAGS; empty on a CPU without them, or where there is
    no /proc/cpuinfo to tell."""
    flags: set[str] = set()
    for line in _cpuinfo_lines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return [flag for flag in BF16_CPU_FLAGS if flag in flags]


def bf16_cpu_problem(where: str) -> str | None:
    """The one-line refusal of a bf16 mode on this CPU, None where the CPU has bf16."""
    if cpu_bf16_features():
        return None
    return (f"{where}: mode 'mixed_precision' (bf16) on the CPU needs the CPU feature "
            f"{' or '.join(BF16_CPU_FLAGS)}, which {cpuinfo_path()} does not list "
            "(use a GPU, or turn the mode off)")
