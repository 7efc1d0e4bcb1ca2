"""Canonical emotion classes and the folder-name alias table.

Folder names in the wild differ (the real set spells `surpise`, others say `neutral` or
`anger`); mapping them through one explicit table keeps unknown folders visible instead of
silently dropped or merged.
"""

from collections.abc import Mapping

CLASSES: tuple[str, ...] = ("angry", "happy", "natural", "sad", "surprise")

DEFAULT_ALIASES: dict[str, str] = {
    "angry": "angry",
    "anger": "angry",
    "mad": "angry",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "natural": "natural",
    "neutral": "natural",
    "calm": "natural",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "surpise": "surprise",
    "suprise": "surprise",
}


def canonical_class(folder: str, aliases: Mapping[str, str] | None = None) -> str | None:
    """Return the canonical class for a folder name, or None when it maps to no class.

    Matching ignores case and surrounding whitespace; user aliases extend and override the
    defaults.
    """
    table = dict(DEFAULT_ALIASES)
    if aliases:
        table.update({k.strip().lower(): v for k, v in aliases.items()})
    target = table.get(folder.strip().lower())
    return target if target in CLASSES else None
