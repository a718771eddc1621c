"""The typeface of a book: a shipped OFL family (fonts/<family>/) or a TTF file inside the book.

Fonts are registered with ReportLab as TrueType, so every PDF embeds only the glyphs it uses
(a subset) and prints the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont, TTFError

from artfarm.errors import PathEscapeError
from artfarm.fsio import sha256_file
from artfarm.book.paths import resolve_inside
from artfarm.layout.errors import UnknownFontError
from artfarm.resources import builtin_dir


@dataclass(frozen=True)
class FontFace:
    """A registered face: its ReportLab name, file and vertical metrics (fractions of the size)."""

    name: str
    path: Path
    sha256: str
    ascent: float
    descent: float  # positive, below the baseline

    def width(self, text: str, size: float) -> float:
        return pdfmetrics.stringWidth(text, self.name, size)


@dataclass(frozen=True)
class FontSet:
    regular: FontFace
    bold: FontFace


def shipped_families() -> dict[str, Path]:
    """Family name -> folder, from fonts/<folder>/<Family>-Regular.ttf."""
    out = {}
    root = builtin_dir("fonts")
    for regular in sorted(root.glob("*/*-Regular.ttf")) if root.is_dir() else []:
        out[regular.name[: -len("-Regular.ttf")]] = regular.parent
    return out


def load_fonts(font: str, book_dir: Path) -> FontSet:
    """Resolve book.yaml's ``layout.typography.font``; a path ending in .ttf is read from the book."""
    if font.lower().endswith((".ttf", ".otf")):
        try:
            path = resolve_inside(book_dir, font, what="font file")
        except PathEscapeError as exc:
            raise UnknownFontError(exc.what, where="book.yaml $.layout.typography.font", fix=exc.fix) from exc
        if not path.is_file():
            raise UnknownFontError(f"font file '{font}' does not exist", where="book.yaml $.layout.typography.font",
                                   fix="check the path (relative to the book folder), or use a shipped family: "
                                       + ", ".join(shipped_families()))
        face = _register(path)
        return FontSet(regular=face, bold=face)
    families = shipped_families()
    match = next((folder for name, folder in families.items() if name.lower() == font.lower()), None)
    if match is None:
        raise UnknownFontError(f"unknown font '{font}'", where="book.yaml $.layout.typography.font",
                               fix=f"use a shipped family ({', '.join(families) or 'none installed'}) "
                                   "or the path of a .ttf file inside the book")
    family = next(name for name in families if name.lower() == font.lower())
    regular = _register(match / f"{family}-Regular.ttf")
    bold_path = match / f"{family}-Bold.ttf"
    return FontSet(regular=regular, bold=_register(bold_path) if bold_path.is_file() else regular)


def _register(path: Path) -> FontFace:
    digest = sha256_file(path)
    name = f"{path.stem}-{digest[:8]}"
    if name not in pdfmetrics.getRegisteredFontNames():
        try:
            pdfmetrics.registerFont(TTFont(name, str(path)))
        except (TTFError, OSError) as exc:
            raise UnknownFontError(f"font file cannot be used: {exc}", where=str(path),
                                   fix="use a TrueType (.ttf) file that allows embedding") from exc
    face = pdfmetrics.getFont(name).face
    return FontFace(name=name, path=path, sha256=digest, ascent=face.ascent / 1000.0, descent=abs(face.descent) / 1000.0)
