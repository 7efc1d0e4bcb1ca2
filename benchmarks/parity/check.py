"""The parity checks (`python -m benchmarks parity`): the twins are the same model.

Each twin's probe (`<twin>.parity`) runs in its own framework env and writes what it sees;
this side never imports a framework. Three checks, each against a referee where one exists,
so that a failure says which side drifted:

1. parameters: per tensor, canonical name and shape identical to the spec on both sides;
2. forward: each side's float32 logits on the fixed batch vs the NumPy float64 reference;
3. shared dropout: each side's logits with the shared dropout masks
   (common_data.model.dropout) vs the reference with the same masks, so a twin that ignores
   the masks (or scales them differently) fails;
4. training: the loss before each of ten Adam steps (same batch, dropout off, lr 1e-4; see
   `common_data.run.entry.parity_main` for why not 1e-3) agrees between the twins;
5. training mode (batch norm on batch statistics, running statistics, shared dropout masks):
   see `benchmarks.parity.train_mode`.

The training threshold sits between what identical updates give and what a subtle algorithmic
difference gives. Measured on CPU (both specs, 32/64/128 px, seeds 0-2): identical updates
<= 4e-5 (Keras computes Adam's bias correction from float32 betas, which moves its first
updates by ~1e-5 relative; ten steps amplify that); Adam's epsilon placed the torch way
instead of the Keras way (the torch twin corrects this, see `pytorch_impl.twin`) 5.4e-4 to
9e-4 at 128 px, 1.3e-4 to 1.9e-3 at 64 px and 6.5e-5 to 1.7e-4 at 32 px, so at 32 px the check
is blunter than at the sizes the benchmark runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from benchmarks.parity.diffs import max_rel_diff
from benchmarks.parity.train_mode import batchnorm_limits, render_train_mode, train_mode_section
from common_data.errors import ConfigError
from common_data.frameworks import ANCHOR, FRAMEWORK_PAIRS, FRAMEWORKS, MODE_FRAMEWORK
from common_data.model.dropout import draw_masks, dropout_layers
from common_data.model.init_weights import init_weights, weights_digest
from common_data.model.reference import forward, softmax_cross_entropy
from common_data.model.spec import Spec
from common_data.run.config import parse_mode_flags

THRESHOLDS = {"forward_max_abs_diff": 1e-5, "train_loss_max_rel_diff": 1e-4}
# When either side runs in bf16 (mode.mixed_precision). bf16 keeps 8 bits of mantissa: every
# conv and matmul input is rounded to a relative 2^-8 = 3.9e-3 (products summed in float32),
# so the float32 limits above cannot hold. Measured on this CPU (AMD EPYC, avx512_bf16,
# native bf16 kernels; baseline CNN, seed 0, 2026-12-04), max |logit - float64 reference| (logits of
# magnitude 0.13-0.26): 32 px torch 2.0e-3, tf 2.5e-3, with the shared dropout masks 2.0e-3
# and 3.7e-3; 64 px 1.9e-3 / 1.2e-3, masked 2.2e-3 / 1.8e-3. Loss over ten Adam steps, twin vs
# twin: 3.0e-4 (32 px), 4.0e-4 (64 px). The limits allow about 2.7x and 5x of the worst (the
# training one is batch norm's, BATCHNORM_TRAINING_LIMIT); a twin that ignored the dropout
# masks would still be off by 0.37, 37x the forward limit.
# What bf16 parity cannot see is a difference below bf16's own rounding, e.g. Adam's epsilon
# placed the torch way (6.5e-5 to 1.9e-3, see above): the float32 check guards the algorithm,
# this one that the mode computes the same model within bf16 rounding.
BF16_THRESHOLDS = {"forward_max_abs_diff": 1e-2, "train_loss_max_rel_diff": 2e-3}
_ERROR_TAIL_LINES = 12


class ProbeError(RuntimeError):
    """A probe subprocess failed; the message carries the end of its stderr."""


def run_probe(framework: str, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run one twin's probe with its env's python and load what it wrote."""
    command = [str(framework_python(framework)), "-m", FRAMEWORKS[framework].module("parity"),
               "--out", str(out),
               "--spec", args.spec, "--image-size", str(args.image_size),
               "--seed", str(args.seed), "--steps", str(args.steps), "--lr", str(args.lr),
               "--device", args.device]
    for key, value in parse_mode_flags(args.mode).items():
        if MODE_FRAMEWORK.get(key, framework) == framework:
            command += ["--mode", f"{key}={str(value).lower()}"]
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), PYTHONHASHSEED="0",
               TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    if proc.returncode == 2 and last.startswith("error: "):  # the probe refused the settings
        raise ConfigError(f"{framework} parity probe: {last[len('error: '):]}")
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-_ERROR_TAIL_LINES:])
        raise ProbeError(f"{framework} parity probe failed (exit {proc.returncode}):\n{tail}")
    with np.load(out, allow_pickle=False) as stored:
        probe = {key: stored[key] for key in stored.files}
    names = [str(n) for n in probe["param_names"]]
    shapes = json.loads(str(probe["param_shapes"]))
    probe["params"] = dict(zip(names, map(tuple, shapes), strict=True))
    probe["environment"] = json.loads(str(probe["environment"]))
    return probe


