"""Facts about the machine and the process a run took its timings on.

The same for both twins, so written once; the record keeps them beside the framework's own
facts so a report never pools timings from different machines or loads without saying so.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
from datetime import UTC, datetime
from typing import Any

from common_data.errors import ConfigError
from common_data.run.cpu import cpu_name
from common_data.run.twin import Twin
from common_data.wire import CONCURRENT_RUNS_ENV, NODE_ENV


def concurrent_runs() -> int:
    """How many runs (this one included) the harness let share the machine. Timings taken
    beside other runs are not comparable with timings taken alone, so the record says so."""
    value = os.environ.get(CONCURRENT_RUNS_ENV, "1")
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{CONCURRENT_RUNS_ENV}={value!r}: expected an integer >= 1")
    return int(value)


def environment(twin: Twin) -> dict[str, Any]:
    """The twin's framework facts plus the host facts, which are the same for both twins.

    The host name (and, under Ray, the node id) says which machine took the timings, so a
    report never pools timings from different machines without saying so."""
    info = twin.environment()
    return {
        "framework": twin.framework, "framework_version": info["framework_version"],
        "python": platform.python_version(), "os": platform.platform(), "cpu": cpu_name(),
        "gpu": info["gpu"], "device": info["device"], "threads": info["threads"],
        "concurrent_runs": concurrent_runs(), "host": platform.node(),
        **({"node": os.environ[NODE_ENV]} if os.environ.get(NODE_ENV) else {}),
    }


def peak_rss_mb() -> float:
    """ru_maxrss is in KiB on Linux and in bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def now() -> str:
    """UTC, to the second, as the record's started_at / finished_at."""
    return datetime.now(UTC).isoformat(timespec="seconds")
