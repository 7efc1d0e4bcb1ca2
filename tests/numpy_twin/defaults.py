"""`python -m tests.numpy_twin.defaults`: the tuned modes NumPy turns on by itself (it has none)."""

from __future__ import annotations

import json
import sys


def main() -> int:
    print(json.dumps({}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
