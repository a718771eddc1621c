"""Glyph coverage: every character a book prints must have a glyph in its fonts, or it prints as an empty box.

The check runs in export-pdf's preflight (before planning) and in `artfarm validate`. A missing
character is named as itself and as its code point, with the page and the JSON path of the text,
and the fix names a shipped font that has it when there is one.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from artfarm.errors import ArtfarmError
from artfarm.findings import Finding
from artfarm.layout.fonts import FontFace, FontSet, load_fonts, load_typography, shipped_families
from artfarm.layout.shaping import describe_chars, missing_chars
from artfarm.models.book import Book


def book_texts(book: Book) -> list[tuple[str, str, str, bool]]:
    """(where, JSON path, text, bold) for everything the book prints: cover text, then each page's text."""
    cover = book.cover
    out = [("cover title", "$.title", book.title, True), ("cover author", "$.author", book.author, False)]
    if book.subtitle:
        out.append(("cover subtitle", "$.subtitle", book.subtitle, True))
    if cover.back_text.strip():
        out.append(("back cover", "$.cover.back_text", cover.back_text, False))
    if cover.spine_text:
        out.append(("spine", "$.cover.spine_text", cover.spine_text, True))
    out += [(f"page {e.page}", f"$.pages[{i}].text", e.text, False) for i, e in enumerate(book.pages)]
    return out


def glyph_findings(book: Book, fonts: FontSet, book_dir: Path) -> list[Finding]:
    """One error per text with characters none of the book's fonts (main, then fallbacks) can draw."""
    findings = []
    for where, path, text, bold in book_texts(book):
        chain = fonts.chain(bold)
        missing = missing_chars(text, chain)
        if missing:
            names = ", ".join(face.path.name for face in chain)
            findings.append(Finding(severity="error", file="book.yaml", path=path,
                                    message=f"{where}: no glyph for {describe_chars(missing)} in the book's fonts "
                                            f"({names}); it would print as empty boxes",
                                    fix=_fix(missing, chain, book_dir)))
    return findings


def check_book_glyphs(book: Book, book_dir: Path) -> list[Finding]:
    """For validate: the same check, or nothing when the fonts themselves cannot be loaded (export says why)."""
    try:
        fonts = load_typography(book.layout.typography, book_dir)
    except ArtfarmError as exc:
        return [Finding(severity="error", file="book.yaml", path="$.layout.typography",
                        message=f"{exc.what} ({exc.where})", fix=exc.fix)]
    return glyph_findings(book, fonts, book_dir)


def _fix(missing: list[str], chain: tuple[FontFace, ...], book_dir: Path) -> str:
    used = {face.path for face in chain}
    for family in shipped_families():
        face = load_fonts(family, book_dir).regular
        if face.path not in used and all(face.has(c) for c in missing):
            return f"add '{family}' (shipped with artfarm) to layout.typography.fallback_fonts"
    if any(_is_emoji(c) for c in missing):
        return ("remove the emoji, or put a font file that has it (a .ttf/.otf inside the book folder) in "
                "layout.typography.fallback_fonts")
    return ("put a font file that has these characters inside the book folder (for Chinese, Japanese or Korean a "
            "CJK font such as Noto Sans CJK) and list its path in layout.typography.fallback_fonts")


def _is_emoji(char: str) -> bool:
    code = ord(char)
    return unicodedata.category(char) == "So" and (code >= 0x1F000 or 0x2600 <= code <= 0x27BF)
