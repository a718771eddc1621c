"""--printer ingramspark writes PDF/X-1a:2001 in CMYK; the file is read back independently here."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image
from pypdf import PdfReader

from artfarm.layout.printers import load_profile
from tests.layout.conftest import render_png
from tests.layout.test_export import export_ok


def test_ingramspark_writes_pdfx_1a_in_cmyk_with_an_output_intent(layout_book, capsys, tmp_path):
    book = layout_book(pages=18, layout={"trim": "6x6"}, cover={"back_text": "Two friends in the snow."})
    report = json.loads(export_ok(book, capsys, "--printer", "ingramspark", "--json"))
    assert report["printer"] == "ingramspark" and report["errors"] == 0, [f["message"] for f in report["preflight"] if f["severity"] == "error"]
    readback = [f for f in report["preflight"] if "PDF/X-1a:2001, CMYK" in f["message"]]
    assert len(readback) == 2  # interior and cover
    for rel in ("layout/pages.pdf", "layout/cover.pdf"):
        reader = PdfReader(book / rel)
        assert reader.pdf_header == "%PDF-1.3"
        info = reader.trailer["/Info"].get_object()
        assert info["/GTS_PDFXVersion"] == "PDF/X-1:2001" and info["/GTS_PDFXConformance"] == "PDF/X-1a:2001"
        (intent,) = reader.trailer["/Root"]["/OutputIntents"]
        intent = intent.get_object()
        assert intent["/S"] == "/GTS_PDFX" and intent["/DestOutputProfile"].get_object()["/N"] == 4
        for page in reader.pages:
            assert "/ExtGState" not in page["/Resources"]  # no transparency
            for xobj in page["/Resources"]["/XObject"].values():
                xobj = xobj.get_object()
                assert xobj["/ColorSpace"] == "/DeviceCMYK"
                with Image.open(io.BytesIO(xobj.get_data())) as img:
                    assert img.mode == "CMYK"
                    assert np.asarray(img, dtype=np.uint16).sum(-1).max() * 100 / 255 <= load_profile("ingramspark").total_ink_max
            contents = page.get_contents().get_data()
            assert b" rg" not in contents and b" RG" not in contents and b" k" in contents  # CMYK fills
    web = PdfReader(book / "exports/web/testbook.pdf")  # the web copy stays RGB for screens
    assert web.pages[1]["/Resources"]["/XObject"][next(iter(web.pages[1]["/Resources"]["/XObject"]))]["/ColorSpace"] == "/DeviceRGB"
    cover = np.asarray(render_png(book / "layout/cover.pdf", tmp_path / "cover", dpi=20))
    barcode = cover[-int(0.375 * 20) - 5:-int(0.375 * 20) - 2, int(6.125 * 20) - 12:int(6.125 * 20) - 9]
    assert barcode.min() >= 220  # paper white (poppler shows FOGRA39 paper, slightly warm), not inverted to dark
    page = np.asarray(render_png(book / "layout/pages.pdf", tmp_path / "page", dpi=20))
    assert page[-10:, : page.shape[1] // 2].mean() > 120  # the calm lower art is light, as in RGB


def test_generic_print_files_stay_rgb_without_an_output_intent(layout_book, capsys):
    book = layout_book(pages=2)
    export_ok(book, capsys)
    reader = PdfReader(book / "layout/pages.pdf")
    assert "/OutputIntents" not in reader.trailer["/Root"]
