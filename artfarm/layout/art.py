"""Art placement: crop to fill a box around a focal point, never stretch; one image in memory at a time.

A page's art is described by where it comes from (a file, or a generated placeholder), the
crop rectangle in source pixels and the rectangle on the page it fills. Pixels are only
decoded when a page is analysed or written, and released before the next page.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from artfarm.images import image_size, load_image
from artfarm.layout.geometry import Rect, inches
from artfarm.models.base import StrictModel



class PlaceholderSpec(StrictModel):
    """Art generated on the fly for --placeholders: the label names the page, size matches 300 ppi."""

    label: str
    width: int
    height: int
    seed: int


class ArtSource(StrictModel):
    """Final art on disk (path relative to the book) or a placeholder; ``sha256`` keys the cache."""

    file: str | None = None
    sha256: str | None = None
    placeholder: PlaceholderSpec | None = None
    width: int
    height: int


class ArtPlacement(StrictModel):
    source: ArtSource
    crop: tuple[float, float, float, float]  # left, top, right, bottom in source pixels
    rect: Rect  # where the crop lands on the page, in points
    frame: str = "full-bleed"

    @property
    def ppi(self) -> float:
        """Effective resolution at the placed size (the lower of the two axes)."""
        left, top, right, bottom = self.crop
        return min((right - left) / inches(self.rect.w), (bottom - top) / inches(self.rect.h))

    def clipped_to(self, box: Rect) -> "ArtPlacement":
        """The part of this placement inside ``box`` (the web PDF drops the bleed)."""
        inner = self.rect.intersect(box)
        left, top, right, bottom = self.crop
        sx, sy = (right - left) / self.rect.w, (bottom - top) / self.rect.h
        crop = (left + (inner.x - self.rect.x) * sx, top + (self.rect.y1 - inner.y1) * sy,
                left + (inner.x1 - self.rect.x) * sx, top + (self.rect.y1 - inner.y) * sy)
        return self.model_copy(update={"crop": crop, "rect": inner})


def crop_to_fill(width: int, height: int, target_w: float, target_h: float,
                 focal: tuple[float, float] = (0.5, 0.5)) -> tuple[float, float, float, float]:
    """The largest crop of the image with the target's aspect ratio, centred on the focal point as far as the edges allow."""
    target_aspect = target_w / target_h
    if width / height > target_aspect:
        crop_w, crop_h = height * target_aspect, float(height)
    else:
        crop_w, crop_h = float(width), width / target_aspect
    left = min(max(focal[0] * width - crop_w / 2, 0.0), width - crop_w)
    top = min(max(focal[1] * height - crop_h / 2, 0.0), height - crop_h)
    return (left, top, left + crop_w, top + crop_h)


def split_crop(crop: tuple[float, float, float, float], fraction: float) -> tuple[tuple, tuple]:
    """Cut a crop vertically at ``fraction`` of its width (a spread into its two pages)."""
    left, top, right, bottom = crop
    cut = left + (right - left) * fraction
    return (left, top, cut, bottom), (cut, top, right, bottom)


def probe(path: Path, display: str) -> tuple[int, int]:
    """Pixel size without decoding the image."""
    return image_size(path, what=f"final art {display}")


def open_rgb(source: ArtSource, book_dir: Path) -> Image.Image:
    """Decode one image as RGB (transparent art is composited on white paper)."""
    if source.placeholder is not None:
        from artfarm.layout.placeholder import make_placeholder

        return make_placeholder(source.placeholder)
    assert source.file is not None
    return load_image(book_dir / source.file, what="final art", mode="RGB")


def cropped(img: Image.Image, crop: tuple[float, float, float, float], size: tuple[int, int] | None = None) -> Image.Image:
    """Crop (rounded to whole pixels) and optionally resample; both axes scale alike because the crop already has the box's aspect."""
    box = tuple(int(round(v)) for v in crop)
    region = img.crop(box)
    if size is not None and size != region.size:
        region = region.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return region


def encode_jpeg(placement: ArtPlacement, book_dir: Path, *, max_ppi: float | None, quality: int,
                cmyk: bool = False) -> tuple[bytes, int, int]:
    """The placed art as JPEG bytes: print keeps the source pixels, the web copy is downsampled to ``max_ppi``.

    ``cmyk``: converted through the print profile (PDF/X)."""
    img = open_rgb(placement.source, book_dir)
    try:
        size = None
        if max_ppi is not None and placement.ppi > max_ppi:
            size = (max(1, round(inches(placement.rect.w) * max_ppi)), max(1, round(inches(placement.rect.h) * max_ppi)))
        region = cropped(img, placement.crop, size)
    finally:
        img.close()
    if cmyk:
        from artfarm.layout.pdfx import encode_cmyk_jpeg

        return encode_cmyk_jpeg(region, quality), region.width, region.height
    buf = io.BytesIO()
    region.save(buf, format="JPEG", quality=quality, subsampling=0 if quality >= 90 else 2, optimize=False)
    return buf.getvalue(), region.width, region.height


def thumbnail(placement: ArtPlacement, book_dir: Path, px_per_in: float = 24.0) -> Image.Image:
    """A small copy of the placed art for measuring detail and contrast under the text."""
    img = open_rgb(placement.source, book_dir)
    try:
        size = (max(1, round(inches(placement.rect.w) * px_per_in)), max(1, round(inches(placement.rect.h) * px_per_in)))
        return cropped(img, placement.crop, size)
    finally:
        img.close()
