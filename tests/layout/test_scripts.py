"""Text in any script: glyph coverage, fallback fonts, shaping and right-to-left books, read back from the PDFs."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader

from artfarm.book.validation import validate_book
from artfarm.layout.export import LayoutRecord
from artfarm.layout.fonts import load_fonts
from artfarm.layout.shaping import Typeset, is_rtl
from tests.layout.conftest import render_png
from tests.layout.test_export import export

HEBREW = "שלום, דוב קטן!"
ARABIC = "مرحبا بالعالم"
CHINESE = "你好"
EMOJI = "🐻"


def export_json(book: Path, capsys, *flags: str) -> tuple[int, dict]:
    code, out = export(book, "--json", *flags, capsys=capsys)
    return code, json.loads(out) if code == 0 else {"output": out}


def extracted(pdf: Path, page: int = 0) -> str:
    return unicodedata.normalize("NFKC", PdfReader(pdf).pages[page].extract_text())


def test_hebrew_and_arabic_pages_export_and_every_character_reads_back(layout_book, capsys):
    book = layout_book(pages=2, language="he", layout={"typography": {"fallback_fonts": ["NotoSansHebrew", "NotoNaskhArabic"]}},
                       page_changes={1: {"text": HEBREW}, 2: {"text": ARABIC}})
    code, report = export_json(book, capsys)
    assert code == 0, report
    assert report["errors"] == 0
    hebrew, arabic = extracted(book / "layout/pages.pdf", 0), extracted(book / "layout/pages.pdf", 1)
    for char in HEBREW.replace(" ", ""):
        assert char in hebrew, (char, hebrew)
    for char in ARABIC.replace(" ", ""):
        assert char in arabic, (char, arabic)
    record = LayoutRecord.model_validate_json((book / "layout/layout.json").read_bytes())
    assert record.pages[0].text.rtl and record.pages[0].text.fonts[1].startswith("NotoSansHebrew")
    assert record.pages[1].text.fonts[1].startswith("NotoNaskhArabic")


def test_arabic_is_shaped_into_joined_forms():
    """HarfBuzz gives the initial/medial/final forms: the shaped glyphs differ from the letters' own."""
    arabic = load_fonts("NotoNaskhArabic", Path(".")).regular
    runs = Typeset(faces=(arabic,), rtl=True).runs(ARABIC)
    glyphs = "".join(run.glyphs for run in runs)
    letters = [c for c in ARABIC if c != " "]
    own = {chr(arabic_code) for arabic_code in map(ord, letters)}
    assert sum(g not in own for g in glyphs) >= len(letters) // 2  # contextual forms, not isolated letters
    # measured as drawn: the joined word is narrower than its isolated letters side by side
    isolated = sum(arabic.width(c, 20) for c in letters)
    assert Typeset(faces=(arabic,), rtl=True).width(ARABIC.replace(" ", ""), 20) < isolated


def test_hebrew_reads_right_to_left_on_the_page(layout_book, capsys, tmp_path):
    """The first word of the line (logical order) is drawn to the right of the second."""
    book = layout_book(pages=2, language="he", layout={"typography": {"fallback_fonts": ["NotoSansHebrew"]}},
                       page_changes={1: {"text": "אבג דהו"}})
    code, report = export_json(book, capsys)
    assert code == 0, report
    runs = Typeset(faces=(load_fonts("Andika", book).regular, load_fonts("NotoSansHebrew", book).regular), rtl=True).runs("אבג דהו")
    drawn = "".join(run.glyphs for run in runs)
    assert drawn.index("ג") < drawn.index("א") and drawn.index("ו") < drawn.index("ג")  # visual order, left to right


def test_arabic_joined_in_the_rendered_page(layout_book, capsys, tmp_path):
    """Rasterised: joined Arabic is one connected stroke; the ink forms fewer pieces than there are letters."""
    book = layout_book(pages=2, art=True, language="ar", layout={"typography": {"fallback_fonts": ["NotoNaskhArabic"]},
                                                                 "default_art": "framed", "default_placement": "bottom"},
                       page_changes={1: {"text": "سلسلة"}})
    code, report = export_json(book, capsys, "--placeholders")
    assert code == 0, report
    image = np.asarray(render_png(book / "exports/web" / f"{book.name}.pdf", tmp_path / "ar", dpi=200, page=2).convert("L"))
    ink = image < 100
    rows = np.where(ink.any(axis=1))[0]
    band = ink[rows[rows > image.shape[0] * 0.6]] if (rows > image.shape[0] * 0.6).any() else ink
    columns = band.any(axis=0)
    pieces = int(np.sum(columns[1:] & ~columns[:-1]) + columns[0])
    assert 0 < pieces < 4, pieces  # five letters joined: one word's stroke (dots may add a piece)


