"""Stand-in art for laying out a book before its final art exists (``--placeholders``).

It is unmistakable on purpose: a soft gradient crossed by a large X, with a label
naming the page and "PLACEHOLDER", so a proof can never be mistaken for print art.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from artfarm.layout.art import PlaceholderSpec
from artfarm.layout.fonts import shipped_families

PLACEHOLDER_PPI = 300


def make_placeholder(spec: PlaceholderSpec) -> Image.Image:
    rng = np.random.default_rng(spec.seed)
    top, bottom = rng.integers(150, 235, size=3), rng.integers(110, 200, size=3)
    ramp = np.linspace(0.0, 1.0, spec.height, dtype=np.float32)[:, None]
    column = (top[None, :] * (1 - ramp) + bottom[None, :] * ramp).astype(np.uint8)  # height x 3
    img = Image.fromarray(np.ascontiguousarray(np.broadcast_to(column[:, None, :], (spec.height, spec.width, 3))), "RGB")
    draw = ImageDraw.Draw(img)
    w, h = spec.width, spec.height
    line = max(2, min(w, h) // 150)
    ink = (90, 90, 110)
    draw.line([(0, 0), (w, h)], fill=ink, width=line)
    draw.line([(0, h), (w, 0)], fill=ink, width=line)
    draw.rectangle([line, line, w - line, h - line], outline=ink, width=line)
    font = _label_font(max(12, min(w, h) // 14))
    label = f"PLACEHOLDER\n{spec.label}"
    box = draw.multiline_textbbox((0, 0), label, font=font, align="center")
    tw, th = box[2] - box[0], box[3] - box[1]
    x, y = (w - tw) / 2, (h - th) / 2
    pad = line * 6
    draw.rectangle([x - pad, y - pad, x + tw + pad, y + th + pad], fill=(255, 255, 255), outline=ink, width=line)
    draw.multiline_text((x - box[0], y - box[1]), label, font=font, fill=(200, 30, 30), align="center")
    return img


def _label_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """The shipped book font when FreeType is available, else Pillow's own."""
    for family, folder in shipped_families().items():
        try:
            return ImageFont.truetype(str(folder / f"{family}-Bold.ttf"), size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)
