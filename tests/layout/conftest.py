"""Books with synthetic final art, for reading the PDFs back."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.bookbuilder import default_book, default_spec, write_book

TRIM = "4x4"  # small trim keeps 300 ppi art small and the tests fast
ART_PX = 1300  # 4.125 x 4.25 in with bleed at 300+ ppi


def art_array(width: int, height: int, *, busy_top: bool = True, seed: int = 0) -> np.ndarray:
    """A calm two-colour gradient with a busy checkerboard across the top third."""
    y, x = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = 200 + (x * 40 // width)
    img[..., 1] = 170 + (y * 60 // height)
    img[..., 2] = 120 + seed * 10 % 100
    if busy_top:
        band = height // 3
        checks = ((x[:band] // 12 + y[:band] // 12) % 2)[..., None] == 1
        img[:band] = np.where(checks, 20, 240).astype(np.uint8)
    return img


def save_art(book_dir: Path, page: int, array: np.ndarray) -> Path:
    path = book_dir / f"pages/{page:04d}/final/final.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, compress_level=1)
    return path


@pytest.fixture
def layout_book(books_dir):
    """``layout_book(pages=4, art=True, **book_changes)`` -> book dir with art for the cover and every page."""

    def _make(pages: int = 4, *, art: bool = True, art_px: int = ART_PX, layout: dict | None = None,
              page_changes: dict[int, dict] | None = None, **changes):
        book = default_book(pages)
        book["layout"] = {"trim": TRIM, **(layout or {})}
        for page, update in (page_changes or {}).items():
            book["pages"][page - 1].update(update)
        book.update(changes)
        continuations = {e["page"] + 1 for e in book["pages"] if e.get("spread")}
        art_pages = [0] + [e["page"] for e in book["pages"] if e["page"] not in continuations]
        book_dir = write_book(books_dir, book=book, specs={p: default_spec(p) for p in art_pages})
        if art:
            for p in art_pages:
                spread = any(e["page"] == p and e.get("spread") for e in book["pages"])
                save_art(book_dir, p, art_array(art_px * (2 if spread else 1), art_px, seed=p))
        return book_dir

    return _make


def render_png(pdf: Path, out_prefix: Path, dpi: int = 36, page: int = 1) -> Image.Image:
    """Rasterise one page with pdftoppm (tests using it skip where poppler is not installed)."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    subprocess.run([exe, "-r", str(dpi), "-f", str(page), "-l", str(page), "-png", "-singlefile", str(pdf), str(out_prefix)],
                   check=True, timeout=60)
    return Image.open(f"{out_prefix}.png").convert("RGB")


def plan_context(book_dir: Path, printer: str = "generic"):
    """The planning context export-pdf builds (placeholder art where there is none), for one printer."""
    from artfarm.book.loader import load_book
    from artfarm.layout.export import _art_sources, _palette
    from artfarm.layout.fonts import load_fonts
    from artfarm.layout.plan import PlanContext
    from artfarm.layout.printers import load_profile

    loaded = load_book(book_dir)
    profile = load_profile(printer)
    return PlanContext(book=loaded.book, book_dir=loaded.root, fonts=load_fonts(loaded.book.layout.typography.font, loaded.root),
                       palette=_palette(loaded), sources=_art_sources(loaded, True, profile), printer=profile)
