"""The typeface of a book: a shipped OFL family (fonts/<family>/) or a TTF file inside the book.

Fonts are registered with ReportLab as TrueType, so every PDF embeds only the glyphs it uses
(a subset) and prints the same everywhere. ``layout.typography.fallback_fonts`` adds faces tried
in order for characters the main font lacks (shaping.py sets text in runs per face).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont, TTFError

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
    coverage: frozenset[int] = field(default=frozenset(), repr=False, compare=False)  # the font's cmap

    def width(self, text: str, size: float) -> float:
        return pdfmetrics.stringWidth(text, self.name, size)

    def has(self, char: str) -> bool:
        return ord(char) in self.coverage


@dataclass(frozen=True)
class FontSet:
    regular: FontFace
    bold: FontFace
    fallbacks: tuple["FontSet", ...] = ()

    def chain(self, bold: bool = False) -> tuple[FontFace, ...]:
        """The faces tried in order for each character: this set's, then each fallback's."""
        return tuple(s.bold if bold else s.regular for s in (self, *self.fallbacks))

    @property
    def hashes(self) -> list[str]:
        return [h for s in (self, *self.fallbacks) for h in (s.regular.sha256, s.bold.sha256)]


class ShapingTTFont(TTFont):
    """A TrueType font whose ToUnicode map gives shaped glyphs their text back (copy and search work).

    HarfBuzz's contextual forms (Arabic initial/medial/final letters, ligatures) have no character
    of their own; ReportLab gives each a private-use code, and this font maps that code to the
    characters it was shaped from, and presentation-form characters to their plain letters.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actual_text: dict[int, str] = {}

    def addObjects(self, doc) -> None:
        state = self.state.get(doc)
        subsets = [list(subset) for subset in state.subsets] if state is not None else []
        super().addObjects(doc)  # forgets the document's subsets
        for n, subset in enumerate(subsets):
            base = (b"".join((SUBSETN(n), b"+", self.face.name, self.face.subfontNameX))).decode("pdfdoc")
            stream = doc.idToObject.get("toUnicodeCMap:" + base)
            if stream is not None:
                stream.content = _to_unicode_cmap(stream.content, [self._text_of(code) for code in subset])

    def _text_of(self, code: int) -> str:
        if code in self.actual_text:
            return self.actual_text[code]
        return unicodedata.normalize("NFKC", chr(code)) if _is_presentation_form(code) else chr(code)


def _is_presentation_form(code: int) -> bool:
    return 0xFB1D <= code <= 0xFDFF or 0xFE70 <= code <= 0xFEFF


def _to_unicode_cmap(cmap: str, texts: list[str]) -> str:
    """Replace the bfchar entries of ReportLab's ToUnicode CMap (UTF-16BE, so characters past U+FFFF work too)."""
    head, rest = cmap.split("beginbfchar\n", 1)
    tail = rest[rest.index("endbfchar"):]
    entries = [f"<{i:02X}> <{t.encode('utf-16-be').hex().upper() or '0020'}>" for i, t in enumerate(texts)]
    return head + "beginbfchar\n" + "\n".join(entries) + "\n" + tail


_FACES: dict[str, FontFace] = {}


def face_named(name: str) -> FontFace:
    """A face registered by this module, by its ReportLab name (plans record names)."""
    return _FACES[name]


def shipped_families() -> dict[str, Path]:
    """Family name -> folder, from fonts/<folder>/<Family>-Regular.ttf."""
    out = {}
    root = builtin_dir("fonts")
    for regular in sorted(root.glob("*/*-Regular.ttf")) if root.is_dir() else []:
        out[regular.name[: -len("-Regular.ttf")]] = regular.parent
    return out


def load_typography(typography, book_dir: Path) -> FontSet:
    """The book's font and, as its fallbacks, each of ``layout.typography.fallback_fonts`` in order."""
    main = load_fonts(typography.font, book_dir)
    extra = tuple(load_fonts(name, book_dir, where=f"book.yaml $.layout.typography.fallback_fonts[{i}]")
                  for i, name in enumerate(typography.fallback_fonts))
    return FontSet(regular=main.regular, bold=main.bold, fallbacks=extra)


def load_fonts(font: str, book_dir: Path, where: str = "book.yaml $.layout.typography.font") -> FontSet:
    """Resolve book.yaml's ``layout.typography.font``; a path ending in .ttf is read from the book."""
    if font.lower().endswith((".ttf", ".otf")):
        try:
            path = resolve_inside(book_dir, font, what="font file")
        except PathEscapeError as exc:
            raise UnknownFontError(exc.what, where=where, fix=exc.fix) from exc
        if not path.is_file():
            raise UnknownFontError(f"font file '{font}' does not exist", where=where,
                                   fix="check the path (relative to the book folder), or use a shipped family: "
                                       + ", ".join(shipped_families()))
        face = _register(path)
        return FontSet(regular=face, bold=face)
    families = shipped_families()
    match = next((folder for name, folder in families.items() if name.lower() == font.lower()), None)
    if match is None:
        raise UnknownFontError(f"unknown font '{font}'", where=where,
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
            pdfmetrics.registerFont(ShapingTTFont(name, str(path)))
        except (TTFError, OSError) as exc:
            raise UnknownFontError(f"font file cannot be used: {exc}", where=str(path),
                                   fix="use a TrueType (.ttf) file that allows embedding") from exc
    if name not in _FACES:
        face = pdfmetrics.getFont(name).face
        _FACES[name] = FontFace(name=name, path=path, sha256=digest, ascent=face.ascent / 1000.0,
                                descent=abs(face.descent) / 1000.0, coverage=frozenset(face.charToGlyph))
    return _FACES[name]
