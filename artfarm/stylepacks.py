"""Finding and reading style packs; each pack is a folder with a pack.yaml."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from artfarm.book.files import load_model
from artfarm.findings import Finding
from artfarm.models.stylepack import StylePack
from artfarm.resources import builtin_dir

STYLE_PACKS_ENV = "ARTFARM_STYLE_PACKS"


@dataclass(frozen=True)
class LoadedStylePack:
    pack: StylePack
    folder: Path

    @property
    def name(self) -> str:
        return self.pack.name


def search_path(book_dir: Path | None = None) -> list[Path]:
    """A book's own style_packs/ first, then $ARTFARM_STYLE_PACKS, then the built-in packs."""
    dirs: list[Path] = []
    if book_dir is not None:
        dirs.append(Path(book_dir) / "style_packs")
    dirs += [Path(p) for p in os.environ.get(STYLE_PACKS_ENV, "").split(os.pathsep) if p]
    dirs.append(builtin_dir("style_packs"))
    return dirs


def available(book_dir: Path | None = None) -> list[str]:
    names = {p.parent.name for d in search_path(book_dir) if d.is_dir() for p in d.glob("*/pack.yaml")}
    return sorted(names)


def find(name: str, book_dir: Path | None = None) -> Path | None:
    for d in search_path(book_dir):
        candidate = d / name / "pack.yaml"
        if candidate.is_file():
            return candidate.parent
    return None


def load(name: str, book_dir: Path | None = None) -> tuple[LoadedStylePack | None, list[Finding]]:
    folder = find(name, book_dir)
    if folder is None:
        known = ", ".join(available(book_dir)) or "none"
        return None, [Finding(file=f"style_packs/{name}/pack.yaml", message=f"unknown style pack '{name}'",
                              fix=f"use one of: {known}; or add style_packs/{name}/pack.yaml to the book")]
    pack_file = folder / "pack.yaml"
    pack, findings = load_model(pack_file, StylePack, display=str(pack_file))
    if pack is None:
        return None, findings
    if pack.name != name:
        return None, [Finding(file=str(pack_file), path="$.name",
                              message=f"pack name '{pack.name}' does not match its folder '{name}'",
                              fix=f"set name: {name} or rename the folder")]
    return LoadedStylePack(pack=pack, folder=folder), []
