"""sRGB to CMYK through a real colour-managed transform (littleCMS, through Pillow's ImageCms).

Pillow's ImageCms is already a dependency and wraps littleCMS, so no system tool is needed
(Ghostscript would need installing and a subprocess per file). The CMYK profile is shipped in
data/ (see data/ICC-SOURCE.md): FOGRA39 characterisation data, built with a 240 % total ink
limit, so converted art stays within IngramSpark's advised ink.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from PIL import Image, ImageCms

from artfarm.layout.autoplace import hex_to_rgb

PROFILE_FILE = "data/artfarm_cmyk_fogra39_240.icc"
OUTPUT_CONDITION = "FOGRA39"  # the characterisation the output intent names (ISO 12647-2 coated paper)
OUTPUT_CONDITION_INFO = "Coated FOGRA39 (ISO 12647-2:2004), 240% total ink"
REGISTRY = "http://www.color.org"


def icc_bytes() -> bytes:
    return resources.files("artfarm.layout").joinpath(PROFILE_FILE).read_bytes()


@cache
def _transform() -> ImageCms.ImageCmsTransform:
    cmyk = ImageCms.ImageCmsProfile(ImageCms.core.profile_frombytes(icc_bytes()))
    return ImageCms.buildTransform(ImageCms.createProfile("sRGB"), cmyk, "RGB", "CMYK",
                                   renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                                   flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)


def to_cmyk(img: Image.Image) -> Image.Image:
    """An RGB image in the print profile's CMYK."""
    return ImageCms.applyTransform(img.convert("RGB"), _transform())


def hex_to_cmyk(colour: str) -> tuple[float, float, float, float]:
    """A #RRGGBB colour as CMYK fractions 0..1, through the same transform as the art."""
    pixel = to_cmyk(Image.new("RGB", (1, 1), hex_to_rgb(colour))).getpixel((0, 0))
    return tuple(round(v / 255.0, 4) for v in pixel)