def test_a_cjk_page_without_a_cjk_font_is_a_preflight_error(layout_book, capsys):
    book = layout_book(pages=2, page_changes={2: {"text": f"Hello {CHINESE}"}})
    code, out = export(book, capsys=capsys)
    assert code == 2
    assert "page 2" in out and "你 (U+4F60)" in out and "好 (U+597D)" in out
    assert "fallback_fonts" in out
    report = validate_book(book)
    found = [f for f in report.findings if f.path == "$.pages[1].text"]
    assert found and found[0].severity == "error" and "U+4F60" in found[0].message


def test_an_emoji_without_a_font_is_an_error(layout_book, capsys):
    book = layout_book(pages=2, page_changes={1: {"text": f"Bruno {EMOJI}"}})
    code, out = export(book, capsys=capsys)
    assert code == 2 and "U+1F43B" in out and "emoji" in out


def test_missing_cover_text_glyphs_are_named(layout_book, capsys):
    book = layout_book(pages=2, title="דובי", cover={"back_text": "Hello"})
    code, out = export(book, capsys=capsys)
    assert code == 2 and "cover title" in out and "U+05D3" in out and "NotoSansHebrew" in out


def test_a_fallback_font_fills_in(layout_book, capsys):
    book = layout_book(pages=2, layout={"typography": {"fallback_fonts": ["NotoSansHebrew"]}},
                       page_changes={1: {"text": "Bruno says שלום"}})
    code, report = export_json(book, capsys)
    assert code == 0, report
    fonts = {str(f.get_object()["/BaseFont"]) for f in PdfReader(book / "layout/pages.pdf").pages[0]["/Resources"]["/Font"].values()}
    assert any("Andika" in f for f in fonts) and any("NotoSansHebrew" in f for f in fonts)
    assert "שלום" in extracted(book / "layout/pages.pdf") or "םולש" in extracted(book / "layout/pages.pdf")


def test_an_unknown_fallback_font_names_its_path(layout_book, capsys):
    book = layout_book(pages=2, layout={"typography": {"fallback_fonts": ["NoSuchFont"]}})
    code, out = export(book, capsys=capsys)
    assert code == 2 and "fallback_fonts[0]" in out


def test_an_rtl_book_puts_the_front_panel_on_the_left_and_binds_on_the_right(layout_book, capsys):
    book = layout_book(pages=4, language="he", title="דובי", author="Ada",
                       layout={"typography": {"fallback_fonts": ["NotoSansHebrew"]}},
                       page_changes={n: {"text": "שלום"} for n in range(1, 5)})
    code, report = export_json(book, capsys)
    assert code == 0, report
    record = LayoutRecord.model_validate_json((book / "layout/layout.json").read_bytes())
    cover = record.cover
    assert cover.front.x < cover.spine.x < cover.back.x
    assert cover.title.block.x1 <= cover.spine.x and cover.barcode.x >= cover.back.x
    assert [p.side for p in record.pages] == ["left", "right", "left", "right"]
    first = PdfReader(book / "layout/pages.pdf").pages[0]
    assert float(first.trimbox.left) > 0  # a left-hand page bleeds on its left (outside) edge


@pytest.mark.parametrize("tag, rtl", [("he", True), ("ar-EG", True), ("fa", True), ("en", False), ("az-Arab", True),
                                      ("ku-Latn", False), ("zh-Hans", False)])
def test_the_language_decides_the_direction(tag, rtl):
    assert is_rtl(tag) is rtl


def test_a_font_file_in_the_book_is_a_fallback(layout_book, capsys):
    """The user's own font (as for CJK): a path inside the book folder."""
    book = layout_book(pages=2, layout={"typography": {"fallback_fonts": ["fonts/mine.ttf"]}},
                       page_changes={1: {"text": "Bruno says שלום"}})
    (book / "fonts").mkdir()
    own = load_fonts("NotoSansHebrew", book).regular.path
    (book / "fonts/mine.ttf").write_bytes(own.read_bytes())
    code, report = export_json(book, capsys)
    assert code == 0, report
    assert validate_book(book).errors == 0
