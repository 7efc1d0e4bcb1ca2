"""`python -m tf_impl.parity --out parity.npz`: this twin's side of the parity check.

`benchmarks.parity.check` runs both probes and compares them with the NumPy float64 reference;
what a probe computes is defined once in `common_data.run.entry.parity_main`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from common_data.run.entry import parity_main
from tf_impl.run import make_twin


def main(argv: Sequence[str] | None = None) -> int:
    return parity_main("tf", make_twin, argv)


if __name__ == "__main__":
    sys.exit(main())
