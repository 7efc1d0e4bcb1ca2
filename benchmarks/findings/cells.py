"""A finding's matrix: its file found and checked, the part of it a command runs (protocol,
seeds, regimes, arms), fitted to what the dataset supports, and expanded into harness cells, so
a finding resumes like any other matrix."""

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks.findings.protocol import published_protocol
from benchmarks.findings.spec import FINDINGS_DIR, Arm, load_finding_file
from benchmarks.matrix import mode_guard
from benchmarks.matrix.build import dataset_facts
from benchmarks.matrix.cells import Cell, expand
from common_data.data.cache import Images
from common_data.errors import ConfigError
from common_data.regimes import OVERLAYS, SPLITS, VARIANTS
from common_data.run.config import load_run_config
from common_data.run.inputs import load_run_data, run_images

FINDING_PATH = FINDINGS_DIR / "augmentation.toml"


def finding_path(name_or_file: str) -> Path:
    """`--finding`: a name in benchmarks/findings/, or a path to a TOML file."""
    path = Path(name_or_file)
    if path.suffix != ".toml":
        path = FINDINGS_DIR / f"{name_or_file}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in FINDINGS_DIR.glob("*.toml")))
        raise ConfigError(f"--finding {name_or_file!r}: no such finding file (expected one of "
                          f"{known}, or a path ending in .toml)")
    return path


def load_finding(path: Path = FINDING_PATH) -> dict[str, Any]:
    """The finding, checked (benchmarks/findings/spec.py), its protocols resolved against the
    published protocol; `min_effect` is its first comparison's, which the report's answers
    use."""
    finding = load_finding_file(path)
    finding["min_effect"] = finding["comparisons"][0].min_effect
    return finding


@dataclass(frozen=True)
class FindingSelection:
    """Which part of the finding's matrix to run (the regression suite runs slices of it)."""

    protocol: str   # a [protocol.NAME] of the finding
    data: str
    frameworks: list[str]
    seeds: list[int]
    regimes: list[str]
    variants: tuple[str, ...] = tuple(VARIANTS)   # the arms whose variant is one of these run
    probe: bool = True
    fault: str = "none"
    skip_bad: bool = False
    card: dict[str, str] = field(default_factory=dict)  # compare.card_settings of --card


def selection_from(
    finding: dict[str, Any], protocol: str, data: str, **overrides: Any
) -> FindingSelection:
    """The finding's own matrix under its protocol `protocol`, with any field overridden."""
    if protocol not in finding["protocol"]:
        raise ConfigError(f"--protocol {protocol!r}: expected one of "
                          f"{', '.join(finding['protocol'])}")
    matrix = finding["matrix"]
    mode_guard.refuse_unchecked(
        mode_guard.profile_choices(finding["protocol"][protocol], matrix["frameworks"]),
        f"finding {finding['id']} [protocol.{protocol}]")
    regimes = finding["protocol"][protocol].get("regimes", matrix["regimes"])
    chosen = {k: v for k, v in overrides.items() if v is not None}
    if not matrix.get("probe"):   # nothing to probe: no HUD-only regime to fit to the data
        chosen["probe"] = False
    for regime in chosen.get("regimes", []):
        if regime not in matrix["regimes"]:
            raise ConfigError(
                f"--regimes: unknown regime {regime!r} (expected: {', '.join(matrix['regimes'])})"
            )
    return FindingSelection(
        **{
            "protocol": protocol,
            "data": data,
            "frameworks": matrix["frameworks"],
            "seeds": matrix["seeds"],
            "regimes": regimes,
            **chosen,
        }
    )


