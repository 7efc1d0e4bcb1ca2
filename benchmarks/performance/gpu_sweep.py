"""`python3 -m benchmarks.performance.gpu_sweep`: the GPU seed study's runs, on the lent device.

The device lends 15 minutes in all, so the study runs as many of its prepared run configs
(`.gpu/seeds/*.json`, written by `python -m benchmarks gpu-kit`) as fit in a time budget,
several at once on the one GPU. Each run is still its own process (`python3 -m
pytorch_impl.run`), as the fairness rules ask; runs at once share the GPU, so their clocks are
not the study's timings (the solo runs of gpu_check.sh are) and `sweep.json` says how many ran
together. Configs are taken in seed order with both precisions of a seed side by side, so a
budget that runs out leaves whole seeds, not one precision of many.

It runs on the device's own Python, beside PyTorch, and imports neither the rest of the
harness nor a framework.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common_data.atomic import write_json_atomic

POLL_S = 0.5


def _order(path: Path) -> tuple[int, str]:
    config = json.loads(path.read_text(encoding="utf-8"))
    return int(config["seed"]), path.name


def sweep(configs: list[Path], out: Path, parallel: int, budget_s: float,
          run_timeout_s: float) -> dict[str, Any]:
    """Run the configs, `parallel` at a time, starting none after `budget_s`; a run past
    `run_timeout_s` is killed and recorded as such. Returns the sweep's account."""
    started = time.monotonic()
    queue = sorted(configs, key=_order)
    running: dict[str, tuple[subprocess.Popen[bytes], float, int]] = {}
    runs: list[dict[str, Any]] = []
    while queue or running:
        now = time.monotonic()
        while queue and len(running) < parallel and now - started < budget_s:
            config = queue.pop(0)
            log = (out / f"{config.stem}.log").open("wb")
            process = subprocess.Popen(
                [sys.executable, "-m", "pytorch_impl.run", "--config", str(config),
                 "--out", str(out / f"{config.stem}.json")],
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
            running[config.stem] = (process, now, len(running) + 1)
        for name, (process, since, together) in list(running.items()):
            code = process.poll()
            if code is None and time.monotonic() - since > run_timeout_s:
                process.kill()
                code = process.wait()
                code = f"killed after {run_timeout_s:.0f} s"
            if code is not None:
                runs.append({"run": name, "exit": code, "wall_s": time.monotonic() - since,
                             "runs_at_once_when_started": together})
                del running[name]
        if queue and time.monotonic() - started >= budget_s and not running:
            break
        time.sleep(POLL_S)
    return {"parallel": parallel, "budget_s": budget_s, "wall_s": time.monotonic() - started,
            "configs": len(configs), "started": len(runs), "not_started": [p.stem for p in queue],
            "runs": sorted(runs, key=lambda r: r["run"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m benchmarks.performance.gpu_sweep",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", type=Path, required=True, help="folder of run configs")
    parser.add_argument("--out", type=Path, required=True, help="folder for records and logs")
    parser.add_argument("--settings", type=Path, required=True,
                        help="JSON: parallel, budget_s, run_timeout_s (the kit's sweep.json)")
    parser.add_argument("--budget-s", type=float,
                        help="start no run after this many seconds (default: the settings')")
    args = parser.parse_args(argv)
    configs = sorted(args.configs.glob("*.json"))
    settings = json.loads(args.settings.read_text(encoding="utf-8"))
    if args.budget_s is not None:
        settings["budget_s"] = min(float(settings["budget_s"]), args.budget_s)
    if not configs or int(settings["parallel"]) < 1:
        print(f"error: --configs {args.configs}: expected run configs (*.json), and "
              f"{args.settings}: expected parallel >= 1", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    account = sweep(configs, args.out, int(settings["parallel"]), float(settings["budget_s"]),
                    float(settings["run_timeout_s"]))
    write_json_atomic(args.out / "sweep.json", account)
    ok = sum(r["exit"] == 0 for r in account["runs"])
    print(f"sweep: {ok} of {account['started']} runs ok ({len(configs)} prepared), "
          f"{account['wall_s']:.0f} s, {account['parallel']} at once", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
