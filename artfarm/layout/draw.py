"""Draw planned pages onto a ReportLab canvas; art goes in as stand-ins that pdfstream fills in."""

from __future__ import annotations

from reportlab.pdfbase import pdfmetrics

from artfarm.layout.pdfx import PrintCanvas as Canvas  # ink() gives the colour to paint (RGB, or CMYK for PDF/X)

from artfarm.layout.art import ArtPlacement
from artfarm.layout.fonts import FontSet
from artfarm.layout.geometry import Rect, pt
from artfarm.layout.pdfstream import SlotTable
from artfarm.layout.coverplan import CoverPlan, SpineText
from artfarm.layout.plan import PagePlan, TextLayout

PANEL_RADIUS_IN = 0.12


def start_page(canvas: Canvas, media: Rect, trim: Rect) -> None:
    """Page size and the print boxes every page carries (BleedBox = CropBox = MediaBox)."""
    canvas.setPageSize((media.w, media.h))
    canvas.setCropBox(media.pdf_box())
    canvas.setBleedBox(media.pdf_box())
    canvas.setTrimBox(trim.pdf_box())


def art(canvas: Canvas, slots: SlotTable, placement: ArtPlacement, profile: str) -> None:
    rect = placement.rect
    if rect.w <= 0 or rect.h <= 0:
        return
    canvas.drawImage(slots.stand_in((placement, profile)), rect.x, rect.y, rect.w, rect.h)


def fill(canvas: Canvas, rect: Rect, colour: str) -> None:
    canvas.setFillColor(canvas.ink(colour))
    canvas.rect(rect.x, rect.y, rect.w, rect.h, stroke=0, fill=1)


def text(canvas: Canvas, layout: TextLayout) -> None:
    """Centred lines, with the soft panel behind them when the plan asked for one."""
    if layout.panel is not None and layout.panel_rect is not None:
        r = layout.panel_rect
        canvas.saveState()
        # PDF/X-1a allows no transparency: there the panel is painted opaque.
        canvas.setFillColor(canvas.ink(layout.panel.colour), alpha=layout.panel.alpha if canvas.transparency else None)
        canvas.roundRect(r.x, r.y, r.w, r.h, pt(PANEL_RADIUS_IN), stroke=0, fill=1)
        canvas.restoreState()
    canvas.setFillColor(canvas.ink(layout.colour))
    canvas.setFont(layout.font, layout.size_pt)
    face = pdfmetrics.getFont(layout.font).face
    ascent = face.ascent / 1000.0 * layout.size_pt
    centre = layout.block.x + layout.block.w / 2
    for i, line in enumerate(layout.lines):
        canvas.drawCentredString(centre, layout.block.y1 - ascent - i * layout.leading_pt, line)


def interior_page(canvas: Canvas, slots: SlotTable, plan: PagePlan, profile: str) -> None:
    """One interior page; the web profile trims the bleed away (page = trim box)."""
    if profile == "web":
        start_page(canvas, Rect(x=0, y=0, w=plan.trim.w, h=plan.trim.h), Rect(x=0, y=0, w=plan.trim.w, h=plan.trim.h))
        canvas.translate(-plan.trim.x, -plan.trim.y)
    else:
        start_page(canvas, plan.media, plan.trim)
    if plan.art is not None:
        art(canvas, slots, plan.art.clipped_to(plan.trim) if profile == "web" else plan.art, profile)
    if plan.text is not None:
        text(canvas, plan.text)
    canvas.showPage()


def cover_sheet(canvas: Canvas, slots: SlotTable, plan: CoverPlan, fonts: FontSet) -> None:
    """Back, spine and front on one sheet, with the barcode area left clear."""
    start_page(canvas, plan.media, plan.trim)
    fill(canvas, Rect(x=0, y=0, w=plan.front.x, h=plan.media.h), plan.background)
    if plan.art is not None:
        art(canvas, slots, plan.art, "print")
    fill(canvas, plan.barcode, "#FFFFFF")
    if plan.back_text is not None:
        text(canvas, plan.back_text)
    if plan.spine_text is not None:
        spine(canvas, plan.spine_text, fonts, plan.title.colour)
    text(canvas, plan.title)
    text(canvas, plan.author)
    canvas.showPage()


def front_cover_page(canvas: Canvas, slots: SlotTable, plan: CoverPlan) -> None:
    """The front panel alone, trimmed: the first page of the web PDF."""
    start_page(canvas, Rect(x=0, y=0, w=plan.front.w, h=plan.front.h), Rect(x=0, y=0, w=plan.front.w, h=plan.front.h))
    canvas.translate(-plan.front.x, -plan.front.y)
    if plan.art is not None:
        art(canvas, slots, plan.art.clipped_to(plan.front), "web")
    text(canvas, plan.title)
    text(canvas, plan.author)
    canvas.showPage()


def spine(canvas: Canvas, spine_text: SpineText, fonts: FontSet, colour: str) -> None:
    """Spine text reads top to bottom (the usual direction for English-language books)."""
    block = spine_text.block
    canvas.saveState()
    canvas.setFillColor(canvas.ink(colour))
    canvas.setFont(fonts.bold.name, spine_text.size_pt)
    canvas.translate(block.x + block.w / 2, block.y + block.h / 2)
    canvas.rotate(-90)
    baseline = -(fonts.bold.ascent - fonts.bold.descent) / 2 * spine_text.size_pt
    canvas.drawCentredString(0, baseline, spine_text.text)
    canvas.restoreState()
