"""`python -m tests.numpy_twin.run --config run.json --out result.json`: one run, this process."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from common_data.run.config import RunConfig
from common_data.run.entry import run_main
from common_data.run.twin import Twin
from tests.numpy_twin.twin import NumpyTwin


def make_twin(config: RunConfig | None = None) -> Twin:
    return NumpyTwin()


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(NumpyTwin.framework, make_twin, argv)


if __name__ == "__main__":
    sys.exit(main())
