"""The training-mode checks of `python -m benchmarks parity`
(probe: common_data.model.parity_probe).

Batch norm and dropout compute a different function in training than in inference, so on top
of the inference checks each twin trains a fresh copy in training mode (batch statistics,
shared dropout masks) and the harness checks:

1. trainable parameters: each twin's count equals the spec's (ResNet-50 with a 5-class head:
   23,518,277, torchvision's resnet50 with fc replaced by Linear(2048, 5));
2. training-mode forward: each twin's logits of the first step vs the float64 reference with
   batch statistics and the same masks;
3. running statistics after that step vs the reference's (m * running + (1 - m) * batch, with
   the unbiased batch variance), and after the last step twin vs twin;
4. the loss before each training-mode step, twin vs twin (as the inference-mode check does),
   at lr 1e-8 (why: common_data.model.parity_probe).

Thresholds: batch norm in training mode divides by batch standard deviations, which amplifies
float32 rounding where a channel's batch statistics come from few values (the last stage at
64 px sees 8 x 2 x 2) and with depth. With float64 twins the same checks agree with the
reference to 1e-10 (tests/test_layer_registry.py), so what the thresholds absorb is float32
rounding, which the torch twin's own float32-vs-float64 difference measures (= its difference
from the reference), on CPU, parity batch, 64 px:

    resnet50: logits 1.6e-4, running statistics 1.6e-5 (relative, see `_max_rel`)
    resnet152: logits 4.0e-3, running statistics 3.7e-4

A biased running-variance update moves the running statistics by 9.6e-3 (resnet50) and
2.3e-2 (resnet152) relative, well above the threshold; flipping the momentum moves them by
O(1); Keras' epsilon fails the inference forward check (tests/test_parity_resnet.py). The
thresholds are sized for 64 px: at larger inputs each channel's batch holds more values, the
rounding shrinks, but so does the biased-update effect (n / (n - 1)), which at 224 px falls
below the running-statistics threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.parity.diffs import max_abs_diff, max_rel_diff, max_rel_scaled
from common_data.frameworks import ANCHOR, FRAMEWORK_PAIRS, FRAMEWORKS
from common_data.model.dropout import draw_masks, dropout_layers
from common_data.model.parity_probe import flat_state, running_names
from common_data.model.reference import train_forward
from common_data.model.spec import Spec

# They hold in bf16 too (benchmarks.parity.check BF16_THRESHOLDS): measured on the baseline CNN with
# mode.mixed_precision, training-mode forward 3.7e-3 (32 px) and 2.2e-3 (64 px), loss 2.4e-4
# and 1.9e-4 twin vs twin, so no bf16 override is needed here.
THRESHOLDS = {
    "train_forward_max_abs_diff": 1e-2,
    "running_step1_max_rel_diff": 2e-3,
    "running_final_max_rel_diff": 1e-2,
    "train_mode_loss_max_rel_diff": 2e-3,
}


# The inference-mode training check (benchmarks.parity.check, 1e-4 for the baseline CNNs) on a
# network with batch norm: ten Adam steps at lr 1e-4 through 50+ layers amplify float32
# rounding (Adam's first steps move every weight by ~lr whatever its gradient, so gradients
# near zero move weights by their rounding's sign). Measured on resnet50 at 64 px: the torch
# twin in float32 vs itself in float64 differs by 5.2e-4 relative at step 10, the twins by
# 4.4e-4 (resnet152: 6.6e-4), so 1e-4 would fail identical algorithms;
# BATCHNORM_TRAINING_LIMIT allows that floor with a margin.
BATCHNORM_TRAINING_LIMIT = 2e-3


def batchnorm_limits(spec: Spec) -> dict[str, float]:
    """Threshold overrides for a spec with batch norm (none for the baseline CNNs)."""
    return {"train_loss_max_rel_diff": BATCHNORM_TRAINING_LIMIT} if running_names(spec) else {}


def train_mode_section(
    spec: Spec, weights: dict[str, np.ndarray], seed: int, probes: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The checks above as one JSON-able section of the parity report."""

    x, y = probes[ANCHOR]["x"], probes[ANCHOR]["y"]
    masks = draw_masks(dropout_layers(spec), seed, 0, 0, len(y))
    logits, running = train_forward(spec, weights, x, masks)
    reference_running = flat_state(running, running_names(spec))
    trainable = {fw: int(probes[fw]["trainable_params"]) for fw in FRAMEWORKS}
    forward = {fw: max_abs_diff(probes[fw]["train_mode_logits"], logits) for fw in FRAMEWORKS}
    step1 = {fw: max_rel_scaled(probes[fw]["running_step1"], reference_running)
             for fw in FRAMEWORKS}
    final = max(max_rel_scaled(probes[a]["running_final"], probes[b]["running_final"])
                for a, b in FRAMEWORK_PAIRS)
    losses = {fw: probes[fw]["train_mode_losses"].tolist() for fw in FRAMEWORKS}
    loss_rel = max(max_rel_diff(losses[a], losses[b]) for a, b in FRAMEWORK_PAIRS)
    values = {
        "train_forward_max_abs_diff": max(forward.values()),
        "running_step1_max_rel_diff": max(step1.values()),
        "running_final_max_rel_diff": final,
        "train_mode_loss_max_rel_diff": loss_rel,
    }
    checks = {"trainable_params": all(n == spec.trainable_params() for n in trainable.values())}
    checks.update({
        name.removesuffix("_max_abs_diff").removesuffix("_max_rel_diff"): values[name] <= limit
        for name, limit in THRESHOLDS.items()})
    return {
        "trainable_params": {**trainable, "spec": spec.trainable_params()},
        "lr": float(probes[ANCHOR]["train_mode_lr"]), "running_tensors": len(running),
        "forward": forward, "running_step1": step1,
        "losses": losses, "values": values, "thresholds": THRESHOLDS, "checks": checks,
    }


