"""The heuristic reviewer on constructed images: blank ones, duplicates, busy against calm."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from artfarm.book.loader import load_book
from artfarm.fsio import sha256_file
from artfarm.prompts.compile import compile_prompt
from artfarm.review.base import Candidate, ReviewContext
from artfarm.review.heuristic import HeuristicReviewer
from tests.pipeline_helpers import write_small_book

HONEY, FOREST, SKY, BARK = (242, 193, 78), (79, 122, 90), (167, 199, 231), (107, 79, 58)


def _context(make_book, placement: str = "top") -> ReviewContext:
    book = load_book(write_small_book(make_book, pages=1))
    spec = book.specs[1]
    pack = book.style_packs[spec.style_pack]
    return ReviewContext(book=book, page=1, spec=spec, pack=pack, prompt=compile_prompt(spec, book.characters, pack.pack),
                         text_placement=placement, page_dir=book.page_dir(1))


def _save(tmp_path, images: list[Image.Image]) -> list[Candidate]:
    out = []
    for i, image in enumerate(images):
        path = tmp_path / f"draft_{i:02d}.png"
        image.save(path)
        out.append(Candidate(index=i, path=path, seed=100 + i, sha256=sha256_file(path)))
    return out


def scene(seed: int, calm_top: bool = True, colours=(SKY, FOREST, HONEY, BARK)) -> Image.Image:
    """A plain sky over detailed ground; calm_top=False fills the sky with clutter too."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (256, 256), colours[0])
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 150, 256, 256], fill=colours[1])
    top = 0 if not calm_top else 150
    for _ in range(300 if calm_top else 1500):
        x, y = int(rng.integers(0, 250)), int(rng.integers(top, 250))
        draw.rectangle([x, y, x + 5, y + 5], fill=colours[2 + int(rng.integers(0, 2))])
    return image


@pytest.mark.parametrize("image, reason", [
    (Image.new("RGB", (128, 128), (255, 255, 255)), "blank white image"),
    (Image.new("RGB", (128, 128), (0, 0, 0)), "black image"),
    (Image.new("RGB", (128, 128), (120, 130, 140)), "flat image"),
])
def test_blank_flat_and_black_images_are_rejected(make_book, tmp_path, image, reason):
    candidates = _save(tmp_path, [image, scene(1)])
    record = HeuristicReviewer().review(candidates, _context(make_book))
    assert record.candidates[0].rejected and reason in record.candidates[0].reject_reason
    assert record.status == "selected" and record.selection.index == 1


def test_near_duplicates_in_a_burst_are_dropped(make_book, tmp_path):
    original = scene(7)
    noisy = np.asarray(original, dtype=np.int16) + np.random.default_rng(0).integers(-3, 4, (256, 256, 3))
    twin = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    candidates = _save(tmp_path, [original, twin, scene(8)])
    record = HeuristicReviewer().review(candidates, _context(make_book))
    assert not record.candidates[0].rejected
    assert record.candidates[1].rejected and "near-duplicate of candidate 0" in record.candidates[1].reject_reason
    assert not record.candidates[2].rejected
    assert record.ranking and 1 not in record.ranking


def test_a_calm_text_region_beats_a_busy_one(make_book, tmp_path):
    busy, calm = scene(3, calm_top=False), scene(3, calm_top=True)
    candidates = _save(tmp_path, [busy, calm])
    record = HeuristicReviewer().review(candidates, _context(make_book, placement="top"))
    scores = {c.index: c.scores for c in record.candidates}
    assert scores[1]["calm_space"].score > 0.9 > 0.2 > scores[0]["calm_space"].score
    assert record.selection.index == 1 and record.ranking == [1, 0]
    assert "calm space" in record.selection.rationale
    # the same calm sky is at the top, so a page whose words go at the bottom finds no calm band there
    bottom = HeuristicReviewer().review(candidates, _context(make_book, placement="bottom"))
    assert {c.index: c.scores["calm_space"].score for c in bottom.candidates}[1] < 0.2


def test_palette_closeness_prefers_the_style_pack_colours(make_book, tmp_path):
    on_palette = scene(5)
    off_palette = scene(5, colours=((255, 0, 255), (0, 255, 0), (0, 0, 255), (255, 0, 0)))
    record = HeuristicReviewer().review(_save(tmp_path, [off_palette, on_palette]), _context(make_book))
    palette = {c.index: c.scores["palette"].score for c in record.candidates}
    assert palette[1] > palette[0] + 0.3


def test_sharpness_prefers_the_crisp_image(make_book, tmp_path):
    crisp = scene(9)
    from PIL import ImageFilter

    blurred = crisp.filter(ImageFilter.GaussianBlur(radius=6))
    record = HeuristicReviewer().review(_save(tmp_path, [blurred, crisp]), _context(make_book))
    sharp = {c.index: c.scores["sharpness"].score for c in record.candidates}
    assert sharp[1] > sharp[0]


def test_all_rejected_is_reported_with_reasons(make_book, tmp_path):
    candidates = _save(tmp_path, [Image.new("RGB", (64, 64), (0, 0, 0)), Image.new("RGB", (64, 64), (255, 255, 255))])
    record = HeuristicReviewer().review(candidates, _context(make_book))
    assert record.status == "rejected_all" and record.selection is None
    assert all(c.reject_reason for c in record.candidates)
