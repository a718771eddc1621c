"""A weight-free consistency score: does each character on a page keep the colours (and, where the
review located it, the look) of its character sheet, and does it stay alike from page to page?

What it measures, per character on a page:

- ``score`` (0..1): the sheet's palette found in the page's region for that character. The sheet
  (``RenderSpec.refs.characters``, else the bible's ``refs``, else ``bible/character_refs/<id>/*.png``)
  is reduced to its main colours (paper-white left out) with their shares; each colour counts as
  present when at least ``COVERAGE`` x its share of the region's pixels lie within ``MATCH_DISTANCE``
  of it (RGB), partly present below that. The score is the share-weighted presence.
- the region: the boxes of the review's defects whose label names the character (id or name),
  scaled to the measured image; else the whole image.
- ``sheet_hash_similarity``: 1 - Hamming distance / 64 between the perceptual hashes (imagehash
  ``phash``) of the located crop and of the sheet; only when a box located the character (a whole
  page's hash says nothing about one figure in it).
- ``across_pages`` (book-wide, ``artfarm status --consistency``): how alike the character's palette
  presence is on this page and on the book's other pages (1 - mean absolute difference).

What it cannot see: shape, face, proportions, clothing cut, pose, or which figure is which when two
characters share colours; a background that happens to hold the sheet's colours counts as the
character (with a whole-image region, a red barn keeps a red-coated bear "on model"). It catches a
character drawn in the wrong colours, or missing from the page. The vlm reviewer's per-character
"same character as the sheet?" judgement (``vlm_same``) is the check that sees content.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image
from pydantic import ValidationError

from artfarm.book.loader import LoadedBook
from artfarm.images import image_size, load_image
from artfarm.models.renderspec import RenderSpec
from artfarm.models.review import (BookConsistency, CharacterConsistency, ConsistencyRecord, Defect, PageConsistency,
                                   ReviewRecord)

CONSISTENCY_VERSION = "1"
DEFAULT_THRESHOLD = 0.5  # a page whose character scores below this is listed as an outlier
PALETTE_COLOURS = 6  # main colours kept from a sheet
MIN_COLOUR_SHARE = 0.04  # sheet colours smaller than this share are dropped (outline noise)
MATCH_DISTANCE = 48.0  # RGB distance within which a region pixel counts as a sheet colour
COVERAGE = 0.02  # the character is expected to fill at least this share of its region
PAPER = 232  # sheet pixels with every channel above this are paper, not character
WORK_EDGE = 256  # images are measured at most this large (colour shares barely change)


@dataclass(frozen=True)
class SheetPalette:
    colours: np.ndarray  # k x 3, RGB
    shares: np.ndarray  # k, summing to 1
    phash: imagehash.ImageHash | None


def sheet_paths(book: LoadedBook, spec: RenderSpec, character: str) -> list[Path]:
    """The character's sheets: the spec's refs, else the bible's, else bible/character_refs/<id>/*.png."""
    who = book.characters.by_id().get(character)
    rels = spec.refs.characters.get(character) or (who.refs if who else [])
    paths = [book.resolve(rel, what="reference") for rel in rels]
    if not paths:
        paths = [Path(p) for p in sorted(glob.glob(str(book.root / "bible" / "character_refs" / character / "*.png")))]
    return [p for p in paths if p.is_file()]


def sheet_palette(paths: list[Path]) -> SheetPalette | None:
    """The sheets' main colours (paper left out) and their shares; None when the sheets hold no ink."""
    pixels = []
    first: Image.Image | None = None
    for path in paths:
        img = _small(load_image(path, what="character sheet", mode="RGB"))
        first = first or img
        rgb = np.asarray(img).reshape(-1, 3)
        pixels.append(rgb[~(rgb > PAPER).all(axis=1)])
    ink = np.concatenate(pixels) if pixels else np.zeros((0, 3), np.uint8)
    if len(ink) == 0:
        return None
    strip = Image.fromarray(ink.reshape(1, -1, 3).astype(np.uint8))
    quantised = strip.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT)
    table = np.asarray(quantised.getpalette()[:3 * PALETTE_COLOURS], dtype=np.float64).reshape(-1, 3)
    counts = np.bincount(np.asarray(quantised).ravel(), minlength=PALETTE_COLOURS)[:len(table)]
    shares = counts / counts.sum()
    keep = shares >= MIN_COLOUR_SHARE
    return SheetPalette(colours=table[keep], shares=shares[keep] / shares[keep].sum(),
                        phash=imagehash.phash(first) if first is not None else None)


def palette_presence(region: np.ndarray, palette: SheetPalette) -> list[float]:
    """Per sheet colour, 0..1: how much of it the region holds, against COVERAGE x its share."""
    pixels = region.reshape(-1, 3).astype(np.float64)
    if len(pixels) == 0:
        return [0.0] * len(palette.shares)
    distances = np.linalg.norm(pixels[:, None, :] - palette.colours[None, :, :], axis=2)
    found = (distances <= MATCH_DISTANCE).mean(axis=0)
    return [float(min(1.0, f / (COVERAGE * s))) for f, s in zip(found, palette.shares)]


def region_pixels(crops: list[Image.Image]) -> np.ndarray:
    """The RGB pixels of the crops (each at most WORK_EDGE), as one N x 3 array."""
    return np.concatenate([np.asarray(_small(c.convert("RGB"))).reshape(-1, 3) for c in crops])


def sheet_score(presence: list[float], palette: SheetPalette) -> float:
    return round(float(np.dot(presence, palette.shares)), 4)


