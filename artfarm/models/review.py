"""review.json: every candidate's scores and reasons, the reviewer, the selection and defects."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from artfarm.models.base import StrictModel

REVIEW_SCHEMA_VERSION = 1


class Defect(StrictModel):
    label: str
    box: tuple[int, int, int, int] = Field(description="x0, y0, x1, y1 in the candidate image's pixels.")
    fix_prompt: str = ""
    severity: Literal["minor", "major"] = "major"
    denoise: float | None = Field(None, gt=0, le=1)


class CriterionScore(StrictModel):
    score: float = Field(ge=0, le=1)
    reason: str = ""


class SheetMatch(StrictModel):
    """A vision reviewer's judgement: is this the same character as on its sheet?"""

    character: str
    same: bool
    reason: str = ""


class CandidateReview(StrictModel):
    index: int
    file: str
    seed: int | None = None
    sha256: str
    scores: dict[str, CriterionScore] = Field(default_factory=dict)
    total: float = 0.0
    rejected: bool = False
    reject_reason: str | None = None
    defects: list[Defect] = Field(default_factory=list)
    raw_answer: str | None = Field(None, description="The reviewer's raw reply (vision LLM), kept verbatim.")
    sheet_matches: list[SheetMatch] = Field(default_factory=list, description="Per character: the same character as "
                                            "its sheet? (vlm reviewer only).")


class ReviewerInfo(StrictModel):
    kind: str
    model: str | None = None
    digest: str | None = None
    prompt_version: str = "1"


class PairwiseComparison(StrictModel):
    a: int
    b: int
    winner_ab: int | None = Field(None, description="Winner when shown a first.")
    winner_ba: int | None = Field(None, description="Winner when shown b first.")
    outcome: Literal["a", "b", "tie"]


class ReviewAnswer(StrictModel):
    """One raw reply of a model reviewer, kept verbatim, with why it was not used (if it was not)."""

    purpose: Literal["verdict", "pairwise", "critique"]
    candidate: int | None = Field(None, description="Candidate index judged (verdict, critique).")
    order: list[int] | None = Field(None, description="Candidate indexes in the order shown (pairwise).")
    attempt: int = Field(ge=1)
    raw: str
    error: str | None = Field(None, description="Why this answer was rejected and asked again; null when it was used.")


class Selection(StrictModel):
    index: int
    file: str
    seed: int | None = None
    rationale: str
    decided_by: Literal["reviewer", "person", "agent"] = "reviewer"


class CharacterConsistency(StrictModel):
    """One character on one page, measured without model weights (artfarm/review/consistency.py)."""

    character: str
    score: float = Field(ge=0, le=1, description="Share-weighted presence of the sheet's main colours in the region.")
    region: Literal["boxes", "whole image"] = Field(description="Where it was measured: the review's boxes naming "
                                                    "the character, else the whole image.")
    palette_presence: list[float] = Field(default_factory=list, description="Per sheet colour (largest first), 0..1.")
    sheet_hash_similarity: float | None = Field(None, ge=0, le=1, description="1 - phash distance/64 of the located "
                                                "crop and the sheet; null without a located box.")
    across_pages: float | None = Field(None, ge=0, le=1, description="Palette presence alike to the other pages "
                                       "(book-wide, `status --consistency`); null in review.json.")
    vlm_same: bool | None = Field(None, description="The vlm reviewer's 'same character as the sheet?'; null otherwise.")


class ConsistencyRecord(StrictModel):
    version: str
    image: str = Field(description="The art measured (book- or page-relative).")
    characters: list[CharacterConsistency] = Field(default_factory=list)
    score: float | None = Field(None, description="The lowest character score; null when no character was measured.")
    notes: list[str] = Field(default_factory=list)


class ReviewRecord(StrictModel):
    schema_version: int = REVIEW_SCHEMA_VERSION
    page: int
    status: Literal["selected", "waiting", "rejected_all"]
    cache_key: str = ""
    reviewer: ReviewerInfo
    candidates: list[CandidateReview]
    ranking: list[int] = Field(default_factory=list, description="Candidate indexes, best first.")
    comparisons: list[PairwiseComparison] = Field(default_factory=list)
    selection: Selection | None = None
    defects: list[Defect] = Field(default_factory=list, description="Defects of the selected candidate, for inpainting.")
    fallback: str | None = Field(None, description="Why another reviewer stood in, when one did.")
    fallback_cause: Literal["answers", "service"] | None = Field(
        None, description="answers: the model kept breaking the format; service: Ollama was unreachable or too slow "
                          "(such a review is asked again on the next run).")
    contact_sheet: str | None = None
    answers: list[ReviewAnswer] = Field(default_factory=list, description="Every raw reply of a model reviewer, in order (retries included).")
    notes: list[str] = Field(default_factory=list)
    consistency: ConsistencyRecord | None = Field(None, description="How the selected candidate keeps its "
                                                  "characters' sheets (written by the review stage).")

    def selected_defects(self) -> list[Defect]:
        """The defects of the selected candidate (what inpainting repairs), whoever made the choice."""
        if self.selection is None:
            return []
        chosen = next((c for c in self.candidates if c.index == self.selection.index), None)
        return chosen.defects if chosen is not None else self.defects


class PageConsistency(StrictModel):
    page: int
    consistency: ConsistencyRecord | None = None
    outlier: bool = False
    reason: str = Field("", description="Why the page is an outlier, or why it was not measured.")


class BookConsistency(StrictModel):
    """`artfarm status BOOK --consistency --json`: every page's per-character scores and the outliers."""

    book: str
    threshold: float
    pages: list[PageConsistency] = Field(default_factory=list)
    outliers: list[int] = Field(default_factory=list, description="Pages with a character scoring under the threshold.")
