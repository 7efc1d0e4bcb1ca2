"""One reader for the TOML files users write (dataset cards, alias files, findings): whatever
stops a file from being read is one ConfigError naming it, never a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from common_data.errors import ConfigError


def read_toml(source: Path, where: str) -> dict[str, Any]:
    """The file's tables; `where` names the file in the one-line error."""
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
