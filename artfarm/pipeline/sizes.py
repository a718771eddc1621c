"""Pixel sizes: the print size finals must reach, and draft sizes in the page's aspect."""

from __future__ import annotations

import math

from artfarm.models.book import Book

PRINT_PPI = 300


def print_px(book: Book, page: int) -> tuple[int, int]:
    """Trim plus bleed on every side, at 300 ppi; a spread is two trims wide (cover: the front)."""
    trim, bleed = book.layout.trim, book.layout.bleed_in
    entry = next((p for p in book.pages if p.page == page), None)
    width_in = trim.width_in * (2 if entry is not None and entry.spread else 1) + 2 * bleed
    height_in = trim.height_in + 2 * bleed
    return math.ceil(width_in * PRINT_PPI), math.ceil(height_in * PRINT_PPI)


def fit_area(target: tuple[int, int], width: int, height: int, *, multiple: int = 8) -> tuple[int, int]:
    """About width*height pixels in the target's aspect, each side a multiple of 8 (what samplers need)."""
    aspect = target[0] / target[1]
    area = width * height
    w = math.sqrt(area * aspect)
    h = w / aspect
    return _round(w, multiple), _round(h, multiple)


def draft_size(tier_w: int, tier_h: int, target: tuple[int, int], override_w: int | None,
               override_h: int | None) -> tuple[int, int]:
    if override_w and override_h:
        return override_w, override_h
    aspect = target[0] / target[1]
    if override_w:
        return override_w, _round(override_w / aspect, 8)
    if override_h:
        return _round(override_h * aspect, 8), override_h
    return fit_area(target, tier_w, tier_h)


def half_print(target: tuple[int, int]) -> tuple[int, int]:
    """The size refine should reach so a 2x upscale meets the print size."""
    return _round_up(target[0] / 2, 8), _round_up(target[1] / 2, 8)


def _round(value: float, multiple: int) -> int:
    return max(64, int(round(value / multiple)) * multiple)


def _round_up(value: float, multiple: int) -> int:
    return max(64, math.ceil(value / multiple) * multiple)
