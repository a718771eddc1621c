"""The cover sheet's decisions: back text above a clear barcode area, spine text when it fits, front title.

The cover is one sheet, back + spine + front, with the cover art (page 0) on the front.
"""

from __future__ import annotations

import numpy as np

from artfarm.layout import autoplace
from artfarm.layout.art import ArtPlacement, crop_to_fill, thumbnail
from artfarm.layout.fonts import FontFace
from artfarm.layout.geometry import CoverGeometry, Rect, pt
from artfarm.layout.printers import PrinterProfile
from artfarm.layout.plan import FRAME_GAP_IN, PlanContext, TextLayout, sampler, place_text, text_regions
from artfarm.models.base import StrictModel
from artfarm.models.book import Book

SPINE_MIN_PT = 6.0
TITLE_SCALE = 2.0


class SpineText(StrictModel):
    text: str
    size_pt: float
    block: Rect


class CoverPlan(StrictModel):
    page_count: int
    paper: str
    printer: str = "generic"
    spine_width_in: float
    width_in: float
    height_in: float
    media: Rect
    trim: Rect
    back: Rect
    spine: Rect
    front: Rect
    barcode: Rect
    background: str
    art: ArtPlacement | None
    title: TextLayout
    author: TextLayout
    back_text: TextLayout | None = None
    spine_text: SpineText | None = None
    spine_note: str = ""


def plan_cover(ctx: PlanContext, page_count: int) -> CoverPlan:
    book, layout = ctx.book, ctx.book.layout
    typo = layout.typography
    geo: CoverGeometry = ctx.printer.cover(layout, page_count)
    source = ctx.sources[0]
    art = ArtPlacement(source=source, rect=geo.front_bleed,
                       crop=crop_to_fill(source.width, source.height, geo.front_bleed.w, geo.front_bleed.h, (0.5, 0.5)))
    regions = text_regions(geo.front_safe)
    paper = np.full((1, 1, 3), 255, dtype=np.uint8)
    flat = autoplace.choose_panel(typo.colour, paper, ctx.palette)
    background = flat.colour
    thumb = thumbnail(art, ctx.book_dir)
    try:
        sample = sampler(thumb, art.rect)
        title_text = book.title + (f"\n{book.subtitle}" if book.subtitle else "")
        title = place_text(where="cover front (title)", text=title_text, region=regions["top"], face=ctx.fonts.bold,
                           size_pt=typo.size_pt * TITLE_SCALE, leading_pt=typo.leading_pt * TITLE_SCALE,
                           min_size_pt=typo.min_size_pt, colour=typo.colour, requested="top", background=sample,
                           palette=ctx.palette)
        author_region = regions["bottom"].inset(0, 0, 0, regions["bottom"].h * 0.5)
        author = place_text(where="cover front (author)", text=book.author, region=author_region, face=ctx.fonts.regular,
                            size_pt=typo.size_pt, leading_pt=typo.leading_pt, min_size_pt=typo.min_size_pt,
                            colour=typo.colour, requested="bottom", background=sample, palette=ctx.palette)
    finally:
        thumb.close()
    back_text = None
    if book.cover.back_text.strip():
        gap = pt(FRAME_GAP_IN)
        region = geo.back_safe.inset(0, geo.barcode.h + gap, 0, 0)
        back_text = place_text(where="cover back", text=book.cover.back_text, region=region, face=ctx.fonts.regular,
                               size_pt=typo.size_pt, leading_pt=typo.leading_pt, min_size_pt=typo.min_size_pt,
                               colour=typo.colour, requested="top", background=None, palette=ctx.palette)
    spine_text, note = _spine_text(book, ctx.fonts.bold, geo, typo.size_pt, ctx.printer, page_count)
    return CoverPlan(page_count=page_count, paper=layout.paper, printer=ctx.printer.name, spine_width_in=round(geo.spine_width_in, 6),
                     width_in=round(geo.media.w / 72, 6), height_in=round(geo.media.h / 72, 6), media=geo.media,
                     trim=geo.trim, back=geo.back, spine=geo.spine, front=geo.front, barcode=geo.barcode,
                     background=background, art=art, title=title, author=author, back_text=back_text,
                     spine_text=spine_text, spine_note=note)


def _spine_text(book: Book, face: FontFace, geo: CoverGeometry, size_pt: float, printer: PrinterProfile,
                page_count: int) -> tuple[SpineText | None, str]:
    """Spine text only when the printer allows it at this page count and it fits with clear space on both sides."""
    text = book.cover.spine_text if book.cover.spine_text is not None else book.title
    if not text.strip():
        return None, "no spine text set"
    if page_count < printer.spine_text_min_pages:
        return None, (f"{printer.name} prints spine text only from {printer.spine_text_min_pages} pages "
                      f"(this book has {page_count})")
    clearance = printer.spine_clearance_in
    across = geo.spine.w - 2 * pt(clearance)
    along = geo.spine.h - 2 * pt(0.375)
    size = min(size_pt, across / (face.ascent + face.descent) if across > 0 else 0.0)
    if size > 0:
        size = min(size, size * along / max(face.width(text, size), 1e-6))
    if size < SPINE_MIN_PT:
        return None, (f"spine is {geo.spine_width_in:.3f} in wide: too narrow for text with "
                      f"{clearance} in clear each side (needs about "
                      f"{(SPINE_MIN_PT * (face.ascent + face.descent)) / 72 + 2 * clearance:.3f} in)")
    height = (face.ascent + face.descent) * size
    length = face.width(text, size)
    cx, cy = geo.spine.x + geo.spine.w / 2, geo.spine.y + geo.spine.h / 2
    block = Rect(x=cx - height / 2, y=cy - length / 2, w=height, h=length)
    return SpineText(text=text, size_pt=round(size, 2), block=block), ""
