"""Folders that ship with artfarm (style packs, workflow templates, fonts)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def builtin_dir(name: str) -> Path:
    """``style_packs``, ``workflows``, ``fonts``... at the repository root (artfarm installs editable)."""
    return REPO_ROOT / name
