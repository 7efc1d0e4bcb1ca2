"""tox inline plugin: make pyenv-installed Pythons visible to tox.

On machines where pyenv installs several Pythons but only one is active, the shims for
the others refuse to run, so tox cannot find Python 3.13 for the tf env. Putting the newest
installed 3.11 and 3.13 first on PATH lets `tox` work with no manual `pyenv global` step;
where pyenv is absent this changes nothing and tox searches PATH as usual.
"""

import os
from pathlib import Path

_NEEDED = ("3.11", "3.13")


def _pyenv_bins() -> list[str]:
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for minor in _NEEDED:
        candidates = sorted(versions.glob(f"{minor}.*"), key=lambda p: p.name)
        if candidates:
            found.append(str(candidates[-1] / "bin"))
    return found


os.environ["PATH"] = os.pathsep.join([*_pyenv_bins(), os.environ.get("PATH", "")])
