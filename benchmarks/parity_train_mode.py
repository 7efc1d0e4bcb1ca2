"""The training-mode checks of `python -m benchmarks parity` (probe: common_data.parity_probe).

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
   at lr 1e-8 (why: common_data.parity_probe).

Thresholds, measured on CPU (see docs/resnet.md for the figures): batch norm in training mode
divides by batch standard deviations, which amplifies float32 rounding where a channel's batch
statistics come from few values (the last stage at 32-64 px sees 8 x 1 x 1 or 8 x 2 x 2), so
the forward threshold is looser than inference's 1e-5. With float64 twins the same checks agree
with the reference to 1e-12, so what the thresholds absorb is float32 rounding, not a
difference of convention: a biased running-variance update, a flipped momentum or Keras'
epsilon would each exceed them (tests/test_parity_resnet.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.envs import FRAMEWORKS
from common_data.dropout import draw_masks, dropout_layers
from common_data.parity_probe import flat_state, running_names
from common_data.reference import train_forward
from common_data.spec import Spec

THRESHOLDS = {
    "train_forward_max_abs_diff": 2e-3,
    "running_step1_max_abs_diff": 1e-4,
    "running_final_max_abs_diff": 1e-3,
    "train_mode_loss_max_rel_diff": 1e-3,
}


def train_mode_section(
    spec: Spec, weights: dict[str, np.ndarray], seed: int, probes: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The checks above as one JSON-able section of the parity report."""
    from benchmarks.parity import max_rel_diff  # parity imports this module

    x, y = probes["torch"]["x"], probes["torch"]["y"]
    masks = draw_masks(dropout_layers(spec), seed, 0, 0, len(y))
    logits, running = train_forward(spec, weights, x, masks)
    reference_running = flat_state(running, running_names(spec))
    trainable = {fw: int(probes[fw]["trainable_params"]) for fw in FRAMEWORKS}
    forward = {fw: _max_abs(probes[fw]["train_mode_logits"], logits) for fw in FRAMEWORKS}
    step1 = {fw: _max_abs(probes[fw]["running_step1"], reference_running) for fw in FRAMEWORKS}
    final = _max_abs(probes["torch"]["running_final"], probes["tf"]["running_final"])
    losses = {fw: probes[fw]["train_mode_losses"].tolist() for fw in FRAMEWORKS}
    loss_rel = max_rel_diff(losses["torch"], losses["tf"])
    values = {
        "train_forward_max_abs_diff": max(forward.values()),
        "running_step1_max_abs_diff": max(step1.values()),
        "running_final_max_abs_diff": final,
        "train_mode_loss_max_rel_diff": loss_rel,
    }
    checks = {"trainable_params": all(n == spec.trainable_params() for n in trainable.values())}
    checks.update({
        name.removesuffix("_max_abs_diff").removesuffix("_max_rel_diff"): values[name] <= limit
        for name, limit in THRESHOLDS.items()})
    return {
        "trainable_params": {**trainable, "spec": spec.trainable_params()},
        "lr": float(probes["torch"]["train_mode_lr"]), "running_tensors": len(running),
        "forward": forward, "running_step1": step1,
        "losses": losses, "values": values, "thresholds": THRESHOLDS, "checks": checks,
    }


def render_train_mode(section: dict[str, Any]) -> list[str]:
    """The section's lines of the human-readable report."""
    p, v, t = section["trainable_params"], section["values"], section["thresholds"]
    f, r = section["forward"], section["running_step1"]
    lines = [
        "", "training mode (batch statistics, shared dropout masks), a fresh copy of each twin:",
        f"trainable parameters: spec {p['spec']:,}, torch {p['torch']:,}, tf {p['tf']:,}",
        f"forward of step 1, max |logit - float64 reference|: torch {f['torch']:.2e}, "
        f"tf {f['tf']:.2e} (threshold {t['train_forward_max_abs_diff']:.0e})",
    ]
    if section["running_tensors"]:
        lines += [
            f"running statistics ({section['running_tensors']} tensors) after step 1, max |twin "
            f"- reference|: torch {r['torch']:.2e}, tf {r['tf']:.2e} "
            f"(threshold {t['running_step1_max_abs_diff']:.0e})",
            f"running statistics after step {len(section['losses']['torch'])}, max |torch - tf|: "
            f"{v['running_final_max_abs_diff']:.2e} "
            f"(threshold {t['running_final_max_abs_diff']:.0e})",
        ]
    lines.append(
        f"loss before each of {len(section['losses']['torch'])} Adam steps (lr {section['lr']:g}), "
        "max relative difference "
        f"torch vs tf: {v['train_mode_loss_max_rel_diff']:.2e} "
        f"(threshold {t['train_mode_loss_max_rel_diff']:.0e})")
    return lines


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b|; inf when shapes differ or anything is not finite."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    return float(np.abs(a - b).max()) if a.size else 0.0
