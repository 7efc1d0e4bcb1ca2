"""Where each framework's interpreter lives.

Every run executes in its framework's own tox environment (torch on Python 3.11, tf on
Python 3.13), so the harness only needs to know each environment's python.
"""

import json
import os
import subprocess
from pathlib import Path

from common_data.errors import BenchError, ConfigError
from common_data.frameworks import FRAMEWORKS

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def env_python(tox_dir: Path, framework: str) -> Path:
    """Where tox puts a framework env's interpreter inside a tox work folder."""
    return tox_dir / FRAMEWORKS[framework].tox_env / "bin" / "python"


def framework_python(framework: str) -> Path:
    """Return the interpreter of the framework's tox env; `THERMAL_BENCH_PYTHON_<FW>` overrides."""
    if framework not in FRAMEWORKS:
        raise ConfigError(
            f"unknown framework {framework!r}: expected one of {', '.join(FRAMEWORKS)}"
        )
    override = os.environ.get(f"THERMAL_BENCH_PYTHON_{framework.upper()}")
    python = Path(override) if override else env_python(PROJECT_ROOT / ".tox", framework)
    if not python.exists():
        raise ConfigError(
            f"tox env {framework!r} not found ({python}): create it with "
            f"`tox run -e {FRAMEWORKS[framework].tox_env} --notest` from {PROJECT_ROOT}"
        )
    return python


def framework_defaults(framework: str) -> dict[str, bool]:
    """The tuned modes the framework turns on by itself on this machine (a process mode's
    default may depend on the CPU), asked of its own env: the harness imports no framework."""
    module = FRAMEWORKS[framework].module("defaults")
    done = subprocess.run([str(framework_python(framework)), "-m", module], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"python -m {module} exited {done.returncode}: {why}")
    try:
        answer = json.loads(lines[-1])
        return {str(key): bool(on) for key, on in answer.items()}
    except (ValueError, AttributeError):
        raise BenchError(f"python -m {module} printed {lines[-1]!r}: expected one JSON object "
                         "of mode -> true|false") from None
