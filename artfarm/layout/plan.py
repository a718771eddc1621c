"""Every layout decision for every interior page, made before anything is written and recorded in layout.json.

Planning opens each image once (for a small thumbnail to measure detail and contrast) and
releases it; the PDF writers later follow the plan without deciding anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from artfarm.layout import autoplace
from artfarm.layout.art import ArtPlacement, ArtSource, crop_to_fill, split_crop, thumbnail
from artfarm.layout.autoplace import PanelChoice
from artfarm.layout.errors import TextOverflowError
from artfarm.layout.fonts import FontFace, FontSet
from artfarm.layout.geometry import Rect, print_page_count, pt
from artfarm.layout.printers import PrinterProfile
from artfarm.layout.textfit import FittedText, Overflow, fit_text
from artfarm.models.base import StrictModel
from artfarm.models.book import Book, PageEntry

TEXT_BAND = {"top": 0.30, "bottom": 0.30, "left": 0.42, "right": 0.42}
PANEL_PAD_IN = 0.15
FRAME_GAP_IN = 0.2


class TextLayout(StrictModel):
    requested: str
    placement: str
    region: Rect                 # the area the text may use (inside the safe area)
    block: Rect                  # where the lines actually are
    lines: list[str]
    font: str
    size_pt: float
    leading_pt: float
    colour: str
    detail: dict[str, float] = {}  # auto placement: each candidate's detail score
    contrast: float | None = None  # text against the art, before any panel
    panel: PanelChoice | None = None
    panel_rect: Rect | None = None


class PagePlan(StrictModel):
    page: int
    position: int
    side: Literal["left", "right"]
    media: Rect
    trim: Rect
    safe: Rect
    spread: Literal["", "left", "right"] = ""
    art: ArtPlacement | None = None
    text: TextLayout | None = None
    blank: bool = False  # padding added so the print interior has an even page count (print PDF only)


@dataclass
class PlanContext:
    """What every page plan reads: the book, its folder, fonts, palette and the art of each art page."""

    book: Book
    book_dir: Path
    fonts: FontSet
    palette: list[str]
    sources: dict[int, ArtSource]
    printer: PrinterProfile


def text_regions(safe: Rect) -> dict[str, Rect]:
    pad = pt(PANEL_PAD_IN)
    bands = {
        "top": Rect(x=safe.x, y=safe.y1 - safe.h * TEXT_BAND["top"], w=safe.w, h=safe.h * TEXT_BAND["top"]),
        "bottom": Rect(x=safe.x, y=safe.y, w=safe.w, h=safe.h * TEXT_BAND["bottom"]),
        "left": Rect(x=safe.x, y=safe.y, w=safe.w * TEXT_BAND["left"], h=safe.h),
        "right": Rect(x=safe.x1 - safe.w * TEXT_BAND["right"], y=safe.y, w=safe.w * TEXT_BAND["right"], h=safe.h),
    }
    return {name: band.inset(pad, pad, pad, pad) for name, band in bands.items()}


def place_text(*, where: str, text: str, region: Rect, face: FontFace, size_pt: float, leading_pt: float,
               min_size_pt: float, colour: str, requested: str, background: np.ndarray | None,
               palette: list[str], anchor: str | None = None, detail: dict[str, float] | None = None) -> TextLayout:
    """Fit text into ``region``, anchor it, and add a panel when the background under it is not readable.

    ``background`` is None (no check: the colour was chosen for the text), the pixels under the
    text, or a function giving the pixels under any rectangle of the page.
    """
    fitted = fit_text(text, face, region.w, region.h, size_pt=size_pt, leading_pt=leading_pt, min_size_pt=min_size_pt)
    if isinstance(fitted, Overflow):
        raise TextOverflowError(f"text does not fit its {requested if requested != 'auto' else anchor} box even at "
                                f"{min_size_pt:g} pt: {fitted.describe()}", where=where,
                                fix="shorten the text, lower layout.typography.min_size_pt, or choose a placement with "
                                    "more room (left/right hold more lines than top/bottom)")
    block = _anchor_block(fitted, region, anchor or requested)
    layout = TextLayout(requested=requested, placement=anchor or requested, region=region, block=block,
                        lines=fitted.lines, font=face.name, size_pt=fitted.size_pt, leading_pt=fitted.leading_pt,
                        colour=colour, detail=detail or {})
    if background is None:
        return layout
    under = background(block) if callable(background) else background
    layout.contrast = round(autoplace.worst_contrast(colour, under), 2)
    if layout.contrast < autoplace.MIN_CONTRAST:
        pad = pt(PANEL_PAD_IN)
        panel_rect = block.inset(-pad, -pad, -pad, -pad)
        layout.panel = autoplace.choose_panel(colour, background(panel_rect) if callable(background) else under, palette)
        layout.panel_rect = panel_rect
    return layout


def _anchor_block(fitted: FittedText, region: Rect, anchor: str) -> Rect:
    w, h = fitted.width_pt, fitted.height_pt
    x = region.x + (region.w - w) / 2
    if anchor == "top":
        y = region.y1 - h
    elif anchor == "bottom":
        y = region.y
    else:
        y = region.y + (region.h - h) / 2
    return Rect(x=x, y=y, w=w, h=h)


def sampler(thumb: Image.Image, rect: Rect):
    """A function giving the art's pixels under any page rectangle (the thumbnail covers ``rect``)."""
    return lambda region: autoplace.region_pixels(thumb, rect, region)


