"""Print-service profiles (generic, kdp, ingramspark): the numbers live in data/printers.yaml, with their sources."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml

from artfarm.errors import BadInputError
from artfarm.layout.geometry import CoverGeometry, PageGeometry, cover, interior_page
from artfarm.models.base import StrictModel
from artfarm.models.book import Layout

PRINTERS = ("generic", "kdp", "ingramspark")  # keep in step with models/book.py's Printer


class BarcodeArea(StrictModel):
    width_in: float
    height_in: float


class PrinterProfile(StrictModel):
    """One service's rules; preflight checks a book against them and names the rule it breaks."""

    name: str
    description: str
    bleed_in: float
    margin_in: float
    min_pages: int
    max_pages: int
    page_count_severity: Literal["error", "warning"]
    paper: dict[str, float]
    barcode: BarcodeArea
    spine_text_min_pages: int
    spine_clearance_in: float
    premium_colour_below_pages: int | None
    file_size_advice_mb: float | None
    file_size_max_mb: float | None
    interior_jpeg_quality: int
    pdfx: Literal["none", "x1a_2001"]
    total_ink_max: float | None
    total_ink_advised: float | None

    def page(self, layout: Layout, position: int, page_count: int) -> PageGeometry:
        """An interior page's geometry with this printer's margins."""
        return interior_page(layout.trim.width_in, layout.trim.height_in, layout.bleed_in, position, page_count,
                             margin_in=self.margin_in)

    def cover(self, layout: Layout, page_count: int) -> CoverGeometry:
        """The cover sheet with this printer's margins, paper caliper and barcode area."""
        return cover(layout.trim.width_in, layout.trim.height_in, layout.bleed_in, page_count, layout.paper,
                     margin_in=self.margin_in, caliper_in=self.paper.get(layout.paper),
                     barcode_in=(self.barcode.width_in, self.barcode.height_in))


@cache
def _table() -> dict[str, dict]:
    text = resources.files("artfarm.layout").joinpath("data/printers.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def load_profile(name: str) -> PrinterProfile:
    table = _table()
    if name not in table:
        raise BadInputError(f"unknown printer profile '{name}'", where="--printer / book.yaml $.layout.printer",
                            fix=f"use one of: {', '.join(table)}")
    return PrinterProfile(name=name, **table[name])
