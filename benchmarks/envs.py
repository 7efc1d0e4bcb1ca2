"""Where each framework's interpreter lives.

Every run executes in its framework's own tox environment (torch on Python 3.11, tf on
Python 3.13), so the harness only needs to know each environment's python.
"""

import os
from pathlib import Path

from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORKS

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
            f"`tox run -e {framework} --notest` from {PROJECT_ROOT}"
        )
    return python
