"""`python -m benchmarks <command>`: the harness's entry point.

Each command lives in its own module and is imported only when asked for, so `report` works
on a machine that has records but no framework environments.
"""

import importlib
import sys

from common_data.errors import BenchError, one_line, reader_went_away

COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("benchmarks.cli.compare", "run the comparison matrix and write the report"),
    "report": ("benchmarks.report.render", "COMPARISON.md and figures from stored records"),
    "parity": ("benchmarks.cli.parity", "prove the twins equivalent"),
    "finding": ("benchmarks.cli.finding", "re-examine a finding (default: augmentation)"),
    "evaluate": ("benchmarks.cli.evaluate", "evaluate a stored run's weights on another dataset"),
    "performance": ("benchmarks.performance.suites", "benchmark suites -> results/PERFORMANCE.md"),
    "export": ("benchmarks.report.export", "stored runs as a table (CSV, JSON, Parquet)"),
    "gpu-kit": ("benchmarks.performance.gpu_kit", "prepare the GPU check, or take in its results"),
    "bf16-check": ("benchmarks.performance.bf16_check", "bf16 accuracy against float32's"),
}


def _usage() -> str:
    lines = ["usage: python -m benchmarks <command> [options]", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(
            f"error: unknown command {name!r} (expected one of: {', '.join(COMMANDS)})",
            file=sys.stderr,
        )
        return 2
    try:  # importing reads the framework table, which a registration file can break
        module = importlib.import_module(COMMANDS[name][0])
        code = module.main(rest)
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
        return code
    except BenchError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return reader_went_away()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
