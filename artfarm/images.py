"""The one image loader: every picture artfarm reads (refs, masks, drafts, finals, layout art) comes through here.

One error policy for all of them: a file that is not an image, is cut short, is larger than
the pixel limit (a "decompression bomb": a few KB of PNG that decode to gigabytes) or has a
mode artfarm cannot use raises ``ImageFileError`` naming the file and the fix, so a bad file
fails its page (or is a ``validate`` finding) instead of crashing a command. The size is
checked from the header, before any pixel is decoded.

Modes are normalised: palette, 16-bit grey, CMYK and the rest become L, LA, RGB or RGBA;
``mode="RGB"`` composites transparency on white paper (how it will print).

The limit is ``ARTFARM_MAX_IMAGE_PIXELS`` (read at each call), else ``DEFAULT_MAX_PIXELS``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from artfarm.errors import ImageFileError

# A 2x upscale of a 17 x 11.25 in spread with bleed at 300 ppi is about 10300 x 6900 = 71 MP; 250 MP leaves room.
DEFAULT_MAX_PIXELS = 250_000_000
MAX_PIXELS_ENV = "ARTFARM_MAX_IMAGE_PIXELS"
# Pillow's own bomb check would refuse below our configurable limit; ours runs first, on the header.
Image.MAX_IMAGE_PIXELS = None

Mode = Literal["RGB", "RGBA", "L"]
_PLAIN = {"L", "LA", "RGB", "RGBA"}
_SIXTEEN_BIT = {"I", "I;16", "I;16B", "I;16L", "I;16N"}
_CONVERTIBLE = {"1": "L", "P": "RGBA", "PA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB",
                "La": "LA", "RGBa": "RGBA", "RGBX": "RGB"}


def max_pixels() -> int:
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ImageFileError(f"{MAX_PIXELS_ENV}={raw!r} is not a whole number", where=MAX_PIXELS_ENV,
                             fix=f"set it to a pixel count such as {DEFAULT_MAX_PIXELS}, or unset it") from None
    return value if value > 0 else DEFAULT_MAX_PIXELS


def image_size(path: Path, *, what: str = "image") -> tuple[int, int]:
    """Width and height from the header, within the pixel limit; nothing is decoded."""
    with _opened(path, what) as img:
        return img.size


def load_image(path: Path, *, what: str = "image", mode: Mode | None = None) -> Image.Image:
    """The decoded picture, detached from the file: in ``mode``, else in the nearest of L, LA, RGB, RGBA."""
    with _opened(path, what) as img:
        try:
            img.load()
            plain = _normalised(img, path, what)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise _unreadable(path, what, exc) from exc
    if mode == "RGB":
        return flatten_rgb(plain)
    if mode is not None and plain.mode != mode:
        return plain.convert(mode)
    return plain


def flatten_rgb(img: Image.Image) -> Image.Image:
    """RGB with any transparency composited on white paper (how it will print)."""
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        paper = Image.new("RGB", rgba.size, (255, 255, 255))
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    return img.convert("RGB")


class _opened:
    """``Image.open`` with the pixel limit checked on the header and every failure as ImageFileError."""

    def __init__(self, path: Path, what: str):
        self.path, self.what = Path(path), what
        self.img: Image.Image | None = None

    def __enter__(self) -> Image.Image:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self.img = Image.open(self.path)
        except FileNotFoundError as exc:
            raise ImageFileError(f"{self.what} file is missing", where=str(self.path),
                                 fix="check the path, or run the stage that writes it") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
            raise _unreadable(self.path, self.what, exc) from exc
        width, height = self.img.size
        limit = max_pixels()
        if width * height > limit:
            self.img.close()
            raise ImageFileError(f"{self.what} is {width}x{height} = {width * height:,} pixels, over the limit of "
                                 f"{limit:,}", where=str(self.path),
                                 fix=f"replace it with a smaller image (a mask or reference needs no more than the "
                                     f"page's size), or raise {MAX_PIXELS_ENV} if it really is that large")
        return self.img

    def __exit__(self, *exc: object) -> None:
        if self.img is not None:
            self.img.close()


def _normalised(img: Image.Image, path: Path, what: str) -> Image.Image:
    if img.mode in _PLAIN:
        return img.copy()
    if img.mode in _SIXTEEN_BIT:
        values = np.asarray(img, dtype=np.float64)
        scale = 257.0 if values.max(initial=0) > 255 else 1.0
        return Image.fromarray(np.clip(np.round(values / scale), 0, 255).astype(np.uint8), mode="L")
    if img.mode in _CONVERTIBLE:
        target = _CONVERTIBLE[img.mode]
        if img.mode == "P" and "transparency" not in img.info:
            target = "RGB"
        return img.convert(target)
    raise ImageFileError(f"{what} has pixel mode {img.mode!r}, which artfarm cannot use", where=str(path),
                         fix="save it as an 8-bit RGB (or greyscale) PNG")


def _unreadable(path: Path, what: str, exc: BaseException) -> ImageFileError:
    if isinstance(exc, UnidentifiedImageError):
        what_went_wrong = f"{what} is not an image file Pillow can read"
    elif "truncated" in str(exc).lower() or isinstance(exc, EOFError):
        what_went_wrong = f"{what} is cut short (truncated: {exc})"
    else:
        what_went_wrong = f"{what} cannot be read as an image ({type(exc).__name__}: {exc})"
    return ImageFileError(what_went_wrong, where=str(path),
                          fix="replace it with a valid PNG or JPEG (re-export it, or re-render the stage that wrote it)")
