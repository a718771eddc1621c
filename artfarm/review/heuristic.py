"""The heuristic reviewer: measured image checks, no model.

Rejects blank, flat or black images (a sampler's NaN output is saved as black) and
near-duplicates within the burst (perceptual hash distance), then scores what a picture
book page needs from a draft:
- calm space: the largest run of low-detail rows (or columns) in the region where the
  layout puts the words, as a share of that region;
- palette: how close the image's colours are to the style pack's palette;
- sharpness: variance of the Laplacian (blurry drafts refine badly).
It ranks the survivors by the weighted total and selects the best, saying why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import imagehash
import numpy as np
from PIL import Image

from artfarm.colours import hex_to_rgb
from artfarm.images import load_image
from artfarm.models.review import CandidateReview, CriterionScore, ReviewerInfo, ReviewRecord, Selection
from artfarm.review.base import Candidate, ReviewContext

HEURISTIC_VERSION = 1
ANALYSIS_SIZE = 256  # images are measured at this size: fast, and stable across draft sizes
WEIGHTS = {"calm_space": 0.4, "palette": 0.3, "sharpness": 0.3}
FLAT_STD = 0.02  # luminance standard deviation (0..1) below which an image is flat
BLACK_MEAN = 0.03
WHITE_MEAN = 0.97
DUPLICATE_DISTANCE = 6  # phash Hamming distance (of 64 bits) at or below which two drafts are the same picture
CALM_DETAIL = 0.035  # mean gradient (0..1) of a row below which it counts as calm
TEXT_BAND = 0.33  # share of the page the text region takes
SHARPNESS_HALF = 0.004  # Laplacian variance that scores 0.5
PALETTE_FAR = 120.0  # mean RGB distance to the palette that scores 0


def create(settings: Any, book: Any) -> "HeuristicReviewer":
    return HeuristicReviewer()


class HeuristicReviewer:
    kind = "heuristic"

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": HEURISTIC_VERSION, "weights": WEIGHTS, "duplicate_distance": DUPLICATE_DISTANCE,
                "flat_std": FLAT_STD, "calm_detail": CALM_DETAIL, "text_band": TEXT_BAND}

    def reference_paths(self, ctx: ReviewContext) -> list[tuple[str | None, str]]:
        return []  # measured checks: no reference pictures

    def review(self, candidates: list[Candidate], ctx: ReviewContext) -> ReviewRecord:
        palette = [hex_to_rgb(c) for c in ctx.pack.pack.palette.values()]
        reviews = score_candidates(candidates, palette, ctx.text_placement, dedupe=ctx.purpose == "draft")
        return decide(ctx.page, reviews, ReviewerInfo(kind=self.kind, prompt_version=str(HEURISTIC_VERSION)))


def score_candidates(candidates: list[Candidate], palette: list[tuple[int, int, int]], placement: str, *,
                     dedupe: bool = True) -> list[CandidateReview]:
    """Scores and rejections; ``dedupe`` drops near-duplicates (a burst), not wanted when comparing a fix with its original."""
    reviews: list[CandidateReview] = []
    kept_hashes: list[tuple[int, imagehash.ImageHash]] = []
    for cand in candidates:
        review = CandidateReview(index=cand.index, file=Path(cand.path).name, seed=cand.seed, sha256=cand.sha256)
        img = load_image(cand.path, what=f"candidate {cand.index}")
        rgb = _analysis_image(img)
        phash = imagehash.phash(img)
        grey = _luminance(rgb)
        blank = blank_reason(grey)
        if blank:
            review.rejected, review.reject_reason = True, blank
            reviews.append(review)
            continue
        duplicate = next(((i, phash - h) for i, h in kept_hashes if phash - h <= DUPLICATE_DISTANCE), None) if dedupe else None
        if duplicate:
            review.rejected = True
            review.reject_reason = f"near-duplicate of candidate {duplicate[0]} (phash distance {duplicate[1]})"
        else:
            kept_hashes.append((cand.index, phash))
        review.scores = {
            "calm_space": calm_space(grey, placement),
            "palette": palette_closeness(rgb, palette),
            "sharpness": sharpness(grey),
        }
        review.total = round(sum(WEIGHTS[k] * s.score for k, s in review.scores.items()), 4)
        reviews.append(review)
    return reviews


def decide(page: int, reviews: list[CandidateReview], reviewer: ReviewerInfo) -> ReviewRecord:
    alive = sorted((r for r in reviews if not r.rejected), key=lambda r: (-r.total, r.index))
    ranking = [r.index for r in alive]
    rejected = [r for r in reviews if r.rejected]
    if not alive:
        return ReviewRecord(page=page, status="rejected_all", reviewer=reviewer, candidates=reviews, ranking=[],
                            notes=["every candidate was rejected; see each reject_reason"])
    best = alive[0]
    parts = ", ".join(f"{name.replace('_', ' ')} {s.score:.2f}" for name, s in best.scores.items())
    runner_up = f"; next best #{alive[1].index} at {alive[1].total:.2f}" if len(alive) > 1 else ""
    dropped = f"; {len(rejected)} rejected ({', '.join(sorted({r.reject_reason.split(' (')[0] for r in rejected if r.reject_reason}))})" if rejected else ""
    rationale = f"highest weighted score {best.total:.2f} ({parts}){runner_up}{dropped}"
    return ReviewRecord(page=page, status="selected", reviewer=reviewer, candidates=reviews, ranking=ranking,
                        selection=Selection(index=best.index, file=best.file, seed=best.seed, rationale=rationale))


def blank_reason(grey: np.ndarray) -> str | None:
    """Blank, black or flat. (An 8-bit image cannot hold NaN; a sampler's NaN output arrives as black.)"""
    mean, std = float(grey.mean()), float(grey.std())
    if mean < BLACK_MEAN and std < 0.05:
        return f"black image (mean luminance {mean:.3f}; NaN output from the sampler looks like this)"
    if mean > WHITE_MEAN and std < 0.05:
        return f"blank white image (mean luminance {mean:.3f})"
    if std < FLAT_STD:
        return f"flat image (luminance spread {std:.3f} < {FLAT_STD})"
    return None


def calm_space(grey: np.ndarray, placement: str) -> CriterionScore:
    """Share of the text region covered by the largest calm band; 'auto' takes the better of top and bottom."""
    if placement == "auto":
        options = [_calm_band(grey, side) for side in ("top", "bottom")]
        score, side = max(options)
        return CriterionScore(score=round(score, 4), reason=f"best calm band for words is at the {side}: {score:.0%} of that region")
    score, side = _calm_band(grey, placement)
    return CriterionScore(score=round(score, 4), reason=f"calm band covers {score:.0%} of the {side} text region")


def _calm_band(grey: np.ndarray, side: str) -> tuple[float, str]:
    height, width = grey.shape
    gy = np.abs(np.diff(grey, axis=0, prepend=grey[:1]))
    gx = np.abs(np.diff(grey, axis=1, prepend=grey[:, :1]))
    detail = gx + gy
    if side in ("top", "bottom"):
        band = max(1, int(height * TEXT_BAND))
        region = detail[:band] if side == "top" else detail[height - band:]
        lines = region.mean(axis=1)
    else:
        band = max(1, int(width * TEXT_BAND))
        region = detail[:, :band] if side == "left" else detail[:, width - band:]
        lines = region.mean(axis=0)
    calm = lines < CALM_DETAIL
    longest = run = 0
    for flag in calm:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    return longest / len(lines), side


def palette_closeness(rgb: np.ndarray, palette: list[tuple[int, int, int]]) -> CriterionScore:
    if not palette:
        return CriterionScore(score=0.5, reason="style pack has no palette; neutral score")
    pixels = rgb.reshape(-1, 3)[::7].astype(np.float32)
    colours = np.array(palette, dtype=np.float32)
    distance = np.sqrt(((pixels[:, None, :] - colours[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
    mean = float(distance.mean())
    score = max(0.0, 1.0 - mean / PALETTE_FAR)
    return CriterionScore(score=round(score, 4), reason=f"mean distance to the nearest palette colour {mean:.0f} (RGB)")


def sharpness(grey: np.ndarray) -> CriterionScore:
    lap = (-4 * grey[1:-1, 1:-1] + grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:])
    variance = float(lap.var())
    score = variance / (variance + SHARPNESS_HALF)
    return CriterionScore(score=round(score, 4), reason=f"Laplacian variance {variance:.5f}")


def _analysis_image(img: Image.Image) -> np.ndarray:
    rgb = img.convert("RGB")
    rgb.thumbnail((ANALYSIS_SIZE, ANALYSIS_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.float32)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)) / 255.0

