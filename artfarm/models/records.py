"""stage.json (one per stage directory), the book lock, and what a run reports.

A stage record is written last and atomically; a record that does not validate is a
cache miss, never a crash. ``schema_version`` goes into every cache key, so changing the
record format (or what a key holds) redoes stages rather than trusting old records.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field

from artfarm.models.base import StrictModel

RECORD_SCHEMA_VERSION = 2  # 2: keys hold only what a graph or reviewer reads (refs, pack parts, no print size)

StageName = Literal["draft", "review", "refine", "inpaint", "loop", "upscale", "final"]
STAGE_NAMES: tuple[str, ...] = get_args(StageName)  # in pipeline order; artfarm.pipeline.stages.STAGES follows it


class OutputFile(StrictModel):
    file: str = Field(description="File name inside the stage directory.")
    sha256: str
    phash: str = Field(description="Perceptual hash (imagehash.phash, hex).")
    width: int
    height: int
    seed: int | None = None
    size: int | None = Field(None, description="Bytes; with mtime_ns lets a rerun skip rehashing an untouched file.")
    mtime_ns: int | None = None
    adopted: bool = Field(False, description="A person's file recorded by `artfarm adopt`: moved to history/ before "
                                             "the stage reruns, never deleted.")


class ModelRecord(StrictModel):
    name: str
    sha256: str | None = None


class Prompts(StrictModel):
    positive: str = ""
    negative: str = ""


class InpaintFix(StrictModel):
    """One repaint of the inpaint stage: which defect or hand mask, the job sent, and whether it was kept."""

    index: int
    source: Literal["defect", "mask_file"]
    label: str
    box: tuple[int, int, int, int] = Field(description="Where the mask is at full strength, in the image's pixels.")
    mask: str = Field(description="The feathered mask sent (white = repaint), a file in the stage directory.")
    mask_file: str | None = Field(None, description="The hand-made mask it came from, relative to the page folder.")
    prompt: str
    negative: str
    denoise: float
    severity: Literal["minor", "major"]
    result: str = Field(description="The repainted image, a file in the stage directory.")
    result_sha256: str
    workflow: str | None = Field(None, description="The exact workflow JSON submitted for this repaint, beside the record.")
    outcome: Literal["kept", "reverted"]
    reason: str
    before_score: float | None = None
    after_score: float | None = None
    review: str | None = Field(None, description="The comparison's review (every raw answer), a file in the stage directory.")


class StageRecord(StrictModel):
    schema_version: int = RECORD_SCHEMA_VERSION
    stage: StageName
    page: int
    status: Literal["done", "failed"] = "done"
    cache_key: str
    key_inputs: dict[str, Any] = Field(description="Everything that went into cache_key, as hashed.")
    renderer: str | None = None
    workflow: str | None = Field(None, description="File name of the exact workflow JSON submitted, saved beside this record.")
    server: str | None = None
    prompt_id: str | None = None
    seeds: list[int] = Field(default_factory=list)
    models: list[ModelRecord] = Field(default_factory=list)
    prompts: Prompts = Field(default_factory=Prompts)
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters sent to the renderer (image paths relative to the book).")
    outputs: list[OutputFile] = Field(default_factory=list)
    attempts: list[dict[str, Any]] = Field(default_factory=list)
    fixes: list[InpaintFix] = Field(default_factory=list, description="Inpaint: each repaint, in the order made.")
    notes: list[str] = Field(default_factory=list)
    error: str | None = None
    started: str
    finished: str
    seconds: float


class LockInfo(StrictModel):
    pid: int
    host: str
    command: str
    started: str


StageAction = Literal["ran", "cached", "skipped", "failed", "waiting", "not-needed", "edited"]
PageStatus = Literal["done", "cached", "failed", "waiting", "skipped", "edited"]


class StageOutcome(StrictModel):
    stage: StageName
    action: StageAction
    reason: str
    seconds: float = 0.0


class PageResult(StrictModel):
    page: int
    status: PageStatus
    stages: list[StageOutcome] = Field(default_factory=list)
    error: str | None = None
    error_exit_code: int | None = Field(None, description="The exit code the page's error maps to (2 bad input, 3 service, 1 other).")
    final: str | None = Field(None, description="Final art, relative to the book.")


class RunSummary(StrictModel):
    book: str
    renderer: str
    reviewer: str
    pages: list[PageResult]
    done: int
    cached: int
    failed: int
    waiting: int
    skipped: int
    edited: int = Field(0, description="Pages stopped at a stage whose output a person edited (kept; see `artfarm adopt`).")
    seconds: float
    exit_code: int


StageState = Literal["done", "stale", "missing", "failed", "waiting", "not-needed", "edited"]


class PageStatusRow(StrictModel):
    page: int
    stages: dict[str, StageState]
    reason: dict[str, str] = Field(default_factory=dict, description="Why a stage is not done.")
    error: str | None = None


class AdoptedStage(StrictModel):
    stage: StageName
    files: list[str] = Field(description="Outputs recorded as they are now, edited by hand (names in the stage folder).")
    keyed_on_current_inputs: bool = Field(description="False when an earlier stage was not done, so the record keeps its old key.")


class AdoptReport(StrictModel):
    """What `artfarm adopt` recorded."""

    book: str
    page: int
    adopted: list[AdoptedStage]


class BookStatus(StrictModel):
    book: str
    renderer: str
    reviewer: str
    stages: list[str] = Field(default_factory=lambda: list(STAGE_NAMES))
    pages: list[PageStatusRow]
