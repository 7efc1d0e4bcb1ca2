"""The TensorFlow half of a training run: the `Twin` hooks that `common_data.run.loop` drives.

Everything that could make the twins differ other than the framework itself (data, epochs,
early stopping, timing, metrics) lives in the protocol; this file holds only what TF must do.
The model is built with Keras layers but trained by our own `tf.function` step (not `fit`),
so timing, the learning rate and the epoch loop are the protocol's, exactly as for torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common_data.atomic import atomic_path
from common_data.errors import ConfigError
from common_data.model.dropout import Masks
from common_data.model.spec import Spec
from common_data.run.config import RunConfig
from common_data.run.cpu import bf16_cpu_problem
from common_data.run.twin import Twin
from tf_impl import ONEDNN_ENV
from tf_impl.model import (
    build_model,
    canonical_shapes,
    canonical_state,
    freeze_all_but,
    load_weights,
    to_framework_masks,
)

WEIGHTS_FILE = "model.weights.h5"


class TFTwin(Twin):
    framework = "tf"

    @staticmethod
    def onednn_enabled() -> bool:
        """Whether TensorFlow runs its oneDNN kernels in this process, as TF itself decided
        at import: the variable when it was set, else the CPU (on with AVX-512 VNNI/AMX).
        Reading the variable instead would take an unset one for "off" on a CPU where TF
        turned oneDNN on."""
        # TF has no public call for this; `IsMklEnabled` is the check its own kernels consult
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())

    def build(self, spec: Spec, weights: Mapping[str, np.ndarray], config: RunConfig) -> None:
        if self.onednn_enabled() != config.mode.onednn:
            raise RuntimeError(
                f"mode.onednn is {str(config.mode.onednn).lower()}, but TensorFlow runs with "
                f"oneDNN {'on' if self.onednn_enabled() else 'off'} ({ONEDNN_ENV}="
                f"{os.environ.get(ONEDNN_ENV)!r} at import; unset leaves it to the CPU): create "
                "the twin with tf_impl.run.make_twin(config) before anything imports TensorFlow"
            )
        configure_runtime(config)
        self.device = pick_device(config.device)
        self.mixed_precision = config.mode.mixed_precision
        problem = bf16_cpu_problem("run config") if self.device == "/CPU:0" else None
        if self.mixed_precision and problem:
            raise ConfigError(problem)
        policy = "mixed_bfloat16" if self.mixed_precision else "float32"
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(config.seed)
        with tf.device(self.device):
            self.model = build_model(spec, dropout_seed=config.seed)
            load_weights(self.model, weights)
            if config.transfer == "v1":
                freeze_all_but(self.model, spec.layers[-1].name)
            self.optimizer = keras.optimizers.Adam(
                learning_rate=config.optimizer.lr, beta_1=config.optimizer.beta_1,
                beta_2=config.optimizer.beta_2, epsilon=config.optimizer.epsilon,
            )
            self.optimizer.build(self.model.trainable_variables)
        self.jit_compile = config.mode.jit_compile
        self._train = tf.function(self._train_graph, jit_compile=self.jit_compile,
                                  reduce_retracing=True)
        self._predict = tf.function(self._predict_graph, jit_compile=self.jit_compile,
                                    reduce_retracing=True)
        self.training = True

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return canonical_shapes(self.model)

    def trainable_params(self) -> int:
        return sum(int(np.prod(v.shape)) for v in self.model.trainable_variables)

    def train_step(
        self, x: np.ndarray, y: np.ndarray, masks: Masks | None = None
    ) -> tuple[float, np.ndarray]:
        with tf.device(self.device):
            shared = to_framework_masks(masks if self.training else None)
            loss, logits = self._train(tf.constant(x), tf.constant(y), self.training, shared)
        return float(loss.numpy()), logits.numpy()

    def predict_logits(self, x: np.ndarray, masks: Masks | None = None) -> np.ndarray:
        with tf.device(self.device):
            return self._predict(tf.constant(x), to_framework_masks(masks)).numpy()

    def set_lr(self, lr: float) -> None:
        self.optimizer.learning_rate.assign(lr)

    def set_training(self, training: bool) -> None:
        self.training = training

    def canonical_state(self) -> dict[str, np.ndarray]:
        return canonical_state(self.model)

    def get_state(self) -> Any:
        return self.model.get_weights()

    def set_state(self, state: Any) -> None:
        self.model.set_weights(state)

    def save_weights(self, folder: Path) -> Path:
        path = folder / WEIGHTS_FILE
        with atomic_path(path, suffix=".weights.h5") as tmp:  # Keras judges by the ending
            self.model.save_weights(str(tmp))
        return path

    def environment(self) -> dict[str, Any]:
        gpu = gpu_name(self.device)
        return {
            "framework_version": f"{tf.__version__} (keras {keras.__version__})",
            "gpu": gpu,
            "device": gpu or "cpu",
            "threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                        "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
        }

    def device_peak_memory_mb(self) -> float | None:
        if self.device == "/CPU:0":
            return None
        return tf.config.experimental.get_memory_info(self.device.lstrip("/"))["peak"] / 2**20

    def _train_graph(
        self, x: tf.Tensor, y: tf.Tensor, training: bool, masks: dict[str, tf.Tensor] | None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """One Adam step on the mean softmax cross-entropy of the logits. `training` stays a
        Python bool because Keras layers branch on it in Python; each value is one trace."""
        with tf.GradientTape() as tape:
            logits = tf.cast(self._forward(x, training, masks), tf.float32)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            loss = tf.reduce_mean(losses)
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss, logits

    def _predict_graph(self, x: tf.Tensor, masks: dict[str, tf.Tensor] | None) -> tf.Tensor:
        return tf.cast(self._forward(x, False, masks), tf.float32)

    def _forward(
        self, x: tf.Tensor, training: bool, masks: dict[str, tf.Tensor] | None
    ) -> tf.Tensor:
        """The model's layers in order. With shared masks (common_data.model.dropout) a dropout
        layer multiplies its input by its mask instead of drawing one from TF's RNG, and is
        the identity where no mask is given (rate 0); without, Keras' own dropout runs."""
        if masks is None:
            return self.model(x, training=training)
        for layer in self.model.layers:
            if isinstance(layer, keras.layers.Dropout):
                x = x * tf.cast(masks[layer.name], x.dtype) if layer.name in masks else x
            else:
                x = layer(x, training=training)
        return x


def configure_runtime(config: RunConfig) -> None:
    """Threads and float32 precision, before the first op: TF fixes its thread pools when
    the runtime starts, and TF32 (TF's default on Ampere and later, torch's only for cuDNN
    convs) is switched off in both twins so a GPU run compares true float32."""
    tf.config.threading.set_intra_op_parallelism_threads(config.threads)
    tf.config.threading.set_inter_op_parallelism_threads(config.inter_op_threads)
    tf.config.experimental.enable_tensor_float_32_execution(False)
    if config.device == "cpu":
        tf.config.set_visible_devices([], "GPU")



def gpu_name(device: str) -> str | None:
    if device == "/CPU:0":
        return None
    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    return str(details.get("device_name", "GPU"))


def pick_device(requested: str) -> str:
    """'auto' takes the GPU when one is present; asking for a GPU that is absent is an error
    rather than a silent CPU run that the record would mislabel."""
    available = bool(tf.config.list_physical_devices("GPU"))
    if requested == "gpu" and not available:
        raise ConfigError(
            "device 'gpu' was requested, but TensorFlow found no GPU: use --device cpu or auto"
        )
    return "/GPU:0" if available and requested != "cpu" else "/CPU:0"
