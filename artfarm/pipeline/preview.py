"""``artfarm graph``: the exact ComfyUI workflow a page's stage would submit now, without any server.

The page context is the one a run builds (Engine.context); earlier stages contribute what
their records on disk say. Where an earlier stage has not made its picture yet (the
selection, the refine output), a marked placeholder stands in for it and a note says so;
the graph is otherwise the one ``ComfyUIRenderer.prepare`` builds for the real run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from artfarm.book.loader import LoadedBook
from artfarm.models.records import OutputFile, StageRecord
from artfarm.pipeline.context import PageContext
from artfarm.pipeline.engine import Engine
from artfarm.pipeline.records import outputs_problem, read_record
from artfarm.pipeline.stages import STAGE_BY_NAME, STAGES
from artfarm.pipeline.stages.inpaint import InpaintStage
from artfarm.pipeline.stages.review import ReviewStage
from artfarm.render.base import RenderRequest
from artfarm.render.comfyui import ComfyUIRenderer
from artfarm.review.heuristic import HeuristicReviewer
from artfarm.settings import Settings

PREVIEW_STAGES = ("draft", "refine", "inpaint", "upscale")
PLACEHOLDER_FILE = "PLACEHOLDER-not-made-yet.png"
STAND_INS = ("review", "refine")  # earlier pictures every later render stage reads (inpaint and loop may not run)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UploadPreview(_Out):
    param: str
    kind: str
    source: str
    server_name: str
    onto: str | None = None
    bytes: int
    sha256: str | None
    missing: bool = Field(description="The file does not exist yet; the graph holds a placeholder name for it.")


class JobPreview(_Out):
    label: str
    workflow: dict[str, Any]
    uploads: list[UploadPreview]
    models: list[str]


class StageGraph(_Out):
    book: str
    page: int
    stage: str
    template: str
    jobs: list[JobPreview]
    family: str = "sd15"
    sampler_settings: str = Field("", description="Where the stage's sampler settings came from (style pack or family defaults).")
    notes: list[str] = Field(default_factory=list)


def stage_graph(book: LoadedBook, settings: Settings, page: int, stage: str) -> StageGraph:
    """What ``stage`` of ``page`` would submit now: every job's workflow, uploads and model files."""
    renderer = ComfyUIRenderer(list(settings.comfyui_urls) or ["http://127.0.0.1:8188"], book.book.models)
    try:
        ctx = Engine(book, renderer, HeuristicReviewer(), settings=settings).context(page)
        notes = _earlier_stages(ctx, stage)
        jobs = []
        with tempfile.TemporaryDirectory(prefix="artfarm-graph-") as scratch:
            for label, params in _jobs(ctx, stage, Path(scratch), notes):
                request = RenderRequest(stage=stage, page=page, params={k: v for k, v in params.items() if v is not None},
                                        out_dir=ctx.stage_dir(STAGE_BY_NAME[stage].dir_name), filename_stem=stage)
                job = renderer.prepare(request, missing_ok=True)
                notes += [n for n in job.placeholders if n not in notes]
                jobs.append(JobPreview(label=label, workflow=job.graph, models=job.models,
                                       uploads=[UploadPreview(**{**u.describe(), "source": _shown(ctx, u.source)})
                                                for u in job.uploads]))
        family = book.book.models.family
        return StageGraph(book=book.id, page=page, stage=stage, template=renderer.template(stage, family).file, jobs=jobs,
                          family=family, sampler_settings=ctx.tier("draft" if stage == "draft" else "final").source,
                          notes=notes)
    finally:
        renderer.close()


def _earlier_stages(ctx: PageContext, stage: str) -> list[str]:
    """Load the records of the stages before ``stage``; a missing selection or refine gets a placeholder."""
    notes = []
    for earlier in STAGES[:[s.name for s in STAGES].index(stage)]:
        folder = ctx.stage_dir(earlier.dir_name)
        record, _ = read_record(folder, quiet=True)
        if record is not None and record.status == "done" and not outputs_problem(folder, record):
            ctx.done[earlier.name] = record
            if earlier.name == "review":
                ctx.review = ReviewStage().read_review(ctx)
        elif earlier.name in STAND_INS:
            seed = ctx.spec.seed
            ctx.done[earlier.name] = StageRecord(
                stage=earlier.name, page=ctx.page, cache_key="-", key_inputs={}, seeds=[seed], started="-", finished="-",
                seconds=0.0, outputs=[OutputFile(file=PLACEHOLDER_FILE, sha256="0" * 64, phash="0" * 16, width=0, height=0, seed=seed)])
            notes.append(f"{earlier.name} has not run yet: its picture is a placeholder"
                         + (f" and the seed shown is the first draft's ({seed}); the review's choice decides it"
                            if earlier.name == "review" else ""))
    return notes


def _jobs(ctx: PageContext, stage: str, scratch: Path, notes: list[str]) -> list[tuple[str, dict[str, Any]]]:
    target = STAGE_BY_NAME[stage]
    if not isinstance(target, InpaintStage):
        return [(stage, target.params(ctx))]
    params = target.params(ctx)
    needed, why = target.needed(ctx)
    if not needed or not Path(params["image"]).is_file():
        notes.append(f"inpaint: {why if not needed else 'its image does not exist yet'}; the repaints are not known, "
                     "so this is the graph every fix shares, without a mask")
        return [("inpaint (shared)", {**params, "mask": ctx.stage_dir(target.dir_name) / PLACEHOLDER_FILE})]
    jobs = []
    for job, mask in target.plan(ctx).extra["jobs"]:
        mask_path = scratch / f"mask_{job.index:02d}.png"
        mask_path.write_bytes(mask)  # what the run writes as inpaint/mask_NN.png; here outside the book
        jobs.append((f"fix {job.index} ({job.label})", {**params, "prompt": job.positive, "negative": job.negative,
                                                         "denoise": job.denoise, "mask": mask_path}))
    return jobs


def _shown(ctx: PageContext, path: Path) -> str:
    try:
        return ctx.rel(path)
    except ValueError:
        return Path(path).name  # a mask made for the preview (the run writes it as inpaint/mask_NN.png)