def compare(
    spec: Spec, seed: int, lr: float, probes: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The three checks as one JSON-able report; twin-vs-twin figures are each framework
    against the anchor (FRAMEWORK_PAIRS), and a check takes the worst of them."""
    weights = init_weights(spec, seed)
    anchor = probes[ANCHOR]
    same_batch = all(np.array_equal(anchor[k], probes[fw][k])
                     for fw in FRAMEWORKS for k in ("x", "y"))
    x, y = anchor["x"], anchor["y"]
    reference = forward(spec, weights, x)
    expected = dict(spec.param_shapes())

    per_layer = []
    for name in sorted(set(expected).union(*(probes[fw]["params"] for fw in FRAMEWORKS))):
        shapes = {fw: probes[fw]["params"].get(name) for fw in FRAMEWORKS}
        per_layer.append({
            "param": name, "spec": list(expected[name]) if name in expected else None,
            **{fw: list(s) if s else None for fw, s in shapes.items()},
            "count": math.prod(expected.get(name, ())),
            "match": all(s == expected.get(name) for s in shapes.values()),
        })
    params = {fw: sum(math.prod(s) for s in probes[fw]["params"].values()) for fw in FRAMEWORKS}

    forward_diff = {fw: float(np.abs(probes[fw]["logits"] - reference).max()) for fw in FRAMEWORKS}
    for a, b in FRAMEWORK_PAIRS:
        forward_diff[f"{a}_vs_{b}"] = float(np.abs(probes[a]["logits"] - probes[b]["logits"]).max())
    forward_diff["max"] = max(forward_diff[fw] for fw in FRAMEWORKS)
    masks = draw_masks(dropout_layers(spec), seed, 0, 0, len(y))
    masked_reference = forward(spec, weights, x, masks)
    masked_diff = {fw: float(np.abs(probes[fw]["masked_logits"] - masked_reference).max())
                   for fw in FRAMEWORKS}
    masked_diff["max"] = max(masked_diff[fw] for fw in FRAMEWORKS)
    losses = {fw: probes[fw]["losses"].tolist() for fw in FRAMEWORKS}
    train_rel = max(max_rel_diff(losses[a], losses[b]) for a, b in FRAMEWORK_PAIRS)
    bf16 = runs_bf16(probes)
    limits = thresholds(spec, bf16)

    checks = {
        "same_batch_and_weights": same_batch and all(
            str(probes[fw]["weights_digest"]) == weights_digest(weights) for fw in FRAMEWORKS),
        "params": all(row["match"] for row in per_layer),
        "forward": forward_diff["max"] <= limits["forward_max_abs_diff"],
        "shared_dropout": masked_diff["max"] <= limits["forward_max_abs_diff"],
        "training": train_rel <= limits["train_loss_max_rel_diff"],
    }
    train_mode = train_mode_section(spec, weights, seed, probes)
    checks.update(train_mode["checks"])
    return {
        "spec": spec.name, "input_shape": list(spec.input_shape), "seed": seed, "lr": lr,
        "steps": len(losses[ANCHOR]), "params": {**params, "spec": spec.total_params()},
        "params_per_tensor": per_layer, "forward_max_abs_diff": forward_diff,
        "shared_dropout_max_abs_diff": masked_diff,
        "modes": {fw: probes[fw]["environment"].get("modes", {}) for fw in FRAMEWORKS},
        "reference_loss": softmax_cross_entropy(reference, y), "train_loss": losses,
        "train_loss_max_rel_diff": train_rel, "thresholds": limits, "bf16": bf16,
        "environment": {fw: probes[fw]["environment"] for fw in FRAMEWORKS},
        "train_mode": train_mode, "checks": checks, "passed": all(checks.values()),
    }


def runs_bf16(probes: dict[str, dict[str, Any]]) -> bool:
    """Whether either twin's probe ran in bf16 (mode.mixed_precision)."""
    return any(probes[fw]["environment"].get("modes", {}).get("mixed_precision")
               for fw in FRAMEWORKS)


def thresholds(spec: Spec, bf16: bool) -> dict[str, float]:
    """The limits of the checks: float32's, a batch-norm spec's training limit, and with bf16
    on either side the looser of each and BF16_THRESHOLDS."""
    limits = {**THRESHOLDS, **batchnorm_limits(spec)}
    if bf16:
        limits = {key: max(value, BF16_THRESHOLDS.get(key, value))
                  for key, value in limits.items()}
    return limits



def render(report: dict[str, Any]) -> str:
    """The human-readable table: one column per framework."""
    size = "x".join(map(str, report["input_shape"]))
    limits = report["thresholds"]
    modes = "; ".join(
        f"{fw} " + (", ".join(k for k, on in report["modes"][fw].items() if on) or "default")
        for fw in FRAMEWORKS)
    w = max([16, *(len(row["param"]) for row in report["params_per_tensor"])])
    lines = [f"parity of the twins: spec {report['spec']} at {size}, seed {report['seed']} "
             f"(modes: {modes})", "",
             *(["bf16 on a side (mode mixed_precision): the forward and training limits are "
                "bf16's (benchmarks/parity/check.py BF16_THRESHOLDS, measured and justified there)",
                ""] if report.get("bf16") else []),
             f"{'parameter':<{w}} {'spec':<20} "
             + "".join(f"{fw:<20} " for fw in FRAMEWORKS) + f"{'count':>10}"]
    for row in report["params_per_tensor"]:
        cells = [str(tuple(row[k])) if row[k] else "-" for k in ("spec", *FRAMEWORKS)]
        mark = "" if row["match"] else "  MISMATCH"
        lines.append(f"{row['param']:<{w}} " + "".join(f"{c:<20} " for c in cells)
                     + f"{row['count']:>10,}{mark}")
    p, f = report["params"], report["forward_max_abs_diff"]
    m = report["shared_dropout_max_abs_diff"]
    pairs = ", ".join(f"{a} vs {b} {f[f'{a}_vs_{b}']:.2e}" for a, b in FRAMEWORK_PAIRS)
    lines += [f"{'total':<{w}} " + " ".join(f"{p[k]:<20,}" for k in ("spec", *FRAMEWORKS)), "",
              f"forward, max |logit - float64 reference|: {_per_framework(f)} "
              f"({pairs}; threshold {limits['forward_max_abs_diff']:.0e})",
              f"shared dropout masks, max |logit - float64 reference with the same masks|: "
              f"{_per_framework(m)}",
              "", f"training, {report['steps']} Adam steps (lr {report['lr']:g}) on one batch, "
              "dropout off; "
              f"loss before each step (float64 reference before step 1: "
              f"{report['reference_loss']:.8f}):",
              f"{'step':>4} " + "".join(f"{fw:>12} " for fw in FRAMEWORKS)
              + " ".join(f"{_rel_header(b):>9}" for _, b in FRAMEWORK_PAIRS)]
    runs = report["train_loss"]
    for i, step in enumerate(zip(*(runs[fw] for fw in FRAMEWORKS), strict=True), 1):
        loss = dict(zip(FRAMEWORKS, step, strict=True))
        lines.append(f"{i:>4} " + "".join(f"{v:>12.8f} " for v in step)
                     + " ".join(f"{max_rel_diff([loss[a]], [loss[b]]):>9.1e}"
                                for a, b in FRAMEWORK_PAIRS))
    lines += [f"max relative difference {report['train_loss_max_rel_diff']:.2e} "
              f"(threshold {limits['train_loss_max_rel_diff']:.0e})"]
    lines += [*render_train_mode(report["train_mode"]), ""]
    lines += [f"{name:<24} {'pass' if ok else 'FAIL'}" for name, ok in report["checks"].items()]
    lines.append("PASSED" if report["passed"] else "FAILED")
    return "\n".join(lines)


def _per_framework(values: dict[str, float]) -> str:
    """'torch 1.2e-06, tf 3.4e-06': one figure per framework, by key."""
    return ", ".join(f"{fw} {values[fw]:.2e}" for fw in FRAMEWORKS)


def _rel_header(other: str) -> str:
    """The relative-difference column of the pair (anchor, other); with one pair, as before."""
    return "rel diff" if len(FRAMEWORK_PAIRS) == 1 else f"vs {other}"
