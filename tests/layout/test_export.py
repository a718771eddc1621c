"""export-pdf end to end: the PDFs are read back with pypdf (and rasterised with pdftoppm where present)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader

from artfarm.cli.main import main
from artfarm.findings import Finding
from artfarm.layout.errors import PreflightFailed
from artfarm.layout.export import ExportReport, LayoutRecord, export_pdf
from artfarm.layout.fonts import load_fonts
from artfarm.layout.printers import load_profile
from tests.layout.conftest import art_array, render_png, save_art

IN = 72.0
# A 4x4 in page with 0.125 in bleed on the outside edge; page 1 is a right-hand page.
RIGHT_PAGE = {"mediabox": (0, 0, 4.125, 4.25), "bleedbox": (0, 0, 4.125, 4.25), "trimbox": (0, 0.125, 4.0, 4.125),
              "cropbox": (0, 0, 4.125, 4.25)}
LEFT_PAGE = dict(RIGHT_PAGE, trimbox=(0.125, 0.125, 4.125, 4.125))


def export(book_dir: Path, *flags: str, capsys=None) -> tuple[int, str]:
    code = main(["export-pdf", str(book_dir), *flags])
    out = capsys.readouterr() if capsys is not None else None
    if out is None:
        return code, ""
    return code, out.out if "--json" in flags and code == 0 else out.out + out.err


def export_ok(book_dir: Path, capsys, *flags: str) -> str:
    code, out = export(book_dir, *flags, capsys=capsys)
    assert code == 0, out
    return out


def boxes_in(page) -> dict[str, tuple[float, ...]]:
    return {name: tuple(round(float(v) / IN, 3) for v in getattr(page, name)) for name in ("mediabox", "bleedbox", "trimbox", "cropbox")}


def text_runs(page) -> list[tuple[str, float, float, str, float]]:
    runs = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            runs.append((text.strip(), x, y, font["/BaseFont"] if font else "", size))

    page.extract_text(visitor_text=visit)
    return runs


def test_interior_has_bleed_on_the_outside_edge_and_every_box(layout_book, capsys):
    book = layout_book(pages=4)
    code, out = export(book, capsys=capsys)
    assert code == 0, out
    reader = PdfReader(book / "layout/pages.pdf")
    assert len(reader.pages) == 4
    assert [boxes_in(p) for p in reader.pages] == [RIGHT_PAGE, LEFT_PAGE, RIGHT_PAGE, LEFT_PAGE]
    assert "interior pages" in out and "preflight" in out


def test_fonts_are_embedded_subsets_and_metadata_is_set(layout_book, capsys):
    book = layout_book(pages=2, title="Bruno and Ginger", author="A. Writer", language="en-GB")
    export_ok(book, capsys)
    for rel in ("layout/pages.pdf", "layout/cover.pdf", "exports/web/testbook.pdf"):
        reader = PdfReader(book / rel)
        assert reader.metadata.title == "Bruno and Ginger" and reader.metadata.author == "A. Writer"
        assert reader.trailer["/Root"]["/Lang"] == "en-GB"
        for page in reader.pages:
            for font in page["/Resources"]["/Font"].values():
                font = font.get_object()
                descriptor = font["/FontDescriptor"].get_object()
                assert "/FontFile2" in descriptor, f"{rel}: {font['/BaseFont']} is not embedded"
                assert font["/BaseFont"].split("+")[0].isupper() and "+" in font["/BaseFont"]  # a subset tag
                assert "Andika" in font["/BaseFont"]


def test_text_is_present_and_inside_the_safe_area(layout_book, capsys):
    words = "Bruno the bear woke up early and went to find Ginger in the snowy pine forest."
    book = layout_book(pages=2, layout={"typography": {"min_size_pt": 9}},
                       page_changes={1: {"text": words, "placement": "top"}, 2: {"placement": "left"}})
    export_ok(book, capsys)
    face = load_fonts("Andika", book).regular
    reader = PdfReader(book / "layout/pages.pdf")
    for page in reader.pages:
        x0, y0, x1, y1 = (float(v) for v in page.trimbox)
        safe = (x0 + 0.375 * IN, y0 + 0.375 * IN, x1 - 0.375 * IN, y1 - 0.375 * IN)
        runs = text_runs(page)
        assert runs
        for text, x, y, _font, size in runs:
            assert safe[0] - 0.01 <= x and x + face.width(text, size) <= safe[2] + 0.01, text
            assert safe[1] - 0.01 <= y - face.descent * size and y + face.ascent * size <= safe[3] + 0.01, text
    assert " ".join(r[0] for r in text_runs(reader.pages[0])) == words
    assert " ".join(reader.pages[1].extract_text().split()) == "Page 2 text."


def test_art_reaches_the_bleed_edge(layout_book, tmp_path, capsys):
    book = layout_book(pages=2)
    export_ok(book, capsys)
    for number in (1, 2):
        img = render_png(book / "layout/pages.pdf", tmp_path / f"p{number}", dpi=36, page=number)
        w, h = img.size
        for x, y in ((0, h // 2), (w - 1, h // 2), (w // 2, h - 1), (0, h - 1), (w - 1, h - 1)):
            r, g, b = img.getpixel((x, y))
            assert r > 150 and b < 230 and (r, g, b) != (255, 255, 255), f"page {number} edge pixel {(x, y)} is {(r, g, b)}"


def test_a_spread_is_one_picture_across_two_pages(layout_book, tmp_path, capsys):
    book = layout_book(pages=4, page_changes={2: {"spread": True}})
    export_ok(book, capsys)
    record = LayoutRecord.model_validate_json((book / "layout/layout.json").read_bytes())
    left, right = record.pages[1].art, record.pages[2].art
    assert left.source.file == right.source.file == "pages/0002/final/final.png"
    assert left.crop[2] == pytest.approx(right.crop[0])  # the halves meet at the gutter
    a = render_png(book / "layout/pages.pdf", tmp_path / "l", dpi=36, page=2)
    b = render_png(book / "layout/pages.pdf", tmp_path / "r", dpi=36, page=3)
    y = a.height * 3 // 4
    ra, rb = a.getpixel((a.width - 1, y)), b.getpixel((0, y))
    assert all(abs(p - q) <= 6 for p, q in zip(ra, rb)), (ra, rb)


def test_cover_width_follows_page_count_and_paper(layout_book, capsys):
    book = layout_book(pages=24, layout={"paper": "cream"}, cover={"back_text": "A tale of two friends."})
    code, out = export(book, "--placeholders", "--json", capsys=capsys)
    assert code == 0, out
    report = ExportReport.model_validate_json(out)
    reader = PdfReader(book / "layout/cover.pdf")
    assert len(reader.pages) == 1
    spine = 24 * 0.0025
    assert boxes_in(reader.pages[0])["mediabox"] == (0, 0, round(2 * 0.125 + 2 * 4 + spine, 3), 4.25)
    assert boxes_in(reader.pages[0])["trimbox"] == (0.125, 0.125, round(0.125 + 8 + spine, 3), 4.125)
    assert report.spine_width_in == pytest.approx(spine) and report.spine_text is False
    text = reader.pages[0].extract_text()
    assert "Test Book" in text and "Tess Ter" in text and "A tale of two friends." in text


def test_odd_and_short_books_are_warned_and_low_resolution_art_names_the_page(layout_book, capsys):
    book = layout_book(pages=3, art_px=1000)  # 1000 px over 4.25 in = 235 ppi
    code, out = export(book, "--json", capsys=capsys)
    assert code == 0, out
    report = ExportReport.model_validate_json(out)
    messages = [f.message for f in report.preflight if f.severity == "warning"]
    assert any("3 pages; added 1 blank page at the end so the page count is even" in m for m in messages)
    assert any("at least 24" in m for m in messages)
    assert any(m.startswith("page 2: art is 235 ppi") for m in messages)
    assert report.errors == 0


def test_an_odd_book_gets_one_blank_final_page_and_a_cover_for_the_even_count(layout_book, capsys):
    book = layout_book(pages=3)
    report = ExportReport.model_validate_json(export_ok(book, capsys, "--json"))
    reader = PdfReader(book / "layout/pages.pdf")
    assert len(reader.pages) == 4 == report.interior_pages and report.padded_blank_pages == 1
    assert [boxes_in(p) for p in reader.pages] == [RIGHT_PAGE, LEFT_PAGE, RIGHT_PAGE, LEFT_PAGE]
    last = reader.pages[-1]
    assert last.extract_text().strip() == "" and list(last.images) == []
    assert all(list(p.images) for p in reader.pages[:3])
    spine = 4 * 0.002252  # white paper, the padded count
    cover = PdfReader(book / "layout/cover.pdf").pages[0]
    assert boxes_in(cover)["mediabox"] == (0, 0, round(2 * 0.125 + 2 * 4 + spine, 3), 4.25)
    assert report.spine_width_in == pytest.approx(spine)
    record = LayoutRecord.model_validate_json((book / "layout/layout.json").read_bytes())
    assert record.padded_blank_pages == 1 and record.pages[-1].blank and record.cover.page_count == 4
    assert [o.pages for o in record.outputs] == [4, 1, 4]  # the web PDF: front cover and the 3 book pages
    web = PdfReader(book / "exports/web/testbook.pdf")
    assert [p.extract_text() for p in web.pages[1:]] == [p.extract_text() for p in reader.pages[:3]]


def test_the_padding_page_is_paper_white(layout_book, tmp_path, capsys):
    book = layout_book(pages=1)
    export_ok(book, capsys)
    img = render_png(book / "layout/pages.pdf", tmp_path / "blank", dpi=18, page=2)
    assert img.getextrema() == ((255, 255), (255, 255), (255, 255))  # nothing printed on it


def test_an_even_book_is_not_padded(layout_book, capsys):
    book = layout_book(pages=4)
    report = ExportReport.model_validate_json(export_ok(book, capsys, "--json"))
    assert report.interior_pages == 4 and report.padded_blank_pages == 0
    assert not any("blank page" in f.message for f in report.preflight)
    reader = PdfReader(book / "layout/pages.pdf")
    assert len(reader.pages) == 4 and all(list(p.images) for p in reader.pages)
    assert report.spine_width_in == pytest.approx(4 * 0.002252)


def test_art_under_200_ppi_is_an_error_and_nothing_is_written(layout_book, capsys):
    book = layout_book(pages=2)
    save_art(book, 2, art_array(600, 600))
    code, out = export(book, capsys=capsys)
    assert code == 2
    assert "page 2: art is 141 ppi" in out and "render-page testbook 2" in out
    assert not (book / "layout").exists() and not (book / "exports").exists()


def test_missing_art_names_the_page_and_the_command_unless_placeholders(layout_book, tmp_path, capsys):
    book = layout_book(pages=2)
    (book / "pages/0002/final/final.png").unlink()
    code, out = export(book, capsys=capsys)
    assert code == 2
    assert "page 2" in out and "artfarm render-page testbook 2" in out and "--placeholders" in out
    assert not (book / "layout/pages.pdf").exists()
    code, out = export(book, "--placeholders", capsys=capsys)
    assert code == 0, out
    record = LayoutRecord.model_validate_json((book / "layout/layout.json").read_bytes())
    assert record.pages[1].art.source.placeholder is not None
    assert record.pages[0].art.source.file == "pages/0001/final/final.png"
    img = render_png(book / "layout/pages.pdf", tmp_path / "placeholder", dpi=36, page=2)
    label = img.crop((img.width // 4, img.height * 2 // 5, img.width * 3 // 4, img.height * 3 // 5))
    pixels = np.asarray(label).reshape(-1, 3).astype(int)
    red = int(((pixels[:, 0] > 150) & (pixels[:, 1] < 90) & (pixels[:, 2] < 90)).sum())
    assert red > 50  # the red PLACEHOLDER label is there for anyone to see


def test_text_that_cannot_fit_names_the_page_and_the_overflow(layout_book, capsys):
    book = layout_book(pages=2, page_changes={2: {"text": "and then they walked on " * 40, "placement": "bottom"}})
    code, out = export(book, capsys=capsys)
    assert code == 2
    assert "page 2: text does not fit its bottom box even at 14 pt" in out and "more height" in out


def test_unknown_font_is_bad_input_with_the_choices(layout_book, capsys):
    book = layout_book(pages=2, layout={"typography": {"font": "Comic Sans"}})
    code, out = export(book, capsys=capsys)
    assert code == 2 and "unknown font 'Comic Sans'" in out and "Andika" in out


def test_auto_placement_picks_the_calm_region_and_adds_a_panel_only_when_needed(layout_book, capsys):
    book = layout_book(pages=2)
    dark = art_array(1300, 1300, busy_top=False)
    dark[...] = (35, 40, 60)
    save_art(book, 2, dark)
    export_ok(book, capsys)
    record = LayoutRecord.model_validate_json((book / "layout/layout.json").read_bytes())
    first, second = record.pages[0].text, record.pages[1].text
    assert first.requested == "auto" and first.placement != "top"
    assert first.detail["top"] > 5 * first.detail[first.placement]
    assert first.contrast >= 4.5 and first.panel is None
    assert second.contrast < 4.5 and second.panel is not None and second.panel.contrast >= 4.5


def test_web_pdf_is_trimmed_smaller_and_has_the_same_text(layout_book, capsys):
    book = layout_book(pages=2)
    export_ok(book, capsys)
    web, print_ = PdfReader(book / "exports/web/testbook.pdf"), PdfReader(book / "layout/pages.pdf")
    assert len(web.pages) == 3  # front cover, then the interior
    for page in web.pages:
        assert boxes_in(page)["mediabox"] == (0, 0, 4.0, 4.0) == boxes_in(page)["trimbox"]
    assert [p.extract_text() for p in web.pages[1:]] == [p.extract_text() for p in print_.pages]
    image = next(iter(web.pages[1].images))
    assert image.image.width == 600  # 4 in at 150 ppi
    print_bytes = sum((book / rel).stat().st_size for rel in ("layout/pages.pdf", "layout/cover.pdf"))
    assert (book / "exports/web/testbook.pdf").stat().st_size < print_bytes / 3  # the same three pictures


def test_unchanged_book_is_a_no_op_and_a_change_redoes_the_export(layout_book, capsys):
    book = layout_book(pages=2)
    export_ok(book, capsys)
    pdf = book / "layout/pages.pdf"
    stamp = pdf.stat().st_mtime_ns
    code, out = export(book, "--json", capsys=capsys)
    assert json.loads(out)["cached"] is True and pdf.stat().st_mtime_ns == stamp
    save_art(book, 1, art_array(1300, 1300, seed=7))
    code, out = export(book, "--json", capsys=capsys)
    report = json.loads(out)
    assert report["cached"] is False and report["reason"] == "art changed on page(s) 1"
    (book / "exports/web/testbook.pdf").unlink()
    assert json.loads(export(book, "--json", capsys=capsys)[1])["reason"] == "exports/web/testbook.pdf is missing"
    (book / "layout/layout.json").write_text("{not json")
    assert json.loads(export(book, "--json", capsys=capsys)[1])["cached"] is False


def test_a_failed_export_keeps_the_previous_files(layout_book, capsys):
    book = layout_book(pages=2)
    export_ok(book, capsys)
    before = (book / "layout/pages.pdf").read_bytes()
    text = (book / "book.yaml").read_text().replace("Page 2 text.", "and on " * 400)
    (book / "book.yaml").write_text(text)
    assert export(book, capsys=capsys)[0] == 2
    assert (book / "layout/pages.pdf").read_bytes() == before
    assert not [p for p in (book / "layout").iterdir() if p.name.endswith(".tmp")]


def test_framed_art_sits_inside_the_safe_area_with_the_text_beside_it(layout_book, tmp_path, capsys):
    book = layout_book(pages=2, page_changes={1: {"art": "framed", "placement": "top"}})
    export_ok(book, capsys)
    record = LayoutRecord.model_validate_json((book / "layout/layout.json").read_bytes())
    page = record.pages[0]
    assert page.art.frame == "framed" and page.safe.contains(page.art.rect)
    assert page.text.placement == "top" and page.text.block.y >= page.art.rect.y1
    assert page.text.panel is None  # dark text on white paper needs none
    img = render_png(book / "layout/pages.pdf", tmp_path / "framed", dpi=36, page=1)
    assert img.getpixel((img.width - 1, img.height // 2)) == (255, 255, 255)  # paper, not art, at the bleed edge


def test_auto_placement_falls_back_to_a_region_the_text_fits(layout_book, capsys):
    long_text = "Bruno looked left and right, and then he looked up at the grey sky for a long, long while today."
    book = layout_book(pages=2, layout={"typography": {"min_size_pt": 12}}, page_changes={1: {"text": long_text}})
    flat = art_array(1300, 1300, busy_top=False)
    flat[: 1300 // 3] = 128  # a flat grey top: the calmest region, but too shallow for this much text
    flat[1300 // 3:] = art_array(1300, 1300 - 1300 // 3, busy_top=True, seed=3)[::-1]
    save_art(book, 1, flat)
    export_ok(book, capsys)
    text = LayoutRecord.model_validate_json((book / "layout/layout.json").read_bytes()).pages[0].text
    calmest = min(text.detail, key=text.detail.get)
    assert text.placement in ("left", "right") and calmest in ("top", "bottom") and text.placement != calmest


def test_errors_found_after_writing_fail_the_export_and_are_never_cached(layout_book, capsys):
    book = layout_book(pages=2)
    export_ok(book, capsys)
    strict = load_profile("generic").model_copy(update={"file_size_max_mb": 0.001})  # a service refusing this file size
    for _ in range(2):  # the second run redoes the export instead of reporting it cached
        with pytest.raises(PreflightFailed) as failed:
            export_pdf(book, printer=strict)
        assert failed.value.exit_code == 2 and "do not send them to a printer" in failed.value.what
        assert any(f.severity == "error" and "the most the service accepts" in f.message
                   for f in failed.value.payload["findings"])
        assert not (book / "layout/layout.json").exists()
    code, out = export(book, "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["cached"] is False


def test_a_record_with_errors_from_an_older_artfarm_is_not_cached(layout_book, capsys):
    book = layout_book(pages=2)
    export_ok(book, capsys)
    path = book / "layout/layout.json"
    record = LayoutRecord.model_validate_json(path.read_bytes())
    error = Finding(severity="error", file="layout/pages.pdf", message="total ink reaches 320 %", fix="lighten the art")
    path.write_text(record.model_copy(update={"preflight": [*record.preflight, error]}).model_dump_json())
    code, out = export(book, "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["reason"] == "the last export's checks found errors"
