"""`python -m pytorch_impl.defaults`: the tuned modes PyTorch turns on by itself on this machine,
as one JSON line; the twin of `tf_impl.defaults`, so the harness asks both the same way.

PyTorch decides neither by the CPU: tensors stay NCHW-contiguous unless a program asks for
channels_last, and nothing is compiled unless it calls torch.compile.
"""

from __future__ import annotations

import json
import sys


def cpu_defaults() -> dict[str, bool]:
    """PyTorch's own choice for each of its modes: off, on every machine."""
    return {"channels_last": False, "compile": False}


def main() -> int:
    print(json.dumps(cpu_defaults()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
