"""`python -m tests.numpy_twin.parity --out parity.npz`: this twin's side of the parity check."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from common_data.run.entry import parity_main
from tests.numpy_twin.run import make_twin
from tests.numpy_twin.twin import NumpyTwin


def main(argv: Sequence[str] | None = None) -> int:
    return parity_main(NumpyTwin.framework, make_twin, argv)


if __name__ == "__main__":
    sys.exit(main())
