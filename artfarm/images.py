"""Small image helpers shared by the reviewers and the layout."""

from __future__ import annotations

from PIL import Image


def flatten_rgb(img: Image.Image) -> Image.Image:
    """RGB with any transparency composited on white paper (how it will print)."""
    if img.mode in ("RGBA", "LA", "P"):
        rgba = img.convert("RGBA")
        paper = Image.new("RGB", rgba.size, (255, 255, 255))
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    return img.convert("RGB")
