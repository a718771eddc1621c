"""How well does the weight-free consistency score (artfarm/review/consistency.py) tell an on-model
character from an off-model one? Constructed cases, printed figures.

    python benchmarks/consistency_agreement.py            # 200 cases
    python benchmarks/consistency_agreement.py --cases 40 --seed 3

Each case: a character sheet (the figure the proof renderer draws, in the character's own body and
face colours, on paper) and a page (a sky-and-ground scene in random colours with the figure at a
random place and size, plus a second figure of another character). Half the pages draw the character
on model; the other half draw it off model (its body colour swapped for a hue far away, as a model
that forgot the sheet would). The score is measured over the whole page (no review boxes) and over the
figure's box; agreement is the share of cases the threshold classifies as labelled, and AUC is the
chance an on-model page outscores an off-model one.
"""

from __future__ import annotations

import argparse
import colorsys
import random
import sys
import tempfile
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageDraw
from pydantic import BaseModel

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from artfarm.review.consistency import (DEFAULT_THRESHOLD, palette_presence, region_pixels, sheet_palette,  # noqa: E402
                                        sheet_score)


class RegionFigures(BaseModel):
    agreement: float
    auc: float
    on_model_mean: float
    off_model_mean: float


class AgreementReport(BaseModel):
    cases: int
    threshold: float
    whole_image: RegionFigures
    figure_box: RegionFigures
    hash_similarity_on: float
    hash_similarity_off: float


def hue_colour(hue: float, light: float = 0.5, sat: float = 0.65) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, light, sat)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_figure(draw: ImageDraw.ImageDraw, x: int, feet: int, height: int, body: tuple[int, int, int],
                face: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """The proof renderer's figure (body ellipse, head), in given colours; returns its box."""
    body_w, head = max(4, height // 3), max(3, height // 5)
    outline = tuple(c // 2 for c in body)
    draw.ellipse([x - body_w // 2, feet - int(height * 0.7), x + body_w // 2, feet], fill=body, outline=outline, width=2)
    draw.ellipse([x - head, feet - height, x + head, feet - height + 2 * head], fill=face, outline=outline, width=2)
    return x - max(head, body_w // 2) - 2, feet - height - 2, x + max(head, body_w // 2) + 2, feet + 2


def make_case(rng: random.Random, off_model: bool, size: int = 384) -> tuple[Image.Image, Image.Image, tuple[int, int, int, int]]:
    """(sheet, page, figure box) of one constructed case."""
    hue = rng.random()
    body, face = hue_colour(hue), hue_colour(hue + 0.08, 0.82, 0.5)
    sheet = Image.new("RGB", (256, 256), (250, 248, 240))
    draw_figure(ImageDraw.Draw(sheet), 128, 236, 220, body, face)
    sky, ground = hue_colour(rng.random(), 0.75, 0.4), hue_colour(rng.random(), 0.35, 0.35)
    ramp = np.linspace(0, 1, size)[:, None, None]
    top = np.array(sky, dtype=np.float64)
    page = Image.fromarray((top * (1 - ramp * 0.3)).repeat(size, axis=1).astype(np.uint8))
    draw = ImageDraw.Draw(page)
    horizon = int(size * rng.uniform(0.45, 0.7))
    draw.rectangle([0, horizon, size, size], fill=ground)
    other = hue_colour(rng.random())
    draw_figure(draw, int(size * rng.uniform(0.6, 0.85)), size - 20, int(size * rng.uniform(0.2, 0.4)), other,
                hue_colour(rng.random(), 0.8, 0.4))
    drawn_body = hue_colour(hue + rng.uniform(0.3, 0.7)) if off_model else body
    box = draw_figure(draw, int(size * rng.uniform(0.15, 0.45)), size - 10, int(size * rng.uniform(0.25, 0.55)),
                      drawn_body, face)
    return sheet, page, box


def figures(scores: list[float], labels: list[bool], threshold: float) -> RegionFigures:
    on = [s for s, on in zip(scores, labels) if on]
    off = [s for s, on in zip(scores, labels) if not on]
    agree = np.mean([(s >= threshold) == on for s, on in zip(scores, labels)])
    auc = np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a in on for b in off]) if on and off else float("nan")
    return RegionFigures(agreement=round(float(agree), 3), auc=round(float(auc), 3),
                         on_model_mean=round(float(np.mean(on)), 3), off_model_mean=round(float(np.mean(off)), 3))


def measure(cases: int, seed: int = 0, threshold: float = DEFAULT_THRESHOLD) -> AgreementReport:
    rng = random.Random(seed)
    whole, boxed, labels, hash_on, hash_off = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(cases):
            on_model = n % 2 == 0
            sheet, page, box = make_case(rng, off_model=not on_model)
            path = Path(tmp) / f"sheet_{n}.png"
            sheet.save(path)
            palette = sheet_palette([path])
            assert palette is not None and palette.phash is not None
            crop = page.crop(box)
            whole.append(sheet_score(palette_presence(region_pixels([page]), palette), palette))
            boxed.append(sheet_score(palette_presence(region_pixels([crop]), palette), palette))
            (hash_on if on_model else hash_off).append(1 - (imagehash.phash(crop) - palette.phash) / 64)
            labels.append(on_model)
    return AgreementReport(cases=cases, threshold=threshold, whole_image=figures(whole, labels, threshold),
                           figure_box=figures(boxed, labels, threshold),
                           hash_similarity_on=round(float(np.mean(hash_on)), 3),
                           hash_similarity_off=round(float(np.mean(hash_off)), 3))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = measure(args.cases, args.seed, args.threshold)
    if args.json:
        print(report.model_dump_json(indent=2))
        return 0
    print(f"{report.cases} constructed cases (half on model, half off), threshold {report.threshold:g}")
    for name, f in (("whole image", report.whole_image), ("figure box", report.figure_box)):
        print(f"  {name:12s} agreement {f.agreement:.3f}  AUC {f.auc:.3f}  mean on-model {f.on_model_mean:.3f}  "
              f"off-model {f.off_model_mean:.3f}")
    print(f"  phash similarity of the figure box to the sheet: on-model {report.hash_similarity_on:.3f}, "
          f"off-model {report.hash_similarity_off:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
