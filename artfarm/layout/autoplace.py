"""Where text goes over art, and whether it needs a panel to stay readable.

``auto`` placement measures each candidate region of the placed art and picks the calmest
(lowest mean luminance gradient). Text over art is then checked with the WCAG contrast ratio
against the background it sits on (a low percentile over the region, so a few dark pixels
under light text count); below 4.5:1 a soft panel in a palette colour goes behind the text,
made just opaque enough to reach the ratio.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from artfarm.models.base import StrictModel

MIN_CONTRAST = 4.5
WORST_PERCENTILE = 5.0
PANEL_ALPHAS = (0.75, 0.82, 0.88, 0.94, 1.0)
CANDIDATE_ORDER = ("bottom", "top", "left", "right")  # ties go to the earlier (more usual) position


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


def rgb_to_hex(rgb) -> str:
    return "#" + "".join(f"{int(round(max(0, min(255, c)))):02X}" for c in rgb)


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2 relative luminance of sRGB values 0..255 (last axis is R, G, B)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def contrast_ratio(lum_a, lum_b):
    hi, lo = np.maximum(lum_a, lum_b), np.minimum(lum_a, lum_b)
    return (hi + 0.05) / (lo + 0.05)


def worst_contrast(text_colour: str, pixels: np.ndarray) -> float:
    """The contrast the text has over all but the worst few percent of the background pixels."""
    text_lum = relative_luminance(np.array(hex_to_rgb(text_colour)))
    ratios = contrast_ratio(text_lum, relative_luminance(pixels.reshape(-1, 3)))
    return float(np.percentile(ratios, WORST_PERCENTILE))


def detail(pixels: np.ndarray) -> float:
    """Mean absolute luminance gradient (0 = flat colour); a busy region scores high."""
    lum = relative_luminance(pixels)
    if lum.shape[0] < 2 or lum.shape[1] < 2:
        return 0.0
    return float(np.abs(np.diff(lum, axis=0)).mean() + np.abs(np.diff(lum, axis=1)).mean())


class PanelChoice(StrictModel):
    colour: str
    alpha: float
    contrast: float


def choose_panel(text_colour: str, pixels: np.ndarray, palette: list[str]) -> PanelChoice:
    """The palette colour (tinted towards paper white or ink black as needed) and opacity that make the text readable."""
    text_rgb = np.array(hex_to_rgb(text_colour), dtype=np.float64)
    text_dark = relative_luminance(text_rgb) < 0.18
    extreme = np.array([255.0, 253.0, 247.0]) if text_dark else np.array([20.0, 20.0, 28.0])
    candidates = [np.array(hex_to_rgb(c), dtype=np.float64) for c in palette] or [extreme]
    base = max(candidates, key=lambda c: float(contrast_ratio(relative_luminance(c), relative_luminance(text_rgb))))
    flat = pixels.reshape(-1, 3).astype(np.float64)
    best = None
    for tint in (0.6, 0.75, 0.9, 1.0):  # how far towards white/black the palette colour is pushed; soft first
        colour = base * (1 - tint) + extreme * tint
        for alpha in PANEL_ALPHAS:
            blended = flat * (1 - alpha) + colour * alpha
            ratio = worst_contrast(text_colour, blended)
            best = PanelChoice(colour=rgb_to_hex(colour), alpha=alpha, contrast=round(ratio, 2))
            if ratio >= MIN_CONTRAST:
                return best
    assert best is not None
    return best


def region_pixels(thumb: Image.Image, thumb_rect, region) -> np.ndarray:
    """The thumbnail's pixels under ``region`` (both rects in page points; the thumbnail covers ``thumb_rect``)."""
    sx, sy = thumb.width / thumb_rect.w, thumb.height / thumb_rect.h
    left = int(np.floor((region.x - thumb_rect.x) * sx))
    right = int(np.ceil((region.x1 - thumb_rect.x) * sx))
    top = int(np.floor((thumb_rect.y1 - region.y1) * sy))
    bottom = int(np.ceil((thumb_rect.y1 - region.y) * sy))
    left, top = max(0, left), max(0, top)
    right, bottom = min(thumb.width, max(right, left + 1)), min(thumb.height, max(bottom, top + 1))
    return np.asarray(thumb.crop((left, top, right, bottom)), dtype=np.uint8)
