"""A reduced-precision mode is chosen for a finding or a matrix only once it was shown faithful.

bf16 (mode `mixed_precision`) rounds every conv and matmul input to 8 bits of mantissa; that it
still trains the same model is a measured claim (`python -m benchmarks bf16-check`, which
writes `results/performance/bf16_check.json`), not an assumption. A finding protocol or a
matrix profile that picks such a mode for a framework whose check failed, or was never run,
is refused in one line. The profile that makes the check's own records says so
(`faithfulness_check = true`) and is exempt. `--mode` flags on the command line are the
user's explicit experiment and are not refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from benchmarks.matrix.envs import PROJECT_ROOT
from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORKS

CHECKED_MODES = {"mixed_precision": "bf16"}  # mode key -> the precision its check is about
CHECK_PATH = PROJECT_ROOT / "results" / "performance" / "bf16_check.json"
HOW_TO_CHECK = ("python -m benchmarks compare --profile bf16_check, then "
                "python -m benchmarks bf16-check")


def check_status(framework: str, path: Path | None = None) -> str:
    """'passed', 'failed', 'incomplete' or 'not run' (no file, an unreadable one, or no entry
    for the framework): the bf16 check's verdict for one framework."""
    path = path or CHECK_PATH
    try:
        check = json.loads(path.read_text(encoding="utf-8"))
        status = check["frameworks"][framework]["status"]
    except (OSError, ValueError, KeyError, TypeError):
        return "not run"
    return status if status in ("passed", "failed", "incomplete") else "not run"


def profile_choices(profile: Mapping[str, Any],
                    frameworks: Iterable[str] | None = None) -> dict[str, dict[str, bool]]:
    """framework -> the modes a matrix profile (or a finding protocol, which has only
    per-framework tables) turns on for it: its [run.mode], any [variant.*.mode] and its
    [framework.<key>.mode]."""
    shared: dict[str, bool] = dict((profile.get("run") or {}).get("mode") or {})
    for table in (profile.get("variant") or {}).values():
        for key, on in ((table or {}).get("mode") or {}).items():
            shared[key] = bool(shared.get(key)) or bool(on)
    chosen = {}
    for framework in frameworks or profile.get("frameworks") or FRAMEWORKS:
        own = (((profile.get("framework") or {}).get(framework) or {}).get("mode") or {})
        chosen[framework] = {**shared, **own}
    return chosen


def refuse_unchecked(choices: Mapping[str, Mapping[str, Any]], where: str,
                     path: Path | None = None) -> None:
    """ConfigError naming the first (framework, mode) picked without a passed check."""
    path = path or CHECK_PATH
    for framework, modes in choices.items():
        for key, precision in CHECKED_MODES.items():
            if not modes.get(key):
                continue
            status = check_status(framework, path)
            if status != "passed":
                raise ConfigError(
                    f"{where}: picks mode '{key}' ({precision}) for {framework!r}, whose "
                    f"{precision}-vs-float32 accuracy check is {status} ({path}); a mode is "
                    f"chosen only once shown faithful: run {HOW_TO_CHECK}")
