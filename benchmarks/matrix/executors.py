"""Where a matrix's cells run: on this machine (`local`) or as Ray tasks on a cluster (`ray`).

Only the choice lives here, so `compare` and `finding` parse it without importing Ray; Ray is
imported by `benchmarks.matrix.ray_executor` when `--executor ray` is asked for, and never by the
local path or the framework envs.
"""

import argparse
import importlib.util
import os
from dataclasses import dataclass

from common_data.errors import ConfigError

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Executor:
    kind: str = "local"
    ray_address: str | None = None  # None: start a local Ray instance

    @property
    def where(self) -> str:
        """What the user asked for, for messages and the matrix summary."""
        if self.kind == "local":
            return "this machine"
        return f"Ray cluster {self.ray_address}" if self.ray_address else "a local Ray instance"


LOCAL = Executor()


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--executor",
        default="local",
        help="local (default: runs on this machine) or ray (one Ray task per cell, on whichever "
        "node has the CPUs/GPU the cell asks for; --jobs is then ignored)",
    )
    parser.add_argument(
        "--ray-address",
        help="Ray cluster to use with --executor ray (default: $RAY_ADDRESS, else start a "
        "local Ray instance)",
    )


def executor_from(args: argparse.Namespace) -> Executor:
    if args.executor not in EXECUTORS:
        raise ConfigError(
            f"--executor {args.executor!r}: expected one of: {', '.join(EXECUTORS)}"
        )
    if args.executor == "local":
        if args.ray_address:
            raise ConfigError("--ray-address needs --executor ray")
        return LOCAL
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(
            "--executor ray: Ray is not installed in this env (install requirements/harness.txt, "
            "or run through `python3 -m tox -m compare -- --executor ray`)"
        )
    return Executor("ray", args.ray_address or os.environ.get("RAY_ADDRESS") or None)
