"""PDF/X-1a:2001 for print services that ask for it: a canvas that paints in CMYK, and a read-back check.

The canvas converts every colour through the print profile (cmyk.py), draws no transparency
(a text panel is painted opaque), writes PDF 1.3 with the GTS_PDFX keys and an output intent
carrying the CMYK ICC profile. ``verify`` reads the written file back and checks each rule.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ContentStream
from reportlab.lib.colors import CMYKColor, HexColor
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFInfo, PDFName, PDFStream, PDFString
from reportlab.pdfgen.canvas import Canvas

from artfarm.findings import Finding
from artfarm.layout import cmyk

PDFX_VERSION = "PDF/X-1:2001"
PDFX_CONFORMANCE = "PDF/X-1a:2001"
RGB_OPERATORS = {"rg", "RG"}


class PrintCanvas(Canvas):
    """The RGB canvas of today's PDFs; ``ink`` turns a plan's #RRGGBB into the colour to paint."""

    transparency = True

    def ink(self, colour: str):
        return HexColor(colour)


class PdfxCanvas(PrintCanvas):
    """PDF/X-1a:2001: CMYK only, no transparency, output intent and GTS_PDFX keys."""

    transparency = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, pdfVersion=(1, 3), **kwargs)
        doc = self._doc
        doc.info = _PdfxInfo()
        profile = PDFStream(PDFDictionary({"N": 4}), cmyk.icc_bytes())
        intent = PDFDictionary({
            "Type": PDFName("OutputIntent"), "S": PDFName("GTS_PDFX"),
            "OutputConditionIdentifier": PDFString(cmyk.OUTPUT_CONDITION),
            "OutputCondition": PDFString(cmyk.OUTPUT_CONDITION_INFO),
            "RegistryName": PDFString(cmyk.REGISTRY), "Info": PDFString(cmyk.OUTPUT_CONDITION_INFO),
            "DestOutputProfile": doc.Reference(profile),
        })
        doc.Catalog.__NoDefault__ = [*doc.Catalog.__NoDefault__, "OutputIntents"]
        doc.Catalog.OutputIntents = PDFArray([intent])

    def ink(self, colour: str):
        return CMYKColor(*cmyk.hex_to_cmyk(colour), alpha=None)  # an alpha, even 1, would write an ExtGState and PDF 1.4


class _PdfxInfo(PDFInfo):
    """The document information dictionary with the keys PDF/X-1a:2001 requires."""

    def format(self, document):
        body = super().format(document)
        extra = PDFDictionary({"GTS_PDFXVersion": PDFString(PDFX_VERSION),
                               "GTS_PDFXConformance": PDFString(PDFX_CONFORMANCE)}).format(document)
        return body.rstrip()[:-2] + extra.strip()[2:]  # merge the two dictionaries: << a >> + << b >>


def encode_cmyk_jpeg(region: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    cmyk.to_cmyk(region).save(buf, format="JPEG", quality=quality, subsampling=0 if quality >= 90 else 2)
    return buf.getvalue()


def verify(path: Path, rel: str, ink_max: float | None, ink_advised: float | None) -> list[Finding]:
    """Read the written file back: version, GTS_PDFX keys, output intent, CMYK only, fonts embedded, ink."""
    reader = PdfReader(path)
    problems: list[str] = []
    if reader.pdf_header != "%PDF-1.3":
        problems.append(f"header is {reader.pdf_header}, PDF/X-1a:2001 needs %PDF-1.3")
    info = reader.trailer["/Info"].get_object()
    if info.get("/GTS_PDFXVersion") != PDFX_VERSION or info.get("/GTS_PDFXConformance") != PDFX_CONFORMANCE:
        problems.append("the GTS_PDFXVersion / GTS_PDFXConformance keys are missing")
    intents = reader.trailer["/Root"].get("/OutputIntents")
    intents = [i.get_object() for i in intents.get_object()] if intents is not None else []
    if not any(i.get("/S") == "/GTS_PDFX" and i["/DestOutputProfile"].get_object().get("/N") == 4 for i in intents):
        problems.append("no GTS_PDFX output intent with a CMYK profile")
    worst_ink = 0.0
    for number, page in enumerate(reader.pages, start=1):
        resources = page["/Resources"].get_object()
        for name, xobj in (resources.get("/XObject") or {}).items():
            xobj = xobj.get_object()
            if xobj.get("/ColorSpace") != "/DeviceCMYK":
                problems.append(f"page {number}: image {name} is {xobj.get('/ColorSpace')}, not DeviceCMYK")
                continue
            with Image.open(io.BytesIO(xobj.get_data())) as img:
                ink = np.asarray(img, dtype=np.uint16).sum(axis=-1)
            worst_ink = max(worst_ink, float(ink.max()) * 100 / 255)
        for font in (resources.get("/Font") or {}).values():
            descendant = font.get_object()
            for d in descendant.get("/DescendantFonts", [descendant]):
                desc = d.get_object().get("/FontDescriptor")
                if desc is None or not any(k in desc.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                    problems.append(f"page {number}: font {descendant.get('/BaseFont')} is not embedded")
        for gs in (resources.get("/ExtGState") or {}).values():
            gs = gs.get_object()
            if float(gs.get("/ca", 1)) < 1 or float(gs.get("/CA", 1)) < 1 or "/SMask" in gs:
                problems.append(f"page {number}: transparency (PDF/X-1a allows none)")
        operators = {op.decode() for _, op in ContentStream(page.get_contents(), reader).operations}
        if operators & RGB_OPERATORS:
            problems.append(f"page {number}: RGB colour in the page's drawing")
    findings = [Finding(severity="error", file=rel, message=f"PDF/X-1a:2001 read-back: {p}",
                        fix="report this as a bug in artfarm's PDF/X writer") for p in problems]
    if ink_max is not None and worst_ink > ink_max:
        findings.append(Finding(severity="error", file=rel, message=f"total ink reaches {worst_ink:.0f} % (the most is {ink_max:g} %)",
                                fix="report this as a bug: art is converted with a 240 % ink-limited profile"))
    elif ink_advised is not None and worst_ink > ink_advised:
        findings.append(Finding(severity="warning", file=rel, message=f"total ink reaches {worst_ink:.0f} % "
                                f"(within the {ink_max:g} % limit, above the {ink_advised:g} % advised)",
                                fix="lighten the darkest areas of the art"))
    else:
        findings.append(Finding(severity="info", file=rel, message=f"PDF/X-1a:2001, CMYK ({cmyk.OUTPUT_CONDITION} output "
                                f"intent), fonts embedded, no transparency; total ink at most {worst_ink:.0f} %"))
    return findings
