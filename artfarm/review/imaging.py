"""What a vision model is shown: a downscaled JPEG of the art, never the print file.

Boxes the model draws are in the pixels of the image it saw; ``to_source`` maps them back
to the candidate's own pixels, clipped to the image.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from artfarm.images import load_image


@dataclass(frozen=True)
class PreparedImage:
    jpeg: bytes
    width: int
    height: int
    source_width: int
    source_height: int

    def b64(self) -> str:
        return base64.b64encode(self.jpeg).decode("ascii")

    def to_source(self, box: tuple[float, float, float, float] | list[float]) -> tuple[int, int, int, int] | None:
        """A box in sent-image pixels -> candidate pixels, clipped; None when nothing of it is inside."""
        sx, sy = self.source_width / self.width, self.source_height / self.height
        x0, y0, x1, y1 = box
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        out = (max(0, round(x0 * sx)), max(0, round(y0 * sy)),
               min(self.source_width, round(x1 * sx)), min(self.source_height, round(y1 * sy)))
        return out if out[2] > out[0] and out[3] > out[1] else None


def open_rgb(path: Path) -> Image.Image:
    """An image as RGB (transparency flattened on white); a clear error for a missing or broken file."""
    return load_image(path, mode="RGB")


def prepare_image(path: Path, *, max_edge: int = 1024, quality: int = 85) -> PreparedImage:
    img = open_rgb(path)
    width, height = img.size
    scale = min(1.0, max_edge / max(width, height))
    if scale < 1.0:
        img = img.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return PreparedImage(jpeg=buf.getvalue(), width=img.width, height=img.height, source_width=width, source_height=height)
