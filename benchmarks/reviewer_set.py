"""A small labelled set of constructed images for measuring a reviewer, generated deterministically.

The set is a tiny book (so any reviewer gets a real ReviewContext) plus ``images/`` and
``labels.json``: groups of candidates reviewed together, each image with its expected
verdicts. Constructed cases: a clean storybook-like picture, the same with text drawn on
it, a blank page, an exact duplicate, the same scene in a wrong (neon) palette, and one
with a busy sky where the page's words go (text_space; placement is top).

    python benchmarks/reviewer_set.py OUT_DIR     # write the set to look at it
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

import yaml
from PIL import Image, ImageDraw, ImageFont
from pydantic import Field

from artfarm.fsio import atomic_write_json, atomic_write_text
from artfarm.models.base import StrictModel

SIZE = (512, 512)
BOOK_ID = "reviewer-set"
PALETTE = {"sky": (167, 199, 231), "honey": (242, 193, 78), "forest": (79, 122, 90), "bark": (107, 79, 58),
           "cream": (250, 243, 224), "berry": (181, 73, 91), "ginger": (200, 112, 46)}
NEON = {"sky": (255, 0, 255), "honey": (0, 255, 0), "forest": (0, 255, 255), "bark": (255, 255, 0),
        "cream": (20, 20, 20), "berry": (0, 0, 255), "ginger": (255, 0, 0)}


class LabelledImage(StrictModel):
    file: str = Field(description="Relative to the set folder.")
    expect: dict[str, Literal["pass", "fail"]] = Field(default_factory=dict, description="Criterion -> expected verdict.")
    rejected: bool | None = Field(None, description="Whether the reviewer should reject it (None: no expectation).")
    why: str = ""


class LabelGroup(StrictModel):
    name: str
    candidates: list[LabelledImage]


class LabelSet(StrictModel):
    schema_version: int = 1
    page: int = 1
    groups: list[LabelGroup]


def scene(colours: dict[str, tuple[int, int, int]], variant: int = 0) -> Image.Image:
    """A calm storybook-like picture: sky, hills, a tree and a round bear, with empty sky at the top."""
    img = Image.new("RGB", SIZE, colours["sky"])
    d = ImageDraw.Draw(img)
    d.ellipse((-120, 300, 420, 700), fill=colours["forest"])
    d.ellipse((200, 330, 700, 720), fill=colours["forest"])
    d.rectangle((0, 430, 512, 512), fill=colours["cream"])
    x = 330 - 140 * variant
    d.rectangle((x + 40, 250, x + 60, 380), fill=colours["bark"])
    d.ellipse((x, 170, x + 100, 280), fill=colours["forest"])
    bx = 150 + 160 * variant
    d.ellipse((bx, 330, bx + 110, 440), fill=colours["ginger"])
    d.ellipse((bx + 20, 270, bx + 90, 340), fill=colours["ginger"])
    d.ellipse((bx + 15, 260, bx + 40, 285), fill=colours["bark"])
    d.ellipse((bx + 70, 260, bx + 95, 285), fill=colours["bark"])
    d.ellipse((bx + 35, 295, bx + 43, 303), fill=colours["bark"])
    d.ellipse((bx + 67, 295, bx + 75, 303), fill=colours["bark"])
    d.ellipse((420, 40, 480, 100), fill=colours["honey"])
    d.ellipse((60, 60, 180, 100), fill=colours["cream"])
    return img


def busy_sky(img: Image.Image) -> Image.Image:
    """Confetti over the top third, where the words will be printed: no calm space left for them."""
    img = img.copy()
    d = ImageDraw.Draw(img)
    for i in range(140):
        x, y, size = (i * 97) % SIZE[0], (i * 53) % (SIZE[1] // 3), 6 + (i * 7) % 20
        d.ellipse((x, y, x + size, y + size), fill=((i * 71) % 256, (i * 37) % 256, (i * 113) % 256))
    return img


def with_text(img: Image.Image, words: str, size: int, xy: tuple[int, int]) -> Image.Image:
    img = img.copy()
    d = ImageDraw.Draw(img)
    d.text(xy, words, fill=(30, 30, 30), font=ImageFont.load_default(size=size))
    return img


def build(out: Path) -> Path:
    """Write the set under ``out`` (a book folder) and return it."""
    out = Path(out)
    images = {
        "clean_meadow.png": (scene(PALETTE, 0), "a clean picture"),
        "clean_meadow_copy.png": (scene(PALETTE, 0), "an exact duplicate of clean_meadow"),
        "clean_hill.png": (scene(PALETTE, 1), "a clean picture, another composition"),
        "text_sign.png": (with_text(scene(PALETTE, 0), "OPEN SHOP", 72, (40, 120)), "large words drawn on the sky"),
        "text_small.png": (with_text(scene(PALETTE, 1), "THE END 2026", 30, (300, 460)), "small words in a corner"),
        "blank_white.png": (Image.new("RGB", SIZE, (255, 255, 255)), "a blank page"),
        "blank_grey.png": (Image.new("RGB", SIZE, (128, 128, 128)), "a flat grey page"),
        "neon_meadow.png": (scene(NEON, 0), "the clean composition in a wrong, neon palette"),
        "busy_sky.png": (busy_sky(scene(PALETTE, 0)), "confetti over the sky, where the words go"),
    }
    for name, (img, _) in images.items():
        path = out / "images" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, format="PNG", optimize=False)

    def item(name: str, rejected: bool | None, **expect: str) -> LabelledImage:
        return LabelledImage(file=f"images/{name}", expect=expect, rejected=rejected, why=images[name][1])

    labels = LabelSet(groups=[
        LabelGroup(name="text", candidates=[item("clean_meadow.png", False, no_text="pass"),
                                            item("text_sign.png", True, no_text="fail"),
                                            item("text_small.png", True, no_text="fail")]),
        LabelGroup(name="blank", candidates=[item("blank_white.png", True, scene_match="fail"),
                                             item("clean_hill.png", False, scene_match="pass"),
                                             item("blank_grey.png", True, scene_match="fail")]),
        LabelGroup(name="duplicates", candidates=[item("clean_meadow.png", False),
                                                  item("clean_meadow_copy.png", True),
                                                  item("clean_hill.png", False)]),
        LabelGroup(name="palette", candidates=[item("clean_hill.png", None, palette="pass"),
                                               item("neon_meadow.png", None, palette="fail")]),
        LabelGroup(name="text_space", candidates=[item("clean_meadow.png", None, text_space="pass"),
                                                  item("clean_hill.png", None, text_space="pass"),
                                                  item("text_sign.png", None, text_space="fail"),
                                                  item("busy_sky.png", None, text_space="fail")]),
    ])
    atomic_write_json(out / "labels.json", labels)
    book = {"title": "Reviewer Set", "author": "artfarm benchmarks", "style_pack": "watercolor_whimsy_v1",
            "pages": [{"page": 1, "text": "Bruno sits under the tree.", "placement": "top"}]}
    atomic_write_text(out / "book.yaml", yaml.safe_dump(book, sort_keys=False))
    atomic_write_text(out / "bible" / "characters.yaml", yaml.safe_dump(
        {"characters": [{"id": "bear", "name": "Bruno", "look": "a round ginger bear"}]}, sort_keys=False))
    spec = {"book_id": out.name, "page": 1, "scene": "a ginger bear sits on a green hill beside a tree under a sunny sky",
            "characters": [{"id": "bear", "pose": "sitting", "emotion": "calm"}],
            "camera": {"shot": "wide", "angle": "eye-level", "lens": "35mm"},
            "environment": {"time": "afternoon", "weather": "clear sky", "location": "green hills"},
            "constraints": ["no text", "exactly one character", "calm space at the top for the words"],
            "style_pack": "watercolor_whimsy_v1", "seed": 1}
    atomic_write_text(out / "pages" / "0001" / "renderspec.json", json.dumps(spec, indent=2))
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benchmarks/reviewer_set.py OUT_DIR")
    print(build(Path(sys.argv[1]) / BOOK_ID))
