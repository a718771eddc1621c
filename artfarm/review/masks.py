"""From defects to inpaint jobs: a feathered mask at the image's size, a prompt and a denoise per defect.

A defect's box (from the reviewer) or a mask image a person or agent put in
``pages/NNNN/masks/`` becomes a soft-edged mask: full strength over the defect, fading to
nothing over ``feather`` pixels outside it, clipped to the image. An optional sidecar
``masks/<name>.json`` gives a hand mask its fix prompt and severity.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from pydantic import Field

from artfarm.book.files import load_model
from artfarm.book.paths import resolve_inside
from artfarm.errors import BadInputError, ValidationFailed
from artfarm.images import image_size, load_image
from artfarm.models.base import StrictModel
from artfarm.models.renderspec import InpaintOverrides
from artfarm.models.review import Defect
from artfarm.prompts.compile import CompiledPrompt, _dedupe

SEVERITY_DENOISE = {"minor": 0.45, "major": 0.7}
MASK_SUFFIXES = (".png", ".webp", ".jpg", ".jpeg")


class MaskNote(StrictModel):
    """masks/<name>.json beside a hand-made mask."""

    label: str | None = None
    fix_prompt: str = ""
    severity: Literal["minor", "major"] = "major"
    denoise: float | None = Field(None, gt=0, le=1)


class InpaintPlan(StrictModel):
    """One inpaint job, as the inpaint stage records it (mask file, prompt and result are added there)."""

    index: int
    source: Literal["defect", "mask_file"]
    label: str
    box: tuple[int, int, int, int] = Field(description="Bounding box of the mask at full strength, image pixels.")
    mask_file: str | None = Field(None, description="The hand-made mask it came from, relative to the page folder.")
    fix_prompt: str
    positive: str
    negative: str
    denoise: float = Field(gt=0, le=1)
    severity: Literal["minor", "major"]


def feather_radius(size: tuple[int, int]) -> int:
    """About 2% of the shorter side: wide enough to blend, narrow enough to stay local."""
    return max(2, round(min(size) * 0.02))


def clip_box(box: tuple[int, int, int, int], size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    x0, y0, x1, y1 = box
    x0, x1 = sorted((x0, x1))
    y0, y1 = sorted((y0, y1))
    out = (max(0, x0), max(0, y0), min(size[0], x1), min(size[1], y1))
    return out if out[2] > out[0] and out[3] > out[1] else None


def box_mask(size: tuple[int, int], box: tuple[int, int, int, int], *, feather: int | None = None) -> Image.Image:
    """Mode "L" mask of ``size``: 255 over the box (clipped to the image), fading out over ``feather`` px."""
    clipped = clip_box(box, size)
    if clipped is None:
        raise BadInputError(f"defect box {tuple(box)} lies outside the {size[0]}x{size[1]} image",
                            fix="give the box in the image's own pixels (x0, y0, x1, y1)")
    hard = Image.new("L", size, 0)
    ImageDraw.Draw(hard).rectangle((clipped[0], clipped[1], clipped[2] - 1, clipped[3] - 1), fill=255)
    return _feather(hard, feather if feather is not None else feather_radius(size))


def mask_from_file(path: Path, size: tuple[int, int], *, feather: int | None = None) -> Image.Image:
    """A hand-made mask (white = repaint, or transparency = repaint-free) scaled to ``size`` and feathered."""
    img = load_image(path, what="mask")
    if img.mode in ("RGBA", "LA") and img.getchannel("A").getextrema() != (255, 255):
        gray = img.getchannel("A")
    else:
        gray = img.convert("L")
    if gray.size != size:
        gray = gray.resize(size, Image.Resampling.BILINEAR)
    hard = gray.point(lambda v: 255 if v >= 128 else 0)
    if hard.getbbox() is None:
        raise BadInputError("mask image is empty (no white area)", where=str(path),
                            fix="paint the area to repaint white, or delete the file")
    return _feather(hard, feather if feather is not None else feather_radius(size))


def _feather(hard: Image.Image, feather: int) -> Image.Image:
    """Grow the hard mask by about ``feather`` and blur it: 255 over the original area, 0 some 2x``feather`` out.

    The canvas is padded by repeating the border pixels, so a defect touching the edge of
    the image keeps full strength up to that edge.
    """
    if feather <= 0:
        return hard
    pad = 3 * feather
    canvas = Image.fromarray(np.pad(np.asarray(hard), pad, mode="edge"))
    grown = canvas.filter(ImageFilter.GaussianBlur(feather / 2)).point(lambda v: 255 if v > 3 else 0)
    soft = grown.filter(ImageFilter.GaussianBlur(feather / 3))
    return soft.crop((pad, pad, pad + hard.width, pad + hard.height))


def denoise_for(severity: str, *, requested: float | None = None, override: InpaintOverrides | None = None) -> float:
    """The defect's own denoise, else the RenderSpec's inpaint override, else by severity (major repaints more)."""
    if requested is not None:
        return requested
    if override is not None and override.denoise is not None:
        return override.denoise
    return SEVERITY_DENOISE[severity]


def inpaint_prompts(fix_prompt: str, prompt: CompiledPrompt) -> tuple[str, str]:
    """The fix first, then the page's terms (style, constraints); the page's negative prompt unchanged."""
    positive = _dedupe([t for t in [fix_prompt, *prompt.positive_terms] if t.strip()])
    return ", ".join(positive), prompt.negative


def plan_inpaint(image: Path, defects: list[Defect], prompt: CompiledPrompt, *, masks_dir: Path | None = None,
                 override: InpaintOverrides | None = None, feather: int | None = None) -> list[tuple[InpaintPlan, Image.Image]]:
    """One job per defect, then one per hand-made mask in ``masks_dir``, each with its mask image."""
    size = image_size(image, what="image to inpaint")
    jobs: list[tuple[InpaintPlan, Image.Image]] = []
    for defect in defects:
        if clip_box(defect.box, size) is None:
            continue
        mask = box_mask(size, defect.box, feather=feather)
        positive, negative = inpaint_prompts(defect.fix_prompt, prompt)
        jobs.append((InpaintPlan(index=len(jobs), source="defect", label=defect.label, box=clip_box(defect.box, size),
                                 fix_prompt=defect.fix_prompt, positive=positive, negative=negative,
                                 denoise=denoise_for(defect.severity, requested=defect.denoise, override=override),
                                 severity=defect.severity), mask))
    for path in hand_masks(masks_dir):
        note = _note_for(path)
        mask = mask_from_file(path, size, feather=feather)
        positive, negative = inpaint_prompts(note.fix_prompt, prompt)
        hard_box = mask.point(lambda v: 255 if v >= 250 else 0).getbbox() or mask.getbbox()
        jobs.append((InpaintPlan(index=len(jobs), source="mask_file", label=note.label or path.stem, box=hard_box,
                                 mask_file=f"masks/{path.name}", fix_prompt=note.fix_prompt, positive=positive,
                                 negative=negative, denoise=denoise_for(note.severity, requested=note.denoise, override=override),
                                 severity=note.severity), mask))
    return jobs


def hand_masks(masks_dir: Path | None) -> list[Path]:
    """The page's hand-made masks; one that resolves outside the page folder (a symlink) is refused."""
    if masks_dir is None or not Path(masks_dir).is_dir():
        return []
    masks_dir = Path(masks_dir)
    found = sorted(p for p in masks_dir.iterdir() if p.suffix.lower() in MASK_SUFFIXES and p.is_file())
    for path in found:
        resolve_inside(masks_dir.parent, f"{masks_dir.name}/{path.name}", what="mask")
    return found


def _note_for(mask: Path) -> MaskNote:
    sidecar = mask.with_suffix(".json")
    if not sidecar.is_file():
        return MaskNote()
    note, findings = load_model(sidecar, MaskNote, display=f"masks/{sidecar.name}")
    if note is None:
        raise ValidationFailed(findings, where=str(sidecar))
    return note


def mask_png(mask: Image.Image) -> bytes:
    """PNG bytes of a mask, for fsio.atomic_write_bytes."""
    buf = io.BytesIO()
    mask.save(buf, format="PNG")
    return buf.getvalue()
