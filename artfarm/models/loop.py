"""The self-improving loop's contract and records (pages/NNNN/loop/*.json).

The reviewer answers ``{"done", "changes": {prompt_append, neg_append, cfg, steps, seed},
"reason"}`` (plus its scores, defects and whether the composition is wrong); artfarm applies
the changes under guard rails and logs each iteration.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from artfarm.models.base import StrictModel
from artfarm.models.review import CriterionScore, Defect, ReviewAnswer

LOOP_SCHEMA_VERSION = 1


class LoopChanges(StrictModel):
    prompt_append: str = Field("", max_length=300)
    neg_append: str = Field("", max_length=300)
    cfg: float | None = Field(None, ge=0, le=30)
    steps: int | None = Field(None, ge=1, le=150)
    seed: int | None = Field(None, ge=0, le=2**53 - 1)


class Critique(StrictModel):
    """A reviewer's judgement of one image and what to change next."""

    score: float = Field(ge=0, le=1, description="Weighted total of the criteria, 0..1; compares iterations.")
    scores: dict[str, CriterionScore] = Field(default_factory=dict)
    defects: list[Defect] = Field(default_factory=list)
    rejected: bool = False
    reject_reason: str | None = None
    done: bool
    changes: LoopChanges = Field(default_factory=LoopChanges)
    composition_wrong: bool = False
    reason: str = ""
    answers: list[ReviewAnswer] = Field(default_factory=list)


class LoopParams(StrictModel):
    """The render parameters the loop may adjust; the pipeline maps them onto its stage's parameters."""

    prompt: str
    negative: str
    cfg: float = Field(ge=0, le=30)
    steps: int = Field(ge=1, le=150)
    seed: int = Field(ge=0, le=2**53 - 1)


class AppliedChanges(StrictModel):
    params: LoopParams
    applied: list[str] = Field(default_factory=list, description="Each change made, in words.")
    refused: list[str] = Field(default_factory=list, description="Each change the guard rails refused, and why.")


class IterationRecord(StrictModel):
    """loop/loop_LL_iter_II.json, written beside its image."""

    schema_version: int = LOOP_SCHEMA_VERSION
    loop: int = Field(ge=1)
    iteration: int = Field(ge=1)
    source_image: str = Field(description="The image this iteration re-rendered from (relative to the page folder).")
    image: str
    sha256: str
    asked: Critique = Field(description="The critique whose changes were applied.")
    changes: AppliedChanges
    result: Critique | None = Field(None, description="The critique of the new image (None when the reviewer failed on it).")
    best_score_before: float
    outcome: Literal["improved", "reverted", "unjudged"]


class LoopRecord(StrictModel):
    """loop/loop.json: the whole run, written last."""

    schema_version: int = LOOP_SCHEMA_VERSION
    page: int
    start_image: str
    start: Critique | None = Field(None, description="The critique of the start image (None when the reviewer failed on it).")
    iterations: list[str] = Field(default_factory=list, description="Iteration record files, in order.")
    best_image: str
    best_score: float
    best_params: LoopParams
    stopped: Literal["done", "limits", "no_changes", "reviewer_failed", "no_loops"]
    last_critique: Critique | None = Field(None, description="A critique asked after the last iteration record (its changes unused).")
    failed_answers: list[ReviewAnswer] = Field(default_factory=list, description="Raw replies of a critique that never parsed.")
    note: str = ""
