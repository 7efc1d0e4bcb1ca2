"""The twins' entry points, written once: `python -m <twin>.run` and `python -m <twin>.parity`
call these with their framework key and their `make_twin`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from common_data.atomic import save_npz_atomic
from common_data.errors import ConfigError
from common_data.frameworks import EXAMPLE_MODE, FRAMEWORKS
from common_data.model.dropout import draw_masks, dropout_layers
from common_data.model.init_weights import init_weights, weights_digest
from common_data.model.parity_probe import PARITY_LR, parity_batch, train_mode_probe
from common_data.model.spec import load_spec
from common_data.run.config import RunConfig, load_run_config, parse_mode_flags
from common_data.run.driver import run
from common_data.run.host import environment
from common_data.run.twin import Twin


def load_config(path: Path, framework: str) -> RunConfig:
    """The runner's config, refused (ConfigError) when it names the other framework."""
    config = load_run_config(path)
    if config.framework != framework:
        raise ConfigError(
            f"run config {path}: key 'framework' is {config.framework!r}, but this runner "
            f"trains {framework!r} (use the other twin's runner or set framework = {framework!r})"
        )
    return config


def run_main(
    framework: str, make_twin: Callable[[RunConfig], Twin], argv: Sequence[str] | None
) -> int:
    """`python -m <twin>.run --config run.json --out result.json`.

    The config is validated before the framework is imported, so a bad config fails fast
    with one line on stderr and exit code 2, and writes no record.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {FRAMEWORKS[framework].module('run')}",
                                     description="Train one run and write its result record.")
    parser.add_argument("--config", type=Path, required=True, help="run config (JSON or TOML)")
    parser.add_argument("--out", type=Path, required=True, help="result record to write (JSON)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, framework)
        if not args.out.parent.is_dir():
            raise ConfigError(f"--out {args.out}: folder {args.out.parent} does not exist")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run(make_twin(config), config, args.out)


def parity_main(
    framework: str, make_twin: Callable[[RunConfig], Twin], argv: Sequence[str] | None
) -> int:
    """`python -m <twin>.parity --out parity.npz`: what the harness compares across twins.

    From the shared initial weights, on the fixed batch: the logits (inference), the logits
    with the shared dropout masks of step 0 (`masked_logits`), the loss before each of
    `--steps` Adam steps on that same batch with dropout off, and the parameters as the
    framework holds them (canonical names and shapes); then the training-mode probe of a
    fresh copy (`common_data.model.parity_probe`). `--mode KEY=BOOL` runs the probe under
    a tuned mode, so a mode is shown faithful (or not) by the same figures.

    The steps use lr 1e-4, not the runs' 1e-3: at 1e-3 the first step on one small batch
    overshoots (loss 1.63 -> 2.69 at 128 px) and ten steps amplify float32 rounding to a few
    1e-3 between twins that compute the same update, which would hide a real difference of
    algorithm; at 1e-4 the loss descends smoothly and identical updates agree within 4e-5.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {FRAMEWORKS[framework].module('parity')}",
                                     description="Write the twin's parity probe (NPZ).")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--spec", default="baseline_cnn")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--lr", type=float, default=PARITY_LR)
    parser.add_argument("--device", choices=("cpu", "auto", "gpu"), default="cpu",
                        help="cpu by default: GPU kernels are not bitwise float32-faithful")
    parser.add_argument("--mode", action="append", default=[], metavar="KEY=BOOL",
                        help=f"tuned mode to probe under, e.g. {EXAMPLE_MODE}=true (repeatable)")
    args = parser.parse_args(argv)
    try:
        config = load_run_config({
            "framework": framework, "spec": args.spec, "seed": args.seed,
            "image_size": args.image_size, "device": args.device, "optimizer": {"lr": args.lr},
            "mode": parse_mode_flags(args.mode),
        })
        spec = load_spec(config.spec, image_size=config.image_size)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    weights = init_weights(spec, config.seed)
    x, y = parity_batch(spec)
    twin = make_twin(config)
    try:
        twin.build(spec, weights, config)
    except ConfigError as exc:  # e.g. --device gpu on a machine without one
        print(f"error: {exc}", file=sys.stderr)
        return 2
    twin.set_training(False)
    logits = twin.predict_logits(x)
    masks = draw_masks(dropout_layers(spec), args.seed, 0, 0, len(y))
    masked_logits = twin.predict_logits(x, masks)
    losses = [twin.train_step(x, y)[0] for _ in range(args.steps)]
    shapes = twin.parameter_shapes()
    names = sorted(shapes)
    train_mode = train_mode_probe(make_twin(config), spec, weights, config, x, y, args.steps)
    save_npz_atomic(
        args.out, **train_mode,
        x=x, y=y, logits=logits, masked_logits=masked_logits, losses=np.asarray(losses),
        weights_digest=np.asarray(weights_digest(weights)), param_names=np.asarray(names),
        param_shapes=np.asarray(json.dumps([shapes[n] for n in names])),
        environment=np.asarray(json.dumps({**environment(twin), "modes": asdict(config.mode)})),
    )
    return 0
