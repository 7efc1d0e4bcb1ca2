"""`python -m tf_impl.run --config run.json --out result.json`: one run, this process.

The protocol (data, epochs, timing, metrics, the record) is common_data's; this module only
names the framework and hands over its twin.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from common_data.run.config import RunConfig
from common_data.run.entry import run_main
from common_data.run.twin import Twin
from tf_impl import ONEDNN_ENV


def make_twin(config: RunConfig | None = None) -> Twin:
    """Imported here, after the config was validated, so a bad config fails before the
    framework's slow import. TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, at import, so the
    onednn mode is set here, explicitly either way: TF's own default depends on the CPU
    (on without AVX-512/AMX is off), and a record must say what actually ran."""
    if config is not None:
        os.environ[ONEDNN_ENV] = "1" if config.mode.onednn else "0"
    from tf_impl.twin import TFTwin

    return TFTwin()


def main(argv: Sequence[str] | None = None) -> int:
    return run_main("tf", make_twin, argv)


if __name__ == "__main__":
    sys.exit(main())
