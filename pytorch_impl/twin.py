"""The PyTorch half of a training run: the `Twin` hooks that `common_data.run.loop` drives.

Everything that could make the twins differ other than the framework itself (data, epochs,
early stopping, timing, metrics) lives in the protocol; this file holds only what torch must do.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F

from common_data.atomic import atomic_path
from common_data.errors import ConfigError
from common_data.model.dropout import Masks
from common_data.model.spec import Spec
from common_data.run.config import RunConfig
from common_data.run.cpu import bf16_cpu_problem
from common_data.run.twin import Twin
from pytorch_impl.model import (
    build_model,
    canonical_shapes,
    canonical_state,
    freeze_all_but,
    load_weights,
    to_framework_masks,
)

WEIGHTS_FILE = "model.safetensors"


class TorchTwin(Twin):
    framework = "torch"

    def build(self, spec: Spec, weights: Mapping[str, np.ndarray], config: RunConfig) -> None:
        configure_runtime(config)
        self.device = pick_device(config.device)
        self.channels_last = config.mode.channels_last
        self.mixed_precision = config.mode.mixed_precision
        problem = bf16_cpu_problem("run config") if self.device.type == "cpu" else None
        if self.mixed_precision and problem:
            raise ConfigError(problem)
        torch.manual_seed(config.seed)
        self.model = build_model(spec)
        load_weights(self.model, weights)
        if config.transfer == "v1":
            freeze_all_but(self.model, spec.layers[-1].name)
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model.to(self.device, memory_format=memory_format)
        self.forward = torch.compile(self.model) if config.mode.compile else self.model
        opt = config.optimizer
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=opt.lr,
                                          betas=(opt.beta_1, opt.beta_2), eps=opt.epsilon)
        self.epsilon, self.beta_2, self.steps = opt.epsilon, opt.beta_2, 0
        self.training = True
        self.model.train()

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return canonical_shapes(self.model)

    def trainable_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def train_step(
        self, x: np.ndarray, y: np.ndarray, masks: Masks | None = None
    ) -> tuple[float, np.ndarray]:
        images, labels = self._inputs(x), torch.from_numpy(y).to(self.device)
        shared = to_framework_masks(masks if self.training else None, self.device)
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            logits = self.forward(images, shared)
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        self._align_epsilon()
        self.optimizer.step()
        self._synchronize()
        return float(loss.item()), logits.detach().float().cpu().numpy()

    def predict_logits(self, x: np.ndarray, masks: Masks | None = None) -> np.ndarray:
        self.model.eval()
        try:
            with torch.no_grad(), self._autocast():
                logits = self.forward(self._inputs(x), to_framework_masks(masks, self.device))
            result = logits.float().cpu().numpy()
        finally:
            self.model.train(self.training)
        return result

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def set_training(self, training: bool) -> None:
        self.training = training
        self.model.train(training)

    def canonical_state(self) -> dict[str, np.ndarray]:
        return canonical_state(self.model)

    def get_state(self) -> Any:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def set_state(self, state: Any) -> None:
        self.model.load_state_dict(state)

    def save_weights(self, folder: Path) -> Path:
        path = folder / WEIGHTS_FILE
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        with atomic_path(path) as tmp:
            safetensors.torch.save_file(tensors, str(tmp), metadata={"layout": "OIHW, (out, in)"})
        return path

    def environment(self) -> dict[str, Any]:
        gpu = gpu_name(self.device)
        return {
            "framework_version": torch.__version__,
            "gpu": gpu,
            "device": gpu or "cpu",
            "threads": {"intra_op": torch.get_num_threads(),
                        "inter_op": torch.get_num_interop_threads()},
        }

    def device_peak_memory_mb(self) -> float | None:
        if self.device.type != "cuda":
            return None
        return torch.cuda.max_memory_allocated(self.device) / 2**20

    def _inputs(self, x: np.ndarray) -> torch.Tensor:
        """NHWC float32 from the shared batches -> NCHW on the device. The permuted view of
        NHWC memory already has channels_last strides, so that mode costs no copy."""
        images = torch.from_numpy(x).to(self.device).permute(0, 3, 1, 2)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        return images.contiguous(memory_format=fmt)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bf16 autocast on the twin's device (CPU or CUDA): convolutions and matmuls in bf16,
        the parameters and Adam's state stay float32 (autocast casts copies), and the output
        layer runs in float32 (pytorch_impl.model), as Keras' mixed_bfloat16 policy keeps it."""
        if not self.mixed_precision:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def _align_epsilon(self) -> None:
        """Keras adds epsilon to sqrt(v) before Adam's bias correction (the paper's
        "epsilon hat"), torch after it, so the same epsilon is a different optimizer:
        early on Keras' is effectively 1/sqrt(1 - beta_2**t) times larger (~32x at step 1).
        Scaling torch's per step makes its update Keras' exactly; without it the twins'
        loss trajectories part visibly within ten steps (see benchmarks.parity.check)."""
        self.steps += 1
        eps = self.epsilon / math.sqrt(1.0 - self.beta_2**self.steps)
        for group in self.optimizer.param_groups:
            group["eps"] = eps

    def _synchronize(self) -> None:
        """.item() already waits for the loss, but the optimizer's kernels are queued after
        it; the step is timed to the end of the update."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def configure_runtime(config: RunConfig) -> None:
    """Threads and float32 precision, before any parallel work: the interop pool can be
    sized only once per process, and TF32 (torch's default for cuDNN convs, TF's for
    everything) is switched off in both twins so a GPU run compares true float32."""
    torch.set_num_threads(config.threads)
    if torch.get_num_interop_threads() != config.inter_op_threads:
        torch.set_num_interop_threads(config.inter_op_threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def gpu_name(device: torch.device) -> str | None:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else None


def pick_device(requested: str) -> torch.device:
    """'auto' takes the GPU when one is present; asking for a GPU that is absent is an error
    rather than a silent CPU run that the record would mislabel."""
    available = torch.cuda.is_available()
    if requested == "gpu" and not available:
        raise ConfigError(
            "device 'gpu' was requested, but torch found no CUDA device: use --device cpu or auto"
        )
    return torch.device("cuda" if available and requested != "cpu" else "cpu")