def render_train_mode(section: dict[str, Any]) -> list[str]:
    """The section's lines of the human-readable report."""
    p, v, t = section["trainable_params"], section["values"], section["thresholds"]
    f, r = section["forward"], section["running_step1"]
    steps = len(section["losses"][ANCHOR])
    pairs = ", ".join(f"{a} vs {b}" for a, b in FRAMEWORK_PAIRS)
    lines = [
        "", "training mode (batch statistics, shared dropout masks), a fresh copy of each twin:",
        f"trainable parameters: spec {p['spec']:,}, "
        + ", ".join(f"{fw} {p[fw]:,}" for fw in FRAMEWORKS),
        "forward of step 1, max |logit - float64 reference|: "
        + ", ".join(f"{fw} {f[fw]:.2e}" for fw in FRAMEWORKS)
        + f" (threshold {t['train_forward_max_abs_diff']:.0e})",
    ]
    if section["running_tensors"]:
        lines += [
            f"running statistics ({section['running_tensors']} tensors) after step 1, max |twin "
            "- reference| / max(|reference|, 1): "
            + ", ".join(f"{fw} {r[fw]:.2e}" for fw in FRAMEWORKS)
            + f" (threshold {t['running_step1_max_rel_diff']:.0e})",
            f"running statistics after step {steps}, max "
            + ", ".join(f"|{a} - {b}| / max(|{a}|, |{b}|, 1)" for a, b in FRAMEWORK_PAIRS)
            + f": {v['running_final_max_rel_diff']:.2e} "
            f"(threshold {t['running_final_max_rel_diff']:.0e})",
        ]
    lines.append(
        f"loss before each of {steps} Adam steps (lr {section['lr']:g}), "
        "max relative difference "
        f"{pairs}: {v['train_mode_loss_max_rel_diff']:.2e} "
        f"(threshold {t['train_mode_loss_max_rel_diff']:.0e})")
    return lines
