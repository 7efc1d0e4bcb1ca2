"""The flags `compare` and `finding` share, and how each becomes part of a matrix profile.

Each parser names the flag in its one-line error, so `--seeds 1,x` says which flag and what
was expected instead of failing later inside a run.
"""

import argparse
from collections.abc import Collection
from pathlib import Path
from typing import Any

from benchmarks.matrix.build import apply_mode_flags
from benchmarks.matrix.executors import add_executor_arguments
from benchmarks.matrix.runner import DEFAULT_RESULTS
from common_data.data.card import load_card
from common_data.data.datasets import EMBEDDED, card_digest
from common_data.data.preprocess import MAX_SIZE, MIN_SIZE
from common_data.errors import ConfigError
from common_data.frameworks import EXAMPLE_MODE, FRAMEWORKS
from common_data.regimes import OVERLAYS, SPLITS, VARIANTS, choices


def add_matrix_arguments(parser: argparse.ArgumentParser, default_profile: str) -> None:
    """Flags shared by `compare` and `finding`: which cells to run and where to write them."""
    parser.add_argument(
        "--profile",
        default=default_profile,
        help="profile name (quick, paper) or a TOML file with the matrix",
    )
    parser.add_argument("--data", help="'synthetic' or a dataset folder (overrides the profile)")
    add_card_argument(parser)
    parser.add_argument("--frameworks", help=f"comma-separated subset of: {','.join(FRAMEWORKS)}")
    parser.add_argument("--variants", help=f"comma-separated subset of: {choices(VARIANTS)}")
    parser.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--splits", help="comma-separated subset of: " + "; ".join(
        f"{key} ({kind.about})" for key, kind in SPLITS.items()))
    parser.add_argument("--hud", help=f"comma-separated subset of: {choices(OVERLAYS)}")
    parser.add_argument("--no-probe", action="store_true",
                        help="leave out the profile's probe cells (e.g. the HUD-only baseline)")
    parser.add_argument("--epochs", type=int, help="epochs per run (overrides the profile)")
    parser.add_argument("--image-size", type=int, help="input size in pixels (square)")
    parser.add_argument("--pretrained", type=Path, metavar="FILE",
                        help="ImageNet weights for a transfer profile (safetensors, torchvision "
                        "ResNet layout); nothing is ever downloaded")
    parser.add_argument(
        "--mode",
        action="append",
        default=[],
        metavar="KEY=BOOL",
        help=f"tuned mode flag recorded in each result, e.g. {EXAMPLE_MODE}=true",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_RESULTS,
        help="results folder (records go to <results>/runs)",
    )
    parser.add_argument(
        "--force", action="store_true", help="rerun cells that already have a record"
    )
    add_skip_bad_argument(parser)
    add_jobs_argument(parser)


def add_card_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--card", metavar="FILE",
                        help="dataset card (TOML) to label the data by, instead of the "
                        "folder's dataset.toml (`python -m common_data describe` prints one)")


def card_settings(value: str) -> dict[str, str]:
    """`--card FILE`: the run-config keys naming the card, checked now so that a bad card is
    one line before any run starts. Its sha256 enters the config, so an edited card makes new
    runs rather than passing for the old ones."""
    digest = card_digest(value, f"--card {value}")
    load_card(value, f"--card {value}")
    return {"card": str(Path(value).expanduser().resolve()), "card_sha256": digest}


def add_skip_bad_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out images that cannot be decoded (each is listed) instead of stopping",
    )


def add_jobs_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs",
        help="runs at a time (default: the profile's `jobs`, else 1). More suits runs with "
        "fewer threads than cores; their timings are then not those of a run alone, and the "
        "report says so",
    )
    add_executor_arguments(parser)


def parse_jobs(value: str | None, default: Any = 1) -> int:
    """`--jobs`, or when it is absent the profile's `jobs` key (`default`)."""
    if value is None:
        if isinstance(default, bool) or not isinstance(default, int) or default < 1:
            raise ConfigError(f"profile key 'jobs' = {default!r}: expected an integer >= 1")
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"--jobs {value!r}: expected an integer >= 1")
    return int(value)


def parse_csv(flag: str, value: str, allowed: Collection[str] | None = None) -> list[str]:
    """A comma-separated flag value, each item checked against `allowed` when given."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"{flag} {value!r}: expected a comma-separated list")
    if allowed:
        for item in items:
            if item not in allowed:
                raise ConfigError(
                    f"{flag}: unknown value {item!r} (expected one of: {', '.join(allowed)})"
                )
    return items


def parse_seeds(value: str) -> list[int]:
    """Distinct seeds >= 0: a seed listed twice would run one cell twice at once, into one
    record, and a bad one is blamed on the flag, not on the profile the flag overrides."""
    try:
        seeds = [int(s) for s in parse_csv("--seeds", value)]
    except ValueError:
        raise ConfigError(f"--seeds {value!r}: expected integers like 0,1,2") from None
    for seed in seeds:
        if seed < 0:
            raise ConfigError(f"--seeds {value!r}: seed {seed} is negative (expected integers "
                              ">= 0)")
        if seeds.count(seed) > 1:
            raise ConfigError(f"--seeds {value!r}: seed {seed} is listed twice (each seed runs "
                              "once)")
    return seeds


def check_image_size(size: int) -> None:
    """`--image-size` in the range preprocessing allows, blamed on the flag: a size of 100000
    would have a child process ask for terabytes, and 0 would be reported against the
    profile file the flag overrides."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ConfigError(f"--image-size {size}: expected an integer in {MIN_SIZE}..{MAX_SIZE} "
                          "(pixels per side)")


def resolve_data_flag(value: str) -> str:
    """`--data`: 'synthetic', or an existing folder made absolute (it enters the config hash)."""
    if value in EMBEDDED:
        return value
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"--data {value!r}: no such folder (expected 'synthetic' or a dataset folder)"
        )
    return str(path.resolve())


def apply_overrides(profile: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Fold command-line flags into the profile; flags win."""
    run = profile.setdefault("run", {})
    if args.frameworks:
        profile["frameworks"] = parse_csv("--frameworks", args.frameworks, tuple(FRAMEWORKS))
    if args.variants:
        profile["variants"] = parse_csv("--variants", args.variants, VARIANTS)
    if args.splits:
        profile["splits"] = parse_csv("--splits", args.splits, SPLITS)
    if args.hud:
        profile["hud"] = parse_csv("--hud", args.hud, OVERLAYS)
    if args.seeds:
        profile["seeds"] = parse_seeds(args.seeds)
    if args.no_probe:
        profile.pop("probe", None)
    if args.data:
        run["data"] = resolve_data_flag(args.data)
    if args.card:
        run.update(card_settings(args.card))
    if args.epochs is not None:
        if args.epochs < 1:
            raise ConfigError(f"--epochs {args.epochs}: expected an integer >= 1")
        run["epochs"] = args.epochs
    if args.image_size is not None:
        check_image_size(args.image_size)
        run["image_size"] = args.image_size
    if args.skip_bad:
        run["skip_bad"] = True
    if args.pretrained is not None:
        if not args.pretrained.is_file():
            raise ConfigError(f"--pretrained {args.pretrained}: no such file (expected a "
                              "safetensors file in the torchvision ResNet layout)")
        run["pretrained"] = str(args.pretrained.resolve())
    return apply_mode_flags(profile, args.mode)


