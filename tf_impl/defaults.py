"""`python -m tf_impl.defaults`: the tuned modes TensorFlow turns on by itself on this machine,
as one JSON line, so "out of the box" means what a user who sets nothing actually gets.

TensorFlow decides oneDNN by the CPU: on with AVX-512 VNNI/BF16 or AMX, off otherwise (the
AVX2 machines this project started on). The runner always sets TF_ENABLE_ONEDNN_OPTS
explicitly, so the harness asks here, once, and writes the answer into the out-of-the-box
configs: each record then names the setting that ran. XLA is never on by itself on a CPU.
"""

from __future__ import annotations

import json
import os
import sys

from tf_impl import ONEDNN_ENV


def cpu_defaults() -> dict[str, bool]:
    """TensorFlow's own choice for each of its modes, with the caller's oneDNN setting removed
    first (TF reads it once, at import, so it must go before TF loads)."""
    os.environ.pop(ONEDNN_ENV, None)
    from tf_impl.twin import TFTwin  # imports TensorFlow: after the pop

    return {"onednn": TFTwin.onednn_enabled(), "jit_compile": False}


def main() -> int:
    print(json.dumps(cpu_defaults()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
