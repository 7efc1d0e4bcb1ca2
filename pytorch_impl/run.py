"""`python -m pytorch_impl.run --config run.json --out result.json`: one run, this process.

The protocol (data, epochs, timing, metrics, the record) is common_data's; this module only
names the framework and hands over its twin.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from common_data.run.config import RunConfig
from common_data.run.entry import run_main
from common_data.run.twin import Twin


def make_twin(config: RunConfig | None = None) -> Twin:
    """Imported here, after the config was validated, so a bad config fails before the
    framework's slow import. torch needs nothing from the config before its import."""
    from pytorch_impl.twin import TorchTwin

    return TorchTwin()


def main(argv: Sequence[str] | None = None) -> int:
    return run_main("torch", make_twin, argv)


if __name__ == "__main__":
    sys.exit(main())
