"""Page and cover geometry, as print-on-demand services publish it. Points (1/72 in) throughout.

Interior pages carry bleed on the outside edge only (page 1 is a right-hand page, so odd pages
bleed to the right and even pages to the left) and on top and bottom. A right-to-left book is
bound on the right: page 1 is a left-hand page and the cover sheet reads front, spine, back. The safe area keeps
0.375 in from the trim on outside edges and a gutter, growing with page count, on the inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from artfarm.models.base import StrictModel

PT_PER_IN = 72.0
SAFE_MARGIN_IN = 0.375
BARCODE_W_IN, BARCODE_H_IN = 2.0, 1.2
PAPER_THICKNESS_IN = {"white": 0.002252, "cream": 0.0025, "premium-color": 0.002347}
# (most pages, inside margin in inches), as the large print-on-demand services publish it.
GUTTER_TABLE = ((150, 0.375), (300, 0.5), (500, 0.625), (700, 0.75))
GUTTER_BEYOND_IN = 0.875

Side = Literal["left", "right"]


def pt(inches: float) -> float:
    return inches * PT_PER_IN


def inches(points: float) -> float:
    return points / PT_PER_IN


class Rect(StrictModel):
    """A rectangle in PDF points, origin at the lower left."""

    x: float
    y: float
    w: float
    h: float

    @property
    def x1(self) -> float:
        return self.x + self.w

    @property
    def y1(self) -> float:
        return self.y + self.h

    def pdf_box(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x1, self.y1)

    def inset(self, left: float, bottom: float, right: float, top: float) -> "Rect":
        return Rect(x=self.x + left, y=self.y + bottom, w=self.w - left - right, h=self.h - bottom - top)

    def intersect(self, other: "Rect") -> "Rect":
        x, y = max(self.x, other.x), max(self.y, other.y)
        return Rect(x=x, y=y, w=max(0.0, min(self.x1, other.x1) - x), h=max(0.0, min(self.y1, other.y1) - y))

    def contains(self, other: "Rect", tol: float = 1e-6) -> bool:
        return (other.x >= self.x - tol and other.y >= self.y - tol
                and other.x1 <= self.x1 + tol and other.y1 <= self.y1 + tol)


def gutter_in(page_count: int) -> float:
    """Inside margin: 0.375 in up to 150 pages, more for thicker books."""
    for most, margin in GUTTER_TABLE:
        if page_count <= most:
            return margin
    return GUTTER_BEYOND_IN


def side_of(position: int, rtl: bool = False) -> Side:
    """Page 1 of a printed book is a right-hand page (a left-hand one when the book is bound on the right)."""
    first, second = ("left", "right") if rtl else ("right", "left")
    return first if position % 2 else second


@dataclass(frozen=True)
class PageGeometry:
    side: Side
    media: Rect  # == BleedBox
    trim: Rect
    safe: Rect


def interior_page(trim_w_in: float, trim_h_in: float, bleed_in: float, position: int, page_count: int,
                  margin_in: float = SAFE_MARGIN_IN, rtl: bool = False) -> PageGeometry:
    """``margin_in`` is the printer's outside margin; the gutter is never less than it."""
    side = side_of(position, rtl)
    b = pt(bleed_in)
    media = Rect(x=0, y=0, w=pt(trim_w_in) + b, h=pt(trim_h_in) + 2 * b)
    trim_x = 0.0 if side == "right" else b
    trim = Rect(x=trim_x, y=b, w=pt(trim_w_in), h=pt(trim_h_in))
    outside, inside = pt(margin_in), pt(max(margin_in, gutter_in(page_count)))
    left, right = (inside, outside) if side == "right" else (outside, inside)
    return PageGeometry(side=side, media=media, trim=trim, safe=trim.inset(left, outside, right, outside))


def print_page_count(page_count: int) -> int:
    """Printed books have an even page count; an odd interior gets one blank page at the end."""
    return page_count + page_count % 2


def spine_width_in(page_count: int, paper: str, caliper_in: float | None = None) -> float:
    """Pages times the paper's caliper (the printer profile's, else the common KDP table)."""
    return page_count * (PAPER_THICKNESS_IN[paper] if caliper_in is None else caliper_in)


@dataclass(frozen=True)
class CoverGeometry:
    media: Rect
    trim: Rect
    back: Rect   # trim area of the back panel
    spine: Rect
    front: Rect  # trim area of the front panel
    front_bleed: Rect
    back_safe: Rect
    front_safe: Rect
    barcode: Rect
    spine_width_in: float


def cover(trim_w_in: float, trim_h_in: float, bleed_in: float, page_count: int, paper: str, *,
          margin_in: float = SAFE_MARGIN_IN, caliper_in: float | None = None,
          barcode_in: tuple[float, float] = (BARCODE_W_IN, BARCODE_H_IN), rtl: bool = False) -> CoverGeometry:
    """One sheet: bleed + back + spine + front + bleed wide (front first when ``rtl``), trim height + two bleeds tall."""
    b, tw, th = pt(bleed_in), pt(trim_w_in), pt(trim_h_in)
    spine_in = spine_width_in(page_count, paper, caliper_in)
    s = pt(spine_in)
    media = Rect(x=0, y=0, w=2 * b + 2 * tw + s, h=th + 2 * b)
    back = Rect(x=b, y=b, w=tw, h=th)
    spine = Rect(x=b + tw, y=b, w=s, h=th)
    front = Rect(x=b + tw + s, y=b, w=tw, h=th)
    if rtl:
        front, back = Rect(x=b, y=b, w=tw, h=th), Rect(x=b + tw + s, y=b, w=tw, h=th)
    m = pt(margin_in)
    back_safe, front_safe = back.inset(m, m, m, m), front.inset(m, m, m, m)
    barcode = Rect(x=back_safe.x1 - pt(barcode_in[0]), y=back_safe.y, w=pt(barcode_in[0]), h=pt(barcode_in[1]))
    return CoverGeometry(media=media, trim=Rect(x=b, y=b, w=media.w - 2 * b, h=th), back=back, spine=spine,
                         front=front, front_bleed=Rect(x=0, y=0, w=front.x1 + b, h=media.h) if rtl else
                         Rect(x=front.x, y=0, w=media.w - front.x, h=media.h),
                         back_safe=back_safe, front_safe=front_safe, barcode=barcode, spine_width_in=spine_in)
