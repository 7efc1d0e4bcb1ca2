"""The NumPy twin: the reference model's float64 forward pass plus its backward pass and Adam.

Layer for layer it computes what `common_data.model.layers` computes (same padding, pooling,
flatten order and shared dropout masks), and it places Adam's epsilon the Keras way, as the
torch twin does, so parity holds against the float32 twins within their own rounding. Only the
layers of the baseline CNNs are supported; anything else is refused at build with one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from common_data.atomic import save_npz_atomic
from common_data.errors import ConfigError
from common_data.model.dropout import Masks
from common_data.model.layers import ops
from common_data.model.layers.base import Layer
from common_data.model.layers.basic import conv_pad
from common_data.model.reference import softmax_cross_entropy
from common_data.model.spec import Spec
from common_data.run.config import RunConfig
from common_data.run.twin import Twin

SUPPORTED = ("conv", "maxpool", "flatten", "dense", "dropout")
WEIGHTS_FILE = "model.npz"


def _windows(x: np.ndarray, size: int, stride: int, shape: tuple[int, int]):
    """Each (i, j) offset of a size x size window and the strided view of `x` it covers."""
    ho, wo = shape
    for i in range(size):
        for j in range(size):
            yield i, j, x[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]


class NumpyTwin(Twin):
    framework: ClassVar[str] = "numpy"

    def build(self, spec: Spec, weights: Mapping[str, np.ndarray], config: RunConfig) -> None:
        unsupported = [layer for layer in spec.layers if layer.type not in SUPPORTED]
        if unsupported:
            raise ConfigError(f"numpy twin: layer {unsupported[0].name!r} of type "
                              f"{unsupported[0].type!r} is not supported (expected "
                              f"{', '.join(SUPPORTED)})")
        if config.device == "gpu":
            raise ConfigError("numpy twin: device 'gpu' was requested, but NumPy runs on the "
                              "CPU only: use --device cpu or auto")
        if config.mode.mixed_precision:
            raise ConfigError("numpy twin: mode mixed_precision is not supported (float64 only)")
        self.spec, self.config = spec, config
        self.params = {name: np.array(weights[name], dtype=np.float64)
                       for name, _ in spec.param_shapes()}
        last = f"{spec.layers[-1].name}."
        self.trainable = [name for name in self.params
                          if config.transfer != "v1" or name.startswith(last)]
        opt = config.optimizer
        self.lr, self.betas, self.epsilon = opt.lr, (opt.beta_1, opt.beta_2), opt.epsilon
        self.m = {name: np.zeros_like(self.params[name]) for name in self.trainable}
        self.v = {name: np.zeros_like(self.params[name]) for name in self.trainable}
        self.steps, self.training = 0, True
        self.rng = np.random.default_rng(config.seed)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(value.shape) for name, value in self.params.items()}

    def trainable_params(self) -> int:
        return sum(self.params[name].size for name in self.trainable)

    def train_step(
        self, x: np.ndarray, y: np.ndarray, masks: Masks | None = None
    ) -> tuple[float, np.ndarray]:
        if self.training and masks is None:
            masks = self._own_masks(x)
        logits, tape = self._forward(x, masks if self.training else None)
        loss = softmax_cross_entropy(logits, y)
        grads = self._backward(logits, y, tape)
        self._adam(grads)
        return loss, logits

    def predict_logits(self, x: np.ndarray, masks: Masks | None = None) -> np.ndarray:
        return self._forward(x, masks)[0]

    def set_lr(self, lr: float) -> None:
        self.lr = lr

    def set_training(self, training: bool) -> None:
        self.training = training

    def canonical_state(self) -> dict[str, np.ndarray]:
        return {name: value.astype(np.float32) for name, value in self.params.items()}

    def get_state(self) -> Any:
        return {name: value.copy() for name, value in self.params.items()}

    def set_state(self, state: Any) -> None:
        self.params = {name: value.copy() for name, value in state.items()}

    def save_weights(self, folder: Path) -> Path:
        path = folder / WEIGHTS_FILE
        save_npz_atomic(path, **self.params)
        return path

    def environment(self) -> dict[str, Any]:
        return {"framework_version": np.__version__, "gpu": None, "device": "cpu",
                "threads": {"intra_op": self.config.threads,
                            "inter_op": self.config.inter_op_threads}}

    def device_peak_memory_mb(self) -> float | None:
        return None

    def _own_masks(self, x: np.ndarray) -> Masks:
        """Dropout drawn by the twin itself (config dropout 'framework')."""
        masks, shape = {}, x.shape[1:]
        for layer, out in zip(self.spec.layers, self.spec.output_shapes(), strict=True):
            if layer.type == "dropout" and layer.rate:
                keep = self.rng.random((len(x), *shape)) >= layer.rate
                masks[layer.name] = keep / (1.0 - layer.rate)
            shape = out[1]
        return masks

    def _own(self, layer: Layer) -> dict[str, np.ndarray]:
        prefix = f"{layer.name}."
        return {name[len(prefix):]: value for name, value in self.params.items()
                if name.startswith(prefix)}

    def _forward(self, x: np.ndarray, masks: Masks | None) -> tuple[np.ndarray, list[Any]]:
        """Logits and, per layer, what its backward pass needs."""
        out = np.asarray(x, dtype=np.float64)
        tape: list[Any] = []
        for layer in self.spec.layers:
            own, inputs = self._own(layer), out
            if layer.type == "conv":
                pad = conv_pad(layer)
                out = ops.conv2d(inputs, own["kernel"], layer.stride, pad)
                if layer.bias:
                    out = out + own["bias"]
                tape.append(ops.pad2d(inputs, pad))
            elif layer.type == "maxpool":
                stride = layer.stride or layer.size
                out = ops.maxpool(inputs, layer.size, stride, layer.padding)
                tape.append(ops.pad2d(inputs, layer.padding, -np.inf))
            elif layer.type == "flatten":
                out = inputs.reshape(len(inputs), -1)
                tape.append(inputs.shape)
            elif layer.type == "dense":
                out = inputs @ own["kernel"] + own["bias"]
                tape.append(inputs)
            else:  # dropout: the shared (or own) mask in training, the identity otherwise
                mask = (masks or {}).get(layer.name)
                out = inputs if mask is None else inputs * np.asarray(mask, np.float64)
                tape.append(mask)
            if getattr(layer, "activation", "none") == "relu":
                out = np.maximum(out, 0.0)
            tape[-1] = (tape[-1], out)
        return out, tape

    def _backward(self, logits: np.ndarray, y: np.ndarray, tape: list[Any]) -> dict[str, Any]:
        """Gradients of the mean cross-entropy by canonical parameter name."""
        z = logits - logits.max(axis=1, keepdims=True)
        grad = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        grad[np.arange(len(y)), y] -= 1.0
        grad /= len(y)
        grads: dict[str, np.ndarray] = {}
        for layer, (saved, out) in zip(reversed(self.spec.layers), reversed(tape), strict=True):
            if getattr(layer, "activation", "none") == "relu":
                grad = grad * (out > 0)
            own, name = self._own(layer), layer.name
            if layer.type == "conv":
                grad = self._conv_backward(layer, saved, own, grad, grads)
            elif layer.type == "maxpool":
                grad = self._pool_backward(layer, saved, out, grad)
            elif layer.type == "flatten":
                grad = grad.reshape(saved)
            elif layer.type == "dense":
                grads[f"{name}.kernel"] = saved.T @ grad
                grads[f"{name}.bias"] = grad.sum(axis=0)
                grad = grad @ own["kernel"].T
            elif saved is not None:
                grad = grad * np.asarray(saved, np.float64)
        return grads

    def _conv_backward(self, layer: Layer, padded: np.ndarray, own: dict[str, np.ndarray],
                       grad: np.ndarray, grads: dict[str, np.ndarray]) -> np.ndarray:
        kernel, pad = own["kernel"], conv_pad(layer)
        d_kernel = np.zeros_like(kernel)
        d_padded = np.zeros_like(padded)
        flat = grad.reshape(-1, grad.shape[-1])
        for i, j, window in _windows(padded, kernel.shape[0], layer.stride, grad.shape[1:3]):
            d_kernel[i, j] = window.reshape(-1, window.shape[-1]).T @ flat
        for i, j, window in _windows(d_padded, kernel.shape[0], layer.stride, grad.shape[1:3]):
            window += grad @ kernel[i, j].T
        grads[f"{layer.name}.kernel"] = d_kernel
        if layer.bias:
            grads[f"{layer.name}.bias"] = grad.sum(axis=(0, 1, 2))
        h, w = padded.shape[1:3]
        return d_padded[:, pad:h - pad, pad:w - pad]

    def _pool_backward(self, layer: Layer, padded: np.ndarray, out: np.ndarray,
                       grad: np.ndarray) -> np.ndarray:
        """Each output's gradient goes to the first input of its window that held the max."""
        stride, pad = layer.stride or layer.size, layer.padding
        d_padded = np.zeros_like(padded)
        claimed = np.zeros(out.shape, dtype=bool)
        pairs = zip(_windows(padded, layer.size, stride, out.shape[1:3]),
                    _windows(d_padded, layer.size, stride, out.shape[1:3]), strict=True)
        for (_, _, window), (_, _, d_window) in pairs:
            hit = (window == out) & ~claimed
            d_window += grad * hit
            claimed |= hit
        h, w = padded.shape[1:3]
        return d_padded[:, pad:h - pad, pad:w - pad]

    def _adam(self, grads: dict[str, np.ndarray]) -> None:
        """Adam with Keras' epsilon placement (added to sqrt(v) before bias correction)."""
        self.steps += 1
        b1, b2 = self.betas
        lr = self.lr * np.sqrt(1.0 - b2**self.steps) / (1.0 - b1**self.steps)
        for name in self.trainable:
            g = grads[name]
            self.m[name] = b1 * self.m[name] + (1.0 - b1) * g
            self.v[name] = b2 * self.v[name] + (1.0 - b2) * g * g
            self.params[name] -= lr * self.m[name] / (np.sqrt(self.v[name]) + self.epsilon)
