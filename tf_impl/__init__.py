"""The TensorFlow/Keras twin: the framework half of a run (model, train step, runner, parity probe).

Mirrors `pytorch_impl` file for file and function for function, so a diff of the two packages
shows every place where the frameworks genuinely differ.
"""

from common_data.frameworks import FRAMEWORKS

# read by TensorFlow once, at import: the runner and the benchmark suites set it explicitly,
# "0" or "1", because TF's own default depends on the CPU (on with AVX-512/AMX, off without)
ONEDNN_ENV: str = FRAMEWORKS["tf"].process_env or ""
