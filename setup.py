"""Copy the built-in data folders into the wheel as package data (artfarm/_data/<folder>).

The folders stay at the repository root, where the team edits them; a wheel (or any
non-editable install) gets a copy inside the package, which ``artfarm/resources.py`` finds
through importlib.resources. An editable install reads the checkout's folders directly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_DIRS = ("workflows", "style_packs", "fonts", "schemas")  # keep in step with artfarm/resources.py
ROOT = Path(__file__).resolve().parent


class BuildPyWithData(build_py):
    """build_py, then the data folders into build/lib/artfarm/_data/ (skipped for editable installs)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "artfarm" / "_data"
        for name in DATA_DIRS:
            source = ROOT / name
            if not source.is_dir():
                raise SystemExit(f"setup.py: the data folder {source} is missing; build from a full checkout or sdist")
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        target = Path(self.build_lib) / "artfarm" / "_data"
        copied = [target / name / f.relative_to(ROOT / name)
                  for name in DATA_DIRS for f in (ROOT / name).rglob("*") if f.is_file()]
        return super().get_outputs(include_bytecode) + [str(p) for p in copied]

setup(cmdclass={"build_py": BuildPyWithData})