def adapt_to_data(selection: FindingSelection) -> FindingSelection:
    """The finding's own regimes, fitted to what the dataset can support (as `compare` fits a
    profile's): without two capture sessions the grouped split (near-copies kept on one side)
    stands in for the session split, and without a declared overlay the masked and HUD-only
    regimes and the probe are dropped, since there is nothing to mask. Each change is named
    in one line on stderr."""
    n_sessions, overlay = dataset_facts(selection.data, **selection.card)
    regimes = [tuple(r.split(".")) for r in selection.regimes]
    stand_ins = {split: SPLITS[split].stand_in for split, _ in regimes
                 if SPLITS[split].stand_in}
    if n_sessions < 2 and stand_ins:
        regimes = list(dict.fromkeys((stand_ins.get(split, split), hud)
                                     for split, hud in regimes))
        for split, stand_in in stand_ins.items():
            print(f"note: {selection.data} has {n_sessions} capture sessions, so the finding's "
                  f"{split} regimes run on the {stand_in} split ({SPLITS[stand_in].about})",
                  file=sys.stderr)
    probe = selection.probe
    if not overlay and (probe or any(OVERLAYS[hud].overlay for _, hud in regimes)):
        regimes = [(split, hud) for split, hud in regimes if not OVERLAYS[hud].overlay]
        probe = False
        print(f"note: the dataset card of {selection.data} declares no overlay, so the "
              "finding's masked and HUD-only regimes are skipped", file=sys.stderr)
    return replace(selection, regimes=[".".join(r) for r in regimes], probe=probe)


def matrix_profile(finding: dict[str, Any], selection: FindingSelection) -> dict[str, Any]:
    """The harness profile (benchmarks.matrix.cells) of the finding's runs under `selection`, with
    the protocol's own run overrides, before each arm's."""
    protocol = finding["protocol"][selection.protocol]
    augmented: dict[str, Any] = {"epochs": protocol["augmented_epochs"]}
    if protocol["early_stopping"]:
        augmented.update(published_protocol().augmented_schedule)
    return {
        "frameworks": selection.frameworks,
        "variants": list(selection.variants),
        "seeds": selection.seeds,
        "run": {
            "data": selection.data,
            "image_size": protocol["image_size"],
            "epochs": protocol["epochs"],
            "fault": selection.fault,
            "skip_bad": selection.skip_bad,
            "threads": protocol.get("threads", 2),
            "dropout": protocol.get("dropout", "shared"),
            **selection.card,
            **protocol.get("run", {}),
        },
        "variant": {"augmented": augmented},
        "framework": protocol.get("framework", {}),
    }


def arms_in(finding: dict[str, Any], selection: FindingSelection) -> list[Arm]:
    """The finding's arms that `selection` runs (`--variants` keeps those of its variants)."""
    return [arm for arm in finding["arms"] if arm.variant in selection.variants]


def arm_cells(finding: dict[str, Any], selection: FindingSelection,
              arm: Arm) -> list[Cell]:
    """One arm's grid: framework x seed x regime, the arm's variant and run overrides."""
    base = matrix_profile(finding, selection)
    base = dict(base, variants=[arm.variant], run={**base["run"], **arm.run})
    cells = []
    for regime in selection.regimes:
        split, hud = regime.split(".")
        cells += expand(dict(base, splits=[split], hud=[hud]))
    return cells


def check_training_sets(finding: dict[str, Any], selection: FindingSelection) -> None:
    """Each arm's training set chosen as its runs will choose it, once per split and HUD mode
    the selection runs: an arm asking for palettes the dataset lacks, or for more training
    frames than a split holds, is refused in one line before any run starts."""
    decoded: dict[tuple[int, str], Images] = {}
    for arm in arms_in(finding, selection):
        checked = set()
        for cell in arm_cells(finding, selection, arm):
            config = load_run_config(cell.config)
            key = (cell.split, cell.fold, cell.hud)
            if not (config.train_palettes or config.train_frames) or key in checked:
                continue
            checked.add(key)
            size = (config.image_size, config.hud)
            if size not in decoded:
                decoded[size] = run_images(config)
            try:
                load_run_data(config, decoded[size])
            except ConfigError as exc:
                raise ConfigError(f"finding {finding['id']} arm {arm.name!r} on {cell.split}."
                                  f"{cell.hud}: {exc}") from None


def finding_cells(
    finding: dict[str, Any], selection: FindingSelection
) -> tuple[list[Cell], list[Cell]]:
    """The grid (each arm's framework x seed x regime) and the probe cells."""
    grid = [cell for arm in arms_in(finding, selection)
            for cell in arm_cells(finding, selection, arm)]
    if not selection.probe:
        return grid, []
    base = matrix_profile(finding, selection)
    probe = finding["matrix"].get("probe")
    if not probe:
        return grid, []
    return grid, expand(
        dict(base, variants=[probe["variant"]], splits=[probe["split"]], hud=[probe["hud"]])
    )