def plan_interior(ctx: PlanContext) -> list[PagePlan]:
    """The book's pages in print order, then a blank page when their count is odd (print services need even)."""
    layout = ctx.book.layout
    entries = sorted(ctx.book.pages, key=lambda e: e.page)
    count = print_page_count(len(entries))
    spread_of = {e.page + 1: e for e in entries if e.spread}
    plans = []
    for position, entry in enumerate(entries, start=1):
        geo = ctx.printer.page(layout, position, count)
        plan = PagePlan(page=entry.page, position=position, side=geo.side, media=geo.media, trim=geo.trim, safe=geo.safe)
        placement = entry.placement or layout.default_placement
        frame = entry.art or layout.default_art
        if entry.spread or entry.page in spread_of:
            plan.spread = "left" if entry.spread else "right"
            start = entry if entry.spread else spread_of[entry.page]
            plan.art = _spread_half(ctx.sources[start.page], start, geo.media, plan.spread)
            frame = "full-bleed"
        text_region = None
        if frame == "framed":
            anchor = "bottom" if placement == "auto" else placement
            plan.art, text_region = _framed(ctx.sources[entry.page], entry, geo.safe, anchor if entry.text.strip() else None)
        elif plan.art is None:
            source = ctx.sources[entry.page]
            plan.art = ArtPlacement(source=source, rect=geo.media,
                                    crop=crop_to_fill(source.width, source.height, geo.media.w, geo.media.h, entry.focal))
        if entry.text.strip():
            plan.text = _page_text(ctx, entry, plan, placement, frame, text_region)
        plans.append(plan)
    for position in range(len(entries) + 1, count + 1):
        geo = ctx.printer.page(layout, position, count)
        plans.append(PagePlan(page=plans[-1].page + 1, position=position, side=geo.side, media=geo.media,
                              trim=geo.trim, safe=geo.safe, blank=True))
    return plans


def _spread_half(source: ArtSource, start: PageEntry, media: Rect, half: str) -> ArtPlacement:
    full = crop_to_fill(source.width, source.height, 2 * media.w, media.h, start.focal)
    left, right = split_crop(full, 0.5)
    return ArtPlacement(source=source, rect=media, crop=left if half == "left" else right)


def _framed(source: ArtSource, entry: PageEntry, safe: Rect, anchor: str | None) -> tuple[ArtPlacement, Rect | None]:
    """Framed art sits inside the safe area, beside the text band instead of under it."""
    gap = pt(FRAME_GAP_IN)
    if anchor is None:
        art_rect, region = safe, None
    else:
        band = TEXT_BAND[anchor]
        if anchor in ("top", "bottom"):
            text_h = safe.h * band
            art_rect = safe.inset(0, text_h + gap, 0, 0) if anchor == "bottom" else safe.inset(0, 0, 0, text_h + gap)
        else:
            text_w = safe.w * band
            art_rect = safe.inset(text_w + gap, 0, 0, 0) if anchor == "left" else safe.inset(0, 0, text_w + gap, 0)
        region = text_regions(safe)[anchor]
    crop = crop_to_fill(source.width, source.height, art_rect.w, art_rect.h, entry.focal)
    return ArtPlacement(source=source, rect=art_rect, crop=crop, frame="framed"), region


def _page_text(ctx: PlanContext, entry: PageEntry, plan: PagePlan, placement: str, frame: str,
               framed_region: Rect | None) -> TextLayout:
    typo = ctx.book.layout.typography
    common = dict(where=f"page {entry.page}", text=entry.text, face=ctx.fonts.regular, size_pt=typo.size_pt,
                  leading_pt=typo.leading_pt, min_size_pt=typo.min_size_pt, colour=typo.colour,
                  requested=placement, palette=ctx.palette)
    if frame == "framed":
        paper = np.full((1, 1, 3), 255, dtype=np.uint8)
        return place_text(region=framed_region, background=paper, anchor="bottom" if placement == "auto" else placement,
                          **common)
    regions = text_regions(plan.safe)
    thumb = thumbnail(plan.art, ctx.book_dir)
    try:
        sample = sampler(thumb, plan.art.rect)
        if placement != "auto":
            return place_text(region=regions[placement], background=sample, anchor=placement, **common)
        scores = {name: round(autoplace.detail(sample(regions[name])), 5) for name in autoplace.CANDIDATE_ORDER}
        calmest_first = sorted(autoplace.CANDIDATE_ORDER, key=lambda n: scores[n])
        first_error = None
        for anchor in calmest_first:  # the calmest region the text fits in
            try:
                return place_text(region=regions[anchor], background=sample, anchor=anchor, detail=scores, **common)
            except TextOverflowError as exc:
                first_error = first_error or exc
        raise first_error
    finally:
        thumb.close()
