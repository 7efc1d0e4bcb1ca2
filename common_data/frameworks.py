"""The frameworks this project compares, stated once.

Everything that differs per framework (the twin's package, its display name and colour, the
tox env whose python runs it, the tuned modes only it has) is one row of `FRAMEWORKS`; every
other per-framework table (runner modules, benchmark suites, parity probes, the run config's
and the schema's allowed values, the report's names and colours) is derived from it, so adding
a framework is one row here plus its twin folder. Standard library only: the framework envs
and the harness all import it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    key: str                 # the run config's and the record's `framework` value
    package: str             # the twin's folder, which mirrors the other twin file for file
    name: str                # how reports and figures name it
    colour: str              # its colour in every figure
    tox_env: str             # the tox env whose python runs it (`.tox/<env>/bin/python`)
    modes: tuple[str, ...]   # run-config `mode.*` keys only this framework has

    def module(self, entry: str) -> str:
        """The twin's module for an entry point: `run`, `parity`, `evaluate`, `bench`,
        `op_profile` or `defaults`."""
        return f"{self.package}.{entry}"

    @property
    def bench_suite(self) -> str:
        """The twin's pytest-benchmark suite, relative to the project root."""
        return f"{self.package}/bench.py"


FRAMEWORKS: dict[str, Framework] = {
    fw.key: fw
    for fw in (
        Framework(key="torch", package="pytorch_impl", name="PyTorch", colour="#ee4c2c",
                  tox_env="torch", modes=("channels_last", "compile")),
        Framework(key="tf", package="tf_impl", name="TensorFlow", colour="#ff8f00",
                  tox_env="tf", modes=("jit_compile", "onednn")),
    )
}

FRAMEWORK_NAMES: dict[str, str] = {key: fw.name for key, fw in FRAMEWORKS.items()}

# Tuned modes that exist in one framework only; a config naming one for the other is refused.
MODE_FRAMEWORK: dict[str, str] = {
    mode: key for key, fw in FRAMEWORKS.items() for mode in fw.modes
}
