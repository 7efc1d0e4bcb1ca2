"""User alias files: map another dataset's folder names onto a trained model's classes.

A folder the table does not know is reported as unmapped, never guessed at, so a user who
wants `fear/` scored as `surprise` says so in a TOML file:

    [aliases]
    fear = "surprise"

Every value must name a class (or a known alias of one): a misspelt target would otherwise
leave the folder silently unmapped, which is exactly what the file was written to prevent.
"""

from __future__ import annotations

from pathlib import Path

from common_data.errors import ConfigError
from common_data.toml_file import read_toml


def load_aliases(path: str | Path, classes: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Folder name -> class, from the `[aliases]` table of a TOML file; every target must be
    one of `classes` (the trained model's)."""
    source = Path(path).expanduser()
    where = f"--aliases {source}"
    raw = read_toml(source, where)
    stray = sorted(set(raw) - {"aliases"})
    if stray or not isinstance(raw.get("aliases"), dict):
        found = f"found {', '.join(repr(k) for k in stray)}" if stray else "found none"
        raise ConfigError(
            f"{where}: expected only an [aliases] table like `fear = \"surprise\"` ({found})"
        )
    aliases: dict[str, str] = {}
    for folder, target in raw["aliases"].items():
        label = target.strip().lower() if isinstance(target, str) else None
        if label not in classes:
            raise ConfigError(
                f"{where}: alias {folder!r} = {target!r} names no class: expected one of "
                f"{', '.join(classes)}"
            )
        aliases[folder] = label
    return aliases
