"""A matrix profile made into cells: `--mode` flags folded in, and the controls fitted to what
the dataset can support (sessions for the session split, an overlay for the masked regimes)."""

import dataclasses
import sys
from typing import Any

from benchmarks.matrix.cells import Cell, check_matrix, expand
from common_data.data.datasets import open_dataset
from common_data.errors import ConfigError
from common_data.frameworks import MODE_FRAMEWORK
from common_data.regimes import OVERLAYS, SPLITS, full_frame, needs_sessions
from common_data.run.config import Mode, parse_mode_flags


def apply_mode_flags(profile: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """`--mode KEY=BOOL` flags into a matrix profile: a mode that exists in one framework only
    goes to that framework's table, so `--mode <its mode>=true` leaves the other frameworks'
    cells valid."""
    modes = [f.name for f in dataclasses.fields(Mode)]
    for key, value in parse_mode_flags(items).items():
        if key not in modes:
            raise ConfigError(f"--mode {key}: unknown key {key!r} (expected one of: "
                              f"{', '.join(modes)})")
        owner = MODE_FRAMEWORK.get(key)
        table = profile.setdefault("framework", {}).setdefault(owner, {}) if owner else None
        if table is None:
            table = profile.setdefault("run", {})
        table.setdefault("mode", {})[key] = value
    return profile


def dataset_facts(data: str, card: str = "", card_sha256: str = "") -> tuple[int, bool]:
    """(dated capture sessions, whether its card declares an overlay) of the dataset: for
    expanding `loso` into folds and for choosing the controls the data can support."""
    dataset = open_dataset(data, card, card_sha256)
    sessions = {record.session for record in dataset.records} - {"unknown"}
    return len(sessions), bool(dataset.card is not None and dataset.card.overlay)


def build_cells(profile: dict[str, Any], adapt: frozenset[str] = frozenset()) -> list[Cell]:
    """The profile's cells. On the axes in `adapt` ("splits", "hud": those the profile set, not
    the user's flags) the controls follow the data, each change with a note: a dataset with
    fewer than two capture sessions gets the grouped split (near-copies kept on one side) in
    place of the session split, and one whose card declares no overlay runs no masked or
    HUD-only regime (there is nothing to mask, so no overlay conclusion can be drawn)."""
    check_matrix(profile)
    run = profile.get("run", {})
    data = run.get("data", "synthetic")
    full = full_frame()
    probe_hud = (profile.get("probe") or {}).get("hud", full)
    wants_overlay = any(OVERLAYS[hud].overlay for hud in [*profile["hud"], probe_hud])
    sessions = needs_sessions(profile["splits"])
    n_sessions, overlay = (dataset_facts(data, run.get("card", ""), run.get("card_sha256", ""))
                           if sessions or wants_overlay
                           else (None, True))
    stand_ins = {split: SPLITS[split].stand_in for split in profile["splits"]
                 if SPLITS[split].stand_in}
    if "splits" in adapt and stand_ins and (n_sessions or 0) < 2:
        profile["splits"] = list(dict.fromkeys(
            stand_ins.get(split, split) for split in profile["splits"]))
        for split, stand_in in stand_ins.items():
            print(f"note: {data} has {n_sessions} capture sessions, so the {stand_in} split "
                  f"({SPLITS[stand_in].about}) stands in for the {split} split",
                  file=sys.stderr)
    if "hud" in adapt and not overlay and wants_overlay:
        profile["hud"] = [full]
        if OVERLAYS[probe_hud].overlay:
            profile.pop("probe")
        print(f"note: the dataset card of {data} declares no overlay, so the masked and "
              "HUD-only regimes are skipped and no overlay conclusion is drawn", file=sys.stderr)
    return expand(profile, n_sessions if sessions else None)


