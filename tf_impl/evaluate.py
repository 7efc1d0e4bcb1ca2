"""`python -m tf_impl.evaluate --record R --data D --out out.npz`: score a stored run's
weights on another dataset folder.

Data, batches and the NPZ are common_data's (`common_data.run.evaluation`); this module only
rebuilds the network from the spec and loads the .weights.h5 (or .keras) file the twin saved.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from common_data.model.spec import Spec
from common_data.run.config import RunConfig
from common_data.run.evaluation import Predictor, evaluate_main, weights_error


def load_predictor(spec: Spec, weights: Path, config: RunConfig) -> Predictor:
    """The trained network in inference mode. The framework is imported here, after every
    argument was checked, so a bad argument fails before TensorFlow's slow import."""
    import numpy as np
    import tensorflow as tf

    from tf_impl.model import build_model
    from tf_impl.twin import configure_runtime, pick_device

    configure_runtime(config)
    device = pick_device(config.device)
    with tf.device(device):
        model = build_model(spec, dropout_seed=config.seed)
        try:
            # Keras matches layers by name and shape and refuses a file that does not fit.
            model.load_weights(str(weights))
        except (OSError, ValueError) as exc:
            raise weights_error(weights, spec, exc) from None

    def predict(x: np.ndarray) -> np.ndarray:
        with tf.device(device):
            logits = model(tf.constant(x), training=False)
        return np.asarray(logits, dtype=np.float64)

    return predict


def main(argv: Sequence[str] | None = None) -> int:
    return evaluate_main("tf", load_predictor, argv)


if __name__ == "__main__":
    sys.exit(main())
