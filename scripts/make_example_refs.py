"""Draw the example book's small reference images (style swatches, character turnarounds).

Deterministic, Pillow only. They are stand-ins that show the bible's shape; replace them with
real reference art for a real book. Run: python scripts/make_example_refs.py
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

BOOK = Path(__file__).resolve().parent.parent / "books" / "gingerbear_01"
PALETTE = ["#F4F1EA", "#C9D9E6", "#3F6650", "#6B4F3A", "#F2C14E", "#C8702E", "#B5384B"]
PAPER = (250, 243, 224)


def wash(size: int, seed: int) -> Image.Image:
    rng = random.Random(seed)
    img = Image.new("RGB", (size, size), PAPER)
    layer = Image.new("RGB", (size, size), PAPER)
    draw = ImageDraw.Draw(layer)
    for _ in range(28):
        colour = PALETTE[rng.randrange(len(PALETTE))]
        x, y, r = rng.randrange(size), rng.randrange(size), rng.randrange(size // 10, size // 3)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return Image.blend(img, layer.filter(ImageFilter.GaussianBlur(size // 24)), 0.55)


def swatches(size: int) -> Image.Image:
    img = Image.new("RGB", (size, size // 3), PAPER)
    draw = ImageDraw.Draw(img)
    step = size // len(PALETTE)
    for i, colour in enumerate(PALETTE):
        draw.rounded_rectangle((i * step + 6, 12, (i + 1) * step - 6, size // 3 - 12), radius=14, fill=colour)
    return img.filter(ImageFilter.GaussianBlur(1.2))


def turnaround(kind: str, size: int = 384) -> Image.Image:
    """Three views (front, side, back) of a simple figure, so the bible has the right shape."""
    img = Image.new("RGB", (size * 3 // 2, size // 2), PAPER)
    draw = ImageDraw.Draw(img)
    for view in range(3):
        cx, cy = size // 4 + view * size // 2, size // 4
        if kind == "bear":
            body, head = "#6B4F3A", "#7A5A42"
            draw.ellipse((cx - 60, cy - 20, cx + 60, cy + 90), fill=body)
            draw.ellipse((cx - 42, cy - 85, cx + 42, cy - 5), fill=head)
            for ex in (-34, 34):
                draw.ellipse((cx + ex - 14, cy - 92, cx + ex + 14, cy - 64), fill=head)
            draw.rectangle((cx - 44, cy - 14, cx + 44, cy + 2), fill="#B5384B")
            if view == 0:
                draw.ellipse((cx - 16, cy - 40, cx + 16, cy - 16), fill="#E8D3B0")
        elif kind == "ginger":
            dough = "#C8702E"
            draw.ellipse((cx - 30, cy - 80, cx + 30, cy - 20), fill=dough)
            draw.rounded_rectangle((cx - 34, cy - 26, cx + 34, cy + 50), radius=20, fill=dough)
            draw.line((cx - 34, cy - 10, cx - 70, cy + 10), fill=dough, width=18)
            draw.line((cx + 34, cy - 10, cx + 70, cy + 10), fill=dough, width=18)
            draw.line((cx - 16, cy + 44, cx - 26, cy + 92), fill=dough, width=20)
            draw.line((cx + 16, cy + 44, cx + 26, cy + 92), fill=dough, width=20)
            if view == 0:
                for by in (-6, 14, 34):
                    draw.ellipse((cx - 6, cy + by - 6, cx + 6, cy + by + 6), fill="#B5384B")
        else:
            draw.polygon([(cx - 62, cy + 92), (cx + 62, cy + 92), (cx + 40, cy - 20), (cx - 40, cy - 20)], fill="#5B7DB1")
            draw.ellipse((cx - 34, cy - 86, cx + 34, cy - 18), fill="#F1C7A8")
            draw.ellipse((cx - 22, cy - 104, cx + 22, cy - 70), fill="#A9A9A9")
            draw.rectangle((cx - 30, cy + 10, cx + 30, cy + 80), fill="#F4F1EA")
    return img.filter(ImageFilter.GaussianBlur(0.8))


def main() -> None:
    out = {
        "bible/style_refs/washes.png": wash(384, 7),
        "bible/style_refs/palette_swatches.png": swatches(420),
        "bible/character_refs/bear/turnaround.png": turnaround("bear"),
        "bible/character_refs/ginger/turnaround.png": turnaround("ginger"),
        "bible/character_refs/baker/turnaround.png": turnaround("baker"),
    }
    for rel, img in out.items():
        path = BOOK / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        img.quantize(colors=96).save(path, optimize=True)
        print(f"{rel}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
