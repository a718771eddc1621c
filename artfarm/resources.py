"""Folders that ship with artfarm (style packs, workflow templates, fonts, schemas).

A wheel carries them inside the package (``artfarm/_data/<name>``, copied there at build time
by setup.py); a source checkout (an editable install) has them at the repository root.
The packaged copy wins when it exists, so an installed artfarm never reads a stray checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGED = ("workflows", "style_packs", "fonts", "schemas")  # keep in step with setup.py's DATA_DIRS


def packaged_dir(name: str) -> Path | None:
    """``artfarm/_data/<name>`` inside the installed package, or None (a checkout has no _data)."""
    path = Path(str(resources.files("artfarm") / "_data" / name))
    return path if path.is_dir() else None


def builtin_dir(name: str) -> Path:
    """``style_packs``, ``workflows``, ``fonts``, ``schemas``: the packaged copy, else the checkout's folder."""
    if name in PACKAGED:
        found = packaged_dir(name)
        if found is not None:
            return found
    return REPO_ROOT / name
