"""A finding's result in plain sentences: what changed, in which setting, under which protocol
(the published one, or its departures named)."""

from typing import Any

from benchmarks.findings.protocol import published_protocol
from common_data.frameworks import FRAMEWORK_NAMES
from common_data.regimes import OVERLAYS


def protocol_departures(protocol: dict[str, Any]) -> list[str]:
    """How a finding profile departs from the published protocol (empty: it is that one)."""
    return published_protocol().departures(
        protocol["image_size"], protocol["epochs"], protocol["augmented_epochs"],
        protocol["early_stopping"])


def protocol_label(profile: str, protocol: dict[str, Any], seeds: int) -> str:
    """`profile` in words: size, schedule, seeds, dropout source."""
    size = protocol["image_size"]
    schedule = (f"augmented <= {protocol['augmented_epochs']} epochs with early stopping"
                if protocol["early_stopping"] else f"augmented {protocol['augmented_epochs']}")
    dropout = protocol.get("dropout", "shared")
    return (f"`{profile}`: {size}x{size}, baseline {protocol['epochs']} epochs, {schedule}, "
            f"{seeds} seed{'s' if seeds != 1 else ''}, {dropout} dropout masks")


def sentences(
    rows: list[dict[str, Any]], probe: dict[str, Any], protocol: dict[str, Any],
    effects: dict[str, str] | None = None,
) -> list[str]:
    """Plain sentences on what the random split's accuracy measures, one pair per comparison
    (`effects`: comparison key -> what it changes, in words). "Published setting" is said
    only when the protocol is the published one; otherwise the departures are named."""
    text = []
    for key, effect in (effects or {"": "geometric augmentation"}).items():
        picked = [r for r in rows if not key or comparison_key(r) == key]
        text += _effect_sentences(picked, protocol, effect)
    return text + _probe_sentences(rows, probe)


def comparison_key(row: dict[str, Any]) -> str:
    c = row.get("comparison") or {"arm": "augmented", "reference": "baseline"}
    return f"{c['arm']}-vs-{c['reference']}"


def _effect_sentences(rows: list[dict[str, Any]], protocol: dict[str, Any],
                      effect: str) -> list[str]:
    def where(split: str, hud: str) -> str:
        found = [r for r in rows if r["split"] == split and r["hud"] == hud]
        return ", ".join(
            f"{FRAMEWORK_NAMES[r['framework']]} {100 * r['delta_accuracy']:+.1f} pp "
            f"({r['verdict']}"
            + ("; its reference near the majority-class rate, too near chance to tell"
               if r.get("near_majority") else "") + ")"
            for r in found
        )

    departures = protocol_departures(protocol)
    text = []
    if where("random", "full"):
        setting = ("In the published setting (published protocol, random split, full frame)"
                   if not departures else
                   "On the published split and input (random split, full frame) but not the "
                   f"published protocol ({'; '.join(departures)})")
        text.append(f"{setting} {effect} changes validation accuracy by "
                    f"{where('random', 'full')}.")
    if where("session", "masked"):
        text.append(
            f"With whole capture sessions held out and the HUD masked — the setting that "
            f"measures emotion recognition — the change is {where('session', 'masked')}."
        )
    # the face visible, the overlay masked before the full frame
    for hud in sorted((h for h, mode in OVERLAYS.items() if mode.face),
                      key=lambda h: not OVERLAYS[h].overlay):
        if where("grouped", hud):
            text.append(
                "With near-copy frames kept on one side of the split (the grouped split, the "
                f"leakage-safe one for data without capture sessions){OVERLAYS[hud].clause}, the "
                f"change is {where('grouped', hud)}.")
            break
    return text


def _probe_sentences(rows: list[dict[str, Any]], probe: dict[str, Any]) -> list[str]:
    text = []
    if probe:
        full = {r["framework"]: r["reference_accuracy"]["mean"] for r in rows
                if r["split"] == "random" and r["hud"] == "full"}
        full.update({fw: p["full_frame"]["mean"] for fw, p in probe.items() if "full_frame" in p})
        probe_text = ", ".join(
            f"{FRAMEWORK_NAMES[fw]} {100 * p['accuracy']['mean']:.1f} %"
            + (f" (full frame {100 * full[fw]:.1f} %)" if fw in full else "")
            for fw, p in probe.items()
        )
        rate = 100 * next(iter(probe.values()))["majority_class_rate"]
        text.append(
            f"A model that sees only the burned-in HUD (face blanked) reaches {probe_text} "
            f"on the random split (majority class {rate:.1f} %): much of what a random-split "
            f"accuracy measures can be read without looking at a face."
        )
    return text


