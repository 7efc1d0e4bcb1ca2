"""`python -m pytorch_impl.evaluate --record R --data D --out out.npz`: score a stored run's
weights on another dataset folder.

Data, batches and the NPZ are common_data's (`common_data.run.evaluation`); this module only
rebuilds the network from the spec and loads the safetensors file the twin saved.
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
    argument was checked, so a bad argument fails before torch's slow import."""
    import numpy as np
    import safetensors.torch
    import torch

    from pytorch_impl.model import build_model
    from pytorch_impl.twin import configure_runtime, pick_device

    configure_runtime(config)
    device = pick_device(config.device)
    model = build_model(spec)
    try:
        # strict: a missing or extra tensor would leave part of the network untrained.
        model.load_state_dict(safetensors.torch.load_file(str(weights)), strict=True)
    except (OSError, RuntimeError, safetensors.SafetensorError) as exc:
        raise weights_error(weights, spec, exc) from None
    model.to(device).eval()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            logits = model(torch.from_numpy(x).to(device).permute(0, 3, 1, 2).contiguous())
        return logits.double().cpu().numpy()

    return predict


def main(argv: Sequence[str] | None = None) -> int:
    return evaluate_main("torch", load_predictor, argv)


if __name__ == "__main__":
    sys.exit(main())
