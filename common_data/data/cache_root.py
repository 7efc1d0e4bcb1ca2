"""Where the project keeps what it derives from data: decoded images, the file-hash index and
the generated synthetic set.

It lives apart from `cache.py` and `hash_index.py` because both need it and neither should
import the other for one path (that was an import loop).
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "THERMAL_BENCH_CACHE"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cache_root() -> Path:
    """`$THERMAL_BENCH_CACHE` when set, else `.cache/` in the project root."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else PROJECT_ROOT / ".cache"
