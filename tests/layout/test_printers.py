"""Printer profiles: each service's rules are followed and broken rules are named with the fix."""

from __future__ import annotations

import json

import pytest

from artfarm.layout.coverplan import plan_cover
from artfarm.layout.plan import plan_interior
from artfarm.layout.preflight import printer_findings
from artfarm.layout.printers import PRINTERS, load_profile
from artfarm.models.book import Book
from tests.layout.conftest import plan_context
from tests.layout.test_export import export, export_ok


def test_every_profile_loads_and_the_book_model_names_the_same_printers():
    assert set(PRINTERS) == set(Book.model_json_schema()["$defs"]["Layout"]["properties"]["printer"]["enum"])
    for name in PRINTERS:
        assert load_profile(name).name == name


def test_kdp_refuses_a_short_colour_book_on_white_paper(layout_book, capsys):
    book = layout_book(pages=4, art=False)
    code, out = export(book, "--placeholders", "--printer", "kdp", capsys=capsys)
    assert code == 2
    assert "kdp: the interior has 4 pages; needs at least 24" in out
    assert "prints only on premium colour paper" in out and "layout.paper: premium-color" in out


def test_generic_only_warns_about_the_page_count(layout_book, capsys):
    report = json.loads(export_ok(layout_book(pages=4, art=False), capsys, "--placeholders", "--json"))
    assert report["printer"] == "generic" and report["errors"] == 0
    assert any("at least 24" in f["message"] and f["severity"] == "warning" for f in report["preflight"])


def test_kdp_book_reports_its_file_size_and_jpeg_quality(layout_book, capsys):
    book = layout_book(pages=24, art=False, layout={"paper": "premium-color", "printer": "kdp"})
    report = json.loads(export_ok(book, capsys, "--placeholders", "--json"))
    assert report["printer"] == "kdp" and report["errors"] == 0
    (size,) = [f for f in report["preflight"] if "advised 40 MB" in f["message"]]
    assert size["severity"] == "info" and f"JPEG quality {load_profile('kdp').interior_jpeg_quality}" in size["message"]


def test_a_bleed_smaller_than_the_service_asks_is_an_error(layout_book, capsys):
    book = layout_book(pages=24, art=False, layout={"paper": "premium-color", "bleed_in": 0.0625})
    code, out = export(book, "--placeholders", "--printer", "kdp", capsys=capsys)
    assert code == 2 and "bleed is 0.0625 in; the rule is at least 0.125 in" in out


def test_cover_text_in_the_barcode_area_is_a_warning(layout_book):
    book_dir = layout_book(pages=24, art=False, layout={"paper": "premium-color"}, cover={"back_text": "A tale."})
    ctx = plan_context(book_dir, "kdp")
    pages, cover = plan_interior(ctx), plan_cover(ctx, 24)
    assert not [f for f in printer_findings(pages, cover, ctx.book, ctx.printer) if "barcode" in f.message]
    moved = cover.back_text.model_copy(update={"block": cover.back_text.block.model_copy(update={"y": cover.barcode.y})})
    found = [f for f in printer_findings(pages, cover.model_copy(update={"back_text": moved}), ctx.book, ctx.printer)
             if "barcode" in f.message]
    assert len(found) == 1 and found[0].severity == "warning" and "2.0 x 1.2 in" in found[0].message


@pytest.mark.parametrize("printer, margin", [("generic", 0.375), ("ingramspark", 0.5)])
def test_page_text_keeps_the_printers_margin(layout_book, printer, margin):
    book_dir = layout_book(pages=2, art=False, layout={"trim": "6x6"})
    for plan in plan_interior(plan_context(book_dir, printer)):
        inner = plan.trim.inset(*(margin * 72,) * 4)
        assert inner.contains(plan.safe) and inner.contains(plan.text.block)
        assert plan.safe.x == pytest.approx(inner.x) or plan.safe.x1 == pytest.approx(inner.x1)