def located_boxes(defects: list[Defect], character: str, name: str, scale: tuple[float, float]) -> list[tuple[int, int, int, int]]:
    """Boxes of defects whose label names the character, scaled from the reviewed image to the measured one."""
    words = {character.lower(), name.lower()}
    return [(round(d.box[0] * scale[0]), round(d.box[1] * scale[1]), round(d.box[2] * scale[0]), round(d.box[3] * scale[1]))
            for d in defects if any(w and w in d.label.lower() for w in words)]


def measure_page(book: LoadedBook, spec: RenderSpec, image: Path, *, defects: list[Defect] = (),
                 reviewed_size: tuple[int, int] | None = None, image_label: str | None = None,
                 vlm_same: dict[str, bool] | None = None) -> ConsistencyRecord:
    """The consistency block of one page's art ``image`` (``defects`` boxes are in ``reviewed_size`` pixels)."""
    art = load_image(image, what="page art", mode="RGB")
    scale = ((art.width / reviewed_size[0], art.height / reviewed_size[1]) if reviewed_size else (1.0, 1.0))
    people = book.characters.by_id()
    results: list[CharacterConsistency] = []
    notes: list[str] = []
    for cast in spec.characters:
        who = people.get(cast.id)
        palette = sheet_palette(sheet_paths(book, spec, cast.id))
        if palette is None:
            notes.append(f"{cast.id}: no character sheet with ink; not measured")
            continue
        boxes = located_boxes(list(defects), cast.id, who.name if who else cast.id, scale)
        crops = [art.crop(_clamp(b, art.size)) for b in boxes] or [art]
        presence = palette_presence(region_pixels(crops), palette)
        hash_similarity = None
        if boxes and palette.phash is not None:
            hash_similarity = float(np.mean([1 - (imagehash.phash(c) - palette.phash) / 64 for c in crops]))
        results.append(CharacterConsistency(
            character=cast.id, score=sheet_score(presence, palette),
            region="boxes" if boxes else "whole image", palette_presence=[round(p, 4) for p in presence],
            sheet_hash_similarity=None if hash_similarity is None else round(hash_similarity, 4),
            vlm_same=(vlm_same or {}).get(cast.id)))
    return ConsistencyRecord(version=CONSISTENCY_VERSION, image=image_label or image.name, characters=results,
                             score=min((c.score for c in results), default=None), notes=notes)


def measure_book(book: LoadedBook, threshold: float = DEFAULT_THRESHOLD) -> BookConsistency:
    """Every art page's latest art (final/final.png, else selected/selected.png) measured, with outliers."""
    measured: dict[int, ConsistencyRecord] = {}
    rows: dict[int, PageConsistency] = {}
    for page in book.art_pages():
        spec, page_dir = book.specs.get(page), book.page_dir(page)
        art = next((p for p in (page_dir / "final" / "final.png", page_dir / "selected" / "selected.png") if p.is_file()), None)
        if spec is None or art is None:
            rows[page] = PageConsistency(page=page, reason="no valid RenderSpec" if spec is None else "no art yet")
            continue
        review = _read_review(page_dir / "review.json")
        selected = page_dir / "selected" / "selected.png"
        chosen = (next((c for c in review.candidates if review.selection and c.index == review.selection.index), None)
                  if review else None)
        measured[page] = measure_page(book, spec, art, defects=review.selected_defects() if review else [],
                                      reviewed_size=image_size(selected, what="selected art") if selected.is_file() else None,
                                      image_label=art.relative_to(page_dir).as_posix(),
                                      vlm_same={m.character: m.same for m in chosen.sheet_matches} if chosen else None)
    for page, record in with_across_pages(measured).items():
        low = [f"{c.character} {c.score:.2f}" for c in record.characters if c.score < threshold]
        rows[page] = PageConsistency(page=page, consistency=record, outlier=bool(low),
                                     reason=f"under {threshold:g}: {', '.join(low)}" if low else "")
    pages = [rows[p] for p in sorted(rows)]
    return BookConsistency(book=book.id, threshold=threshold, pages=pages, outliers=[r.page for r in pages if r.outlier])


def with_across_pages(records: dict[int, ConsistencyRecord]) -> dict[int, ConsistencyRecord]:
    """Each character's ``across_pages``: 1 - mean |presence difference| to the same character on other pages."""
    by_character: dict[str, dict[int, list[float]]] = {}
    for page, record in records.items():
        for c in record.characters:
            by_character.setdefault(c.character, {})[page] = c.palette_presence
    out = {}
    for page, record in records.items():
        updated = []
        for c in record.characters:
            others = [v for p, v in by_character[c.character].items() if p != page and len(v) == len(c.palette_presence)]
            across = (round(1 - float(np.mean([np.mean(np.abs(np.subtract(c.palette_presence, o))) for o in others])), 4)
                      if others and c.palette_presence else None)
            updated.append(c.model_copy(update={"across_pages": across}))
        out[page] = record.model_copy(update={"characters": updated})
    return out


def _read_review(path: Path) -> ReviewRecord | None:
    try:
        return ReviewRecord.model_validate_json(path.read_bytes()) if path.is_file() else None
    except (ValidationError, ValueError, OSError):
        return None


def _small(img: Image.Image) -> Image.Image:
    if max(img.size) <= WORK_EDGE:
        return img
    copy = img.copy()
    copy.thumbnail((WORK_EDGE, WORK_EDGE), Image.Resampling.BOX)
    return copy


def _clamp(box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    x0, y0 = max(0, min(box[0], box[2])), max(0, min(box[1], box[3]))
    x1, y1 = min(size[0], max(box[0], box[2])), min(size[1], max(box[1], box[3]))
    return (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))
