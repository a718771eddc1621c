"""The built wheel carries the built-in data, and artfarm run from it validates a book outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from artfarm.resources import PACKAGED, REPO_ROOT

pytest.importorskip("setuptools")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(REPO_ROOT)], check=True, timeout=240, capture_output=True)
    (found,) = out.glob("artfarm-*-py3-none-any.whl")
    return found


def test_wheel_holds_every_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in PACKAGED:
        files = [p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / folder).rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts]
        assert files, folder
        missing = [f for f in files if f"artfarm/_data/{f}" not in names]
        assert not missing, f"{folder}: {missing[:5]}"


def test_unpacked_wheel_validates_the_example_book_from_an_empty_folder(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    work = tmp_path / "work"
    shutil.copytree(REPO_ROOT / "books" / "gingerbear_01", work / "books" / "gingerbear_01",
                    ignore=shutil.ignore_patterns("layout", "exports", "draft", "selected", "refine", "inpaint",
                                                  "loop", "upscale", "final", "review.json"))
    env = {**os.environ, "PYTHONPATH": str(site)}
    for name in ("ARTFARM_STYLE_PACKS", "ARTFARM_BOOKS"):
        env.pop(name, None)
    where = subprocess.run([sys.executable, "-c", "import artfarm.resources as r; print(r.builtin_dir('style_packs'))"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    assert Path(where.stdout.strip()) == site / "artfarm" / "_data" / "style_packs"
    result = subprocess.run([sys.executable, "-m", "artfarm", "validate", "gingerbear_01", "--json"],
                            cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["errors"] == 0
