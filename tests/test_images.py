"""One image loader for every picture artfarm reads: hostile and odd files give a clear error, never a crash."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from artfarm.errors import ImageFileError
from artfarm.images import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV, image_size, load_image
from artfarm.pipeline.sizes import print_px
from tests.bookbuilder import png_bytes
from tests.pipeline_helpers import run, write_small_book


def bomb_png(side: int = 20000) -> bytes:
    """A 1-bit PNG that is a few KB on disk and decodes to ``side`` x ``side`` pixels."""
    buf = io.BytesIO()
    Image.new("1", (side, side), 0).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def artfarm_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "artfarm.cli.main", *args], capture_output=True, text=True, timeout=300)


def test_a_decompression_bomb_mask_and_a_text_file_named_png_are_reported_by_validate_and_status(make_book):
    bomb = bomb_png()
    assert len(bomb) < 100_000
    book = write_small_book(make_book, pages=2, files={"pages/0001/masks/hat.png": bomb,
                                                       "bible/style_refs/wash.png": "this is not a picture\n"})
    spec = json.loads((book / "pages/0002/renderspec.json").read_text())
    spec["refs"] = {"style": ["bible/style_refs/wash.png"]}
    (book / "pages/0002/renderspec.json").write_text(json.dumps(spec))

    checked = artfarm_cli("validate", str(book))
    assert checked.returncode == 2, checked.stderr
    assert "pages/0001/masks/hat.png" in checked.stdout and "over the limit" in checked.stdout
    assert "wash.png" in checked.stdout and "not an image" in checked.stdout

    status = artfarm_cli("status", str(book), "--json")
    assert "internal error" not in status.stderr
    assert status.returncode == 0, status.stderr
    rows = {row["page"]: row for row in json.loads(status.stdout)["pages"]}
    assert "not an image" in rows[2]["error"]
    assert "masks/hat.png" in rows[1]["error"] and "over the limit" in rows[1]["error"]


def test_a_page_with_a_bomb_mask_fails_alone(make_book):
    book = write_small_book(make_book, pages=2, files={"pages/0001/masks/hat.png": bomb_png()})
    summary, _ = run(book, keep_going=True)
    assert {p.page: p.status for p in summary.pages} == {1: "failed", 2: "done"}
    assert "masks/hat.png" in summary.pages[0].error and summary.exit_code == 2


def test_the_pixel_limit_is_configurable_and_the_default_holds_a_doubled_spread(tmp_path, monkeypatch):
    from artfarm.models.book import Book

    spread = Book.model_validate({"title": "t", "author": "a", "style_pack": "p", "layout": {"trim": "8.5x11"},
                                  "pages": [{"page": 2, "spread": True, "text": ""}, {"page": 3, "text": ""}]})
    width, height = print_px(spread, 2)
    assert (2 * width) * (2 * height) * 1.5 < DEFAULT_MAX_PIXELS  # a 2x upscale of a spread at 300 ppi, with room
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes((300, 200)))
    assert image_size(path) == (300, 200)
    monkeypatch.setenv(MAX_PIXELS_ENV, "50000")
    with pytest.raises(ImageFileError) as caught:
        load_image(path, what="reference")
    assert "over the limit of 50,000" in str(caught.value) and str(path) in str(caught.value)
    assert MAX_PIXELS_ENV in caught.value.fix


def test_a_truncated_file_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(png_bytes((256, 256), (10, 200, 30))[:200])
    with pytest.raises(ImageFileError) as caught:
        load_image(path, what="draft")
    assert str(path) in str(caught.value) and "fix:" in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("mode", ["I;16", "P", "CMYK", "RGBA", "LA", "1"])
def test_odd_modes_load_as_plain_pictures(tmp_path, mode):
    path = tmp_path / f"odd.{'tif' if mode in ('CMYK',) else 'png'}"
    if mode == "I;16":
        Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)).save(path)
    else:
        Image.new("RGBA", (8, 8), (250, 250, 250, 255)).convert(mode).save(path)
    with Image.open(path) as raw:
        assert raw.mode == mode  # the file really is that mode
    picture = load_image(path)
    assert picture.mode in ("L", "LA", "RGB", "RGBA")
    rgb = load_image(path, mode="RGB")
    assert rgb.mode == "RGB" and min(rgb.getpixel((4, 4))) > 200  # light stays light (16-bit scaled, not clipped)


def test_an_unusable_mode_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "float.tif"
    Image.fromarray(np.zeros((4, 4), dtype=np.float32)).save(path)
    with pytest.raises(ImageFileError) as caught:
        load_image(path, what="reference")
    assert "'F'" in caught.value.what and "8-bit" in caught.value.fix


def test_no_module_opens_images_except_the_loader():
    from pathlib import Path

    import artfarm

    root = Path(artfarm.__file__).parent
    readers = [p.relative_to(root).as_posix() for p in root.rglob("*.py")
               if "Image.open(" in p.read_text(encoding="utf-8") and p.name != "images.py"]
    assert readers == []  # bytes already read (masks, PDF images) go through artfarm.images too


def test_a_bad_character_reference_fails_only_the_pages_showing_that_character(make_book):
    from tests.bookbuilder import default_characters
    from tests.pipeline_helpers import small_spec

    characters = default_characters()
    characters["characters"][1]["refs"] = ["bible/character_refs/ginger/front.png"]
    book = write_small_book(make_book, pages=2, characters=characters,
                            specs={1: small_spec(1, characters=[{"id": "ginger"}]), 2: small_spec(2)},
                            files={"bible/character_refs/ginger/front.png": "this is not a picture\n"})

    checked = artfarm_cli("validate", str(book))
    assert checked.returncode == 2, checked.stderr
    assert checked.stdout.count("not an image") == 1 and "bible/characters.yaml" in checked.stdout

    status = artfarm_cli("status", str(book), "--json")
    assert status.returncode == 0, status.stderr
    rows = {row["page"]: row for row in json.loads(status.stdout)["pages"]}
    assert "not an image" in rows[1]["error"] and "front.png" in rows[1]["error"]
    assert rows[2]["error"] is None

    summary, _ = run(book, keep_going=True)
    assert {p.page: p.status for p in summary.pages} == {1: "failed", 2: "done"} and summary.exit_code == 2
    assert "front.png" in summary.pages[0].error
