"""The stages of a page: what each reads, what goes into its key, how it runs.

    draft -> review -> refine -> inpaint -> loop -> upscale -> final

Each stage is a small class: ``needed`` (inpaint only runs for defects or masks, the loop only
with a reviewer that can critique), ``plan`` (parameters and key inputs; no side effects, so
``status`` can use it), ``check`` (is the record a hit?) and ``run``. To add a stage, write one
class and put it in ``STAGES``: ``ctx.input_image(name)`` is the newest picture made before a
stage, so the stages after it pick up its output. Inpaint and the loop live in their own
modules (artfarm/pipeline/inpaint_stage.py, loop_stage.py), built on the classes here.
Render stages build their parameters in ``params`` (names as in artfarm/render/base.py);
``RenderStage.plan`` turns them into the key, so a new parameter is in the key by itself.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image
from pydantic import ValidationError

from artfarm.book.loader import LoadedBook
from artfarm.errors import RunError, WriteError
from artfarm.fsio import atomic_write_bytes, atomic_write_json, sha256_file
from artfarm.models.records import STAGE_NAMES, ModelRecord, Prompts, StageRecord
from artfarm.models.renderspec import RenderSpec
from artfarm.models.review import ReviewRecord
from artfarm.pipeline.keys import cache_key, key_inputs_with_version, why_changed
from artfarm.pipeline.records import (describe_output, log, now_iso, outputs_problem, read_record,
                                      write_json_beside)
from artfarm.pipeline.sizes import draft_size, half_print, print_px
from artfarm.prompts.compile import CompiledPrompt
from artfarm.render.base import ProgressFn, RenderRequest, RenderResult, Renderer
from artfarm.review.agent import AgentReviewer
from artfarm.review.base import Candidate, ReviewContext, Reviewer
from artfarm.settings import Settings
from artfarm.stylepacks import LoadedStylePack

REVIEW_FILE = "review.json"
DEFAULT_UPSCALE_DENOISE = 0.2


class PageWaiting(Exception):
    """The page stops for a person or agent to choose a draft (not an error)."""


@dataclass
class PageContext:
    book: LoadedBook
    page: int
    spec: RenderSpec
    pack: LoadedStylePack
    prompt: CompiledPrompt
    renderer: Renderer
    reviewer: Reviewer
    progress: ProgressFn | None = None
    done: dict[str, StageRecord] = field(default_factory=dict)
    review: ReviewRecord | None = None
    settings: Settings = field(default_factory=Settings)
    _ref_hashes: dict[str, str | None] | None = field(default=None, repr=False)

    @property
    def page_dir(self) -> Path:
        return self.book.page_dir(self.page)

    def stage_dir(self, name: str) -> Path:
        return self.page_dir / name

    def rel(self, path: Path) -> str:
        return Path(path).resolve().relative_to(self.book.root.resolve()).as_posix()

    def output(self, stage: str, index: int = 0) -> Path:
        record = self.done[stage]
        return self.stage_dir(STAGE_DIRS[stage]) / record.outputs[index].file

    def sha_of(self, path: Path) -> str | None:
        """A file's SHA-256: from the record of the stage that made it, else read from disk."""
        for stage, record in self.done.items():
            folder = self.stage_dir(STAGE_DIRS[stage])
            for out in record.outputs:
                if folder / out.file == path:
                    return out.sha256
        return sha256_file(path) if Path(path).is_file() else None

    def ref_hashes(self) -> dict[str, str | None]:
        """Reference images shape the art through their content, not their names. Every render stage's
        key holds them, so they are read once per page, not once per stage."""
        if self._ref_hashes is None:
            paths = [*self.spec.refs.style, *(p for refs in self.spec.refs.characters.values() for p in refs)]
            people = self.book.characters.by_id()
            paths += [p for cast in self.spec.characters if cast.id in people for p in people[cast.id].refs]
            out: dict[str, str | None] = {}
            for rel in sorted(set(paths)):
                path = self.book.resolve(rel, what="reference")
                out[rel] = sha256_file(path) if path.is_file() else None
            self._ref_hashes = out
        return dict(self._ref_hashes)

    def input_image(self, before: str) -> Path:
        """The newest picture made by a stage before ``before`` (inpaint's if it ran, else refine's...)."""
        earlier = STAGE_ORDER[:STAGE_ORDER.index(before)]
        for name in reversed(earlier):
            if name in self.done and STAGE_BY_NAME[name].makes_picture:
                return self.output(name)
        raise RunError("no image to work on yet", where=f"page {self.page} {before}")

    def text_placement(self) -> str:
        if self.page == 0:
            return "top"
        entry = self.book.page_entry(self.page)
        placement = entry.placement if entry is not None and entry.placement else None
        return placement or self.book.book.layout.default_placement

    def review_context(self) -> ReviewContext:
        return ReviewContext(book=self.book, page=self.page, spec=self.spec, pack=self.pack, prompt=self.prompt,
                             text_placement=self.text_placement(), page_dir=self.page_dir)

    def spec_fields(self, overrides: str | None) -> dict[str, Any]:
        data = self.spec.model_dump(mode="json", exclude={"schema_ref", "overrides"})
        if overrides:
            data["overrides"] = getattr(self.spec.overrides, overrides).model_dump(mode="json")
        return data


@dataclass
class Plan:
    key_inputs: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    forced: bool = False

    @property
    def cache_key(self) -> str:
        return cache_key(self.key_inputs)


@dataclass
class Verdict:
    state: Literal["hit", "miss", "waiting", "rejected"]
    reason: str
    record: StageRecord | None = None
    failed: bool = False  # the miss is a failed earlier attempt


class Stage:
    name: str = ""
    dir_name: str = ""
    makes_picture: bool = True  # its first output is the page's picture so far (the draft's is a burst, so no)

    def needed(self, ctx: PageContext) -> tuple[bool, str]:
        return True, ""

    def plan(self, ctx: PageContext) -> Plan:
        raise NotImplementedError

    def check(self, ctx: PageContext, plan: Plan) -> Verdict:
        record, why = read_record(ctx.stage_dir(self.dir_name))
        if record is None:
            return Verdict("miss", why or "not run yet")
        if record.status == "failed":
            return Verdict("miss", f"previous attempt failed ({(record.error or '').splitlines()[0]})", failed=True)
        if record.cache_key != plan.cache_key:
            return Verdict("miss", why_changed(record.key_inputs, key_inputs_with_version(plan.key_inputs)))
        problem = outputs_problem(ctx.stage_dir(self.dir_name), record)
        if problem:
            return Verdict("miss", problem)
        return Verdict("hit", "cached", record)

    def run(self, ctx: PageContext, plan: Plan) -> StageRecord:
        raise NotImplementedError

    def failed_record(self, ctx: PageContext, plan: Plan, error: BaseException, started: str, seconds: float) -> StageRecord:
        return StageRecord(stage=self.name, page=ctx.page, status="failed", cache_key=plan.cache_key,
                           key_inputs=key_inputs_with_version(plan.key_inputs), error=str(error),
                           params=relative_params(ctx, plan.params), started=started, finished=now_iso(),
                           seconds=round(seconds, 3))


class RenderStage(Stage):
    """A stage that sends one job to the renderer."""

    def params(self, ctx: PageContext) -> dict[str, Any]:
        raise NotImplementedError

    def plan(self, ctx: PageContext) -> Plan:
        params = {k: v for k, v in self.params(ctx).items() if v is not None}
        files = {k: v for k, v in params.items() if isinstance(v, Path)}
        models = {k: params[k] for k in ("checkpoint", "upscale_model") if k in params}
        plain = {k: v for k, v in params.items() if k not in files and k not in models}
        inputs = {k: ctx.sha_of(v) for k, v in files.items()}
        inputs.update({k: v for k, v in self.extra_inputs(ctx).items()})
        key_inputs = {
            "stage": self.name,
            "renderer": ctx.renderer.identity(self.name),
            "spec": ctx.spec_fields(self.name),
            "refs": ctx.ref_hashes(),
            "style_pack": ctx.pack.content_sha256,
            "prompts": {"positive": params.get("prompt", ""), "negative": params.get("negative", "")},
            "params": plain,
            "models": models,
            "target": list(print_px(ctx.book.book, ctx.page)),
            "inputs": inputs,
        }
        return Plan(key_inputs=key_inputs, params=params)

    def extra_inputs(self, ctx: PageContext) -> dict[str, Any]:
        return {}

    def run(self, ctx: PageContext, plan: Plan) -> StageRecord:
        out_dir = clear_stage_dir(ctx.stage_dir(self.dir_name), f"{self.name}_*.png")
        started = now_iso()
        result = render_job(ctx, self.name, plan.params, out_dir, self.name)
        base_seed = plan.params.get("seed")
        outputs = []
        for image in sorted(result.images, key=lambda i: i.batch_index):
            seed = image.seed if image.seed is not None else (base_seed + image.batch_index if base_seed is not None else None)
            outputs.append(describe_output(Path(image.path), seed))
        workflow = write_json_beside(out_dir, "workflow.json", result.workflow) if result.workflow else None
        return StageRecord(
            stage=self.name, page=ctx.page, cache_key=plan.cache_key, key_inputs=key_inputs_with_version(plan.key_inputs),
            renderer=ctx.renderer.name, workflow=workflow, server=result.server, prompt_id=result.prompt_id,
            seeds=[o.seed for o in outputs if o.seed is not None],
            models=[ModelRecord(name=m.name, sha256=m.sha256) for m in result.models],
            prompts=Prompts(positive=plan.params.get("prompt", ""), negative=plan.params.get("negative", "")),
            params=relative_params(ctx, plan.params), outputs=outputs, attempts=result.attempts,
            started=started, finished=now_iso(), seconds=0.0)

    def sampler(self, ctx: PageContext, tier: str, steps: int | None, cfg: float | None = None) -> dict[str, Any]:
        defaults = getattr(ctx.pack.pack.tiers, tier)
        return {"prompt": ctx.prompt.positive, "negative": ctx.prompt.negative,
                "steps": steps or defaults.steps, "cfg": cfg if cfg is not None else defaults.cfg,
                "sampler": defaults.sampler, "scheduler": defaults.scheduler}

    def locked_seed(self, ctx: PageContext) -> int:
        """Once a composition is selected its seed is used for everything after it."""
        seeds = ctx.done["review"].seeds
        return seeds[0] if seeds else ctx.spec.seed


class DraftStage(RenderStage):
    name = dir_name = "draft"
    makes_picture = False

    def params(self, ctx: PageContext) -> dict[str, Any]:
        over = ctx.spec.overrides.draft
        tier = ctx.pack.pack.tiers.draft
        width, height = draft_size(tier.width, tier.height, print_px(ctx.book.book, ctx.page), over.width, over.height)
        params = self.sampler(ctx, "draft", over.steps, over.cfg)
        params.update(seed=ctx.spec.seed, width=width, height=height,
                      batch=over.count or ctx.book.book.render.draft_count,
                      checkpoint=ctx.book.book.models.draft_checkpoint)
        params["sampler"] = over.sampler or params["sampler"]
        params["scheduler"] = over.scheduler or params["scheduler"]
        return params


class RefineStage(RenderStage):
    name = dir_name = "refine"

    def params(self, ctx: PageContext) -> dict[str, Any]:
        over = ctx.spec.overrides.refine
        params = self.sampler(ctx, "final", over.steps, over.cfg)
        models = ctx.book.book.models
        width, height = half_print(print_px(ctx.book.book, ctx.page))  # so the 2x upscale meets the print size
        params.update(seed=self.locked_seed(ctx), denoise=over.denoise if over.denoise is not None else ctx.pack.pack.tiers.final.denoise,
                      width=width, height=height,
                      checkpoint=models.final_checkpoint or models.draft_checkpoint, image=ctx.input_image(self.name))
        return params


class UpscaleStage(RenderStage):
    name = dir_name = "upscale"

    def params(self, ctx: PageContext) -> dict[str, Any]:
        over = ctx.spec.overrides.upscale
        final_steps = ctx.pack.pack.tiers.final.steps
        params = self.sampler(ctx, "final", over.steps or max(1, final_steps // 2))
        models = ctx.book.book.models
        params.update(seed=self.locked_seed(ctx), denoise=over.denoise if over.denoise is not None else DEFAULT_UPSCALE_DENOISE,
                      checkpoint=models.final_checkpoint or models.draft_checkpoint,
                      upscale_model=models.upscale_model, image=ctx.input_image(self.name))
        return params


class ReviewStage(Stage):
    """Judge the burst and select one; the selection is copied to selected/selected.png.

    review.json (the verdict, with the review key) is written before selected/stage.json, so a
    decision recorded by a person (``artfarm review``) is turned into selected/ on the next run.
    """

    name = "review"
    dir_name = "selected"

    def plan(self, ctx: PageContext) -> Plan:
        draft = ctx.done["draft"]
        key_inputs = {
            "stage": self.name,
            "reviewer": ctx.reviewer.identity(),
            "spec": ctx.spec_fields(None),
            "style_pack": ctx.pack.content_sha256,
            "prompts": {"positive": ctx.prompt.positive, "negative": ctx.prompt.negative},
            "layout": {"text_placement": ctx.text_placement()},
            "inputs": [{"sha256": o.sha256, "seed": o.seed} for o in draft.outputs],
        }
        return Plan(key_inputs=key_inputs)

    def read_review(self, ctx: PageContext) -> ReviewRecord | None:
        path = ctx.page_dir / REVIEW_FILE
        if not path.is_file():
            return None
        try:
            return ReviewRecord.model_validate_json(path.read_bytes())
        except (ValidationError, ValueError, OSError) as exc:
            log.warning("%s: review unreadable, treating as a cache miss (%s)", path, str(exc).splitlines()[0])
            return None

    def held_inputs(self, plan: Plan, review: ReviewRecord) -> dict[str, Any] | None:
        """The key inputs ``review`` holds under, or None when it is a review of something else.

        A review made by the agent reviewer (a request for a person's or agent's choice, and the
        choice itself) outlasts a change of configured reviewer: it holds under the agent reviewer's
        key for these very drafts. `render-page --from review` asks the configured reviewer instead."""
        if review.cache_key == plan.cache_key:
            return plan.key_inputs
        agent_inputs = {**plan.key_inputs, "reviewer": AgentReviewer().identity()}
        if review.reviewer.kind == AgentReviewer.kind and review.cache_key == cache_key(agent_inputs):
            return agent_inputs
        return None

    def matches(self, plan: Plan, review: ReviewRecord) -> bool:
        return self.held_inputs(plan, review) is not None

    def selected_inputs(self, plan: Plan, review: ReviewRecord) -> dict[str, Any]:
        """Keyed on what the decision holds under, so a recorded choice stays done under any reviewer."""
        assert review.selection is not None
        inputs = self.held_inputs(plan, review) or plan.key_inputs
        return {**inputs, "selection": {"index": review.selection.index, "decided_by": review.selection.decided_by}}

    def check(self, ctx: PageContext, plan: Plan) -> Verdict:
        review = self.read_review(ctx)
        old, _ = read_record(ctx.stage_dir(self.dir_name))
        if old is not None and old.status == "failed":
            return Verdict("miss", f"previous attempt failed ({(old.error or '').splitlines()[0]})", failed=True)
        if review is None:
            return Verdict("miss", "not run yet" if old is None else "review.json missing or unreadable")
        if review.fallback_cause == "service":  # asked again whatever else changed (the model's digest was unknown too)
            return Verdict("miss", "the last review was by the fallback reviewer because Ollama failed; asking again")
        if not self.matches(plan, review):
            before = {k: v for k, v in (old.key_inputs if old else {}).items() if k != "selection"}
            return Verdict("miss", why_changed(before, key_inputs_with_version(plan.key_inputs)) if before else "review inputs changed")
        ctx.review = review
        if review.status == "waiting":
            return Verdict("waiting", waiting_message(ctx, review))
        if review.status == "rejected_all":
            return Verdict("rejected", "every draft candidate was rejected")
        expected = cache_key(self.selected_inputs(plan, review))
        if old is None or old.status != "done" or old.cache_key != expected:
            return Verdict("miss", "review decision recorded; selection not written yet")
        problem = outputs_problem(ctx.stage_dir(self.dir_name), old)
        if problem:
            return Verdict("miss", problem)
        return Verdict("hit", "cached", old)

    def run(self, ctx: PageContext, plan: Plan) -> StageRecord:
        review = self.read_review(ctx)
        started = now_iso()
        if (plan.forced or review is None or not self.matches(plan, review) or review.status != "selected"
                or review.fallback_cause == "service"):
            review = self.ask_reviewer(ctx, plan)
        ctx.review = review
        if review.status == "waiting":
            raise PageWaiting(waiting_message(ctx, review))
        if review.status == "rejected_all" or review.selection is None:
            raise RunError(rejected_message(review), where=f"page {ctx.page} review",
                           fix="change the RenderSpec's seed, scene or constraints (or choose one with `artfarm review "
                               f"{ctx.book.id} {ctx.page} --select N --reason ...`), then run again")
        return self.write_selection(ctx, plan, review, started)

    def ask_reviewer(self, ctx: PageContext, plan: Plan) -> ReviewRecord:
        draft = ctx.done["draft"]
        candidates = [Candidate(index=i, path=ctx.stage_dir("draft") / o.file, seed=o.seed, sha256=o.sha256)
                      for i, o in enumerate(draft.outputs)]
        review = ctx.reviewer.review(candidates, ctx.review_context())
        review = review.model_copy(update={"cache_key": plan.cache_key, "page": ctx.page})
        atomic_write_json(ctx.page_dir / REVIEW_FILE, ReviewRecord.model_validate(review.model_dump()))
        return review

    def write_selection(self, ctx: PageContext, plan: Plan, review: ReviewRecord, started: str) -> StageRecord:
        assert review.selection is not None
        draft = ctx.done["draft"]
        index = review.selection.index
        if not 0 <= index < len(draft.outputs):
            raise RunError(f"review selected candidate {index}, but the draft has {len(draft.outputs)}",
                           where=str(ctx.page_dir / REVIEW_FILE), fix=f"choose 0..{len(draft.outputs) - 1} with `artfarm review`")
        source = ctx.stage_dir("draft") / draft.outputs[index].file
        target = ctx.stage_dir(self.dir_name) / "selected.png"
        atomic_write_bytes(target, source.read_bytes())
        inputs = self.selected_inputs(plan, review)
        output = describe_output(target, draft.outputs[index].seed)
        return StageRecord(stage="review", page=ctx.page, cache_key=cache_key(inputs), key_inputs=key_inputs_with_version(inputs),
                           seeds=[output.seed] if output.seed is not None else [], outputs=[output],
                           prompts=Prompts(positive=ctx.prompt.positive, negative=ctx.prompt.negative),
                           notes=[f"selected candidate {index} ({draft.outputs[index].file}) by {review.selection.decided_by}: "
                                  f"{review.selection.rationale}"],
                           started=started, finished=now_iso(), seconds=0.0)


class FinalStage(Stage):
    """final/final.png: the upscaled image, enlarged only if it is below the print size."""

    name = dir_name = "final"

    def plan(self, ctx: PageContext) -> Plan:
        source = ctx.input_image(self.name)
        target = print_px(ctx.book.book, ctx.page)
        return Plan(key_inputs={"stage": self.name, "inputs": {"image": ctx.sha_of(source)}, "target": list(target)},
                    extra={"source": source, "target": target})

    def run(self, ctx: PageContext, plan: Plan) -> StageRecord:
        started = now_iso()
        source, (tw, th) = plan.extra["source"], plan.extra["target"]
        out = ctx.stage_dir(self.dir_name) / "final.png"
        notes = []
        with Image.open(source) as image:
            width, height = image.size
            if width >= tw and height >= th:
                data = source.read_bytes()
                notes.append(f"upscaled image {width}x{height} meets the print size {tw}x{th}")
            else:
                scale = max(tw / width, th / height)
                size = (max(tw, round(width * scale)), max(th, round(height * scale)))
                buf = io.BytesIO()
                image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(buf, format="PNG")
                data = buf.getvalue()
                notes.append(f"enlarged {width}x{height} to {size[0]}x{size[1]} to reach the print size {tw}x{th}")
        atomic_write_bytes(out, data)
        return StageRecord(stage=self.name, page=ctx.page, cache_key=plan.cache_key,
                           key_inputs=key_inputs_with_version(plan.key_inputs), outputs=[describe_output(out)],
                           seeds=ctx.done["review"].seeds, notes=notes, started=started, finished=now_iso(), seconds=0.0)


def clear_stage_dir(out_dir: Path, *patterns: str) -> Path:
    """Make the stage folder and remove the pictures an earlier run left (they would be mistaken for new ones)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for pattern in patterns:
            for old in out_dir.glob(pattern):
                old.unlink(missing_ok=True)
    except OSError as exc:
        raise WriteError(f"could not prepare the stage folder ({exc.strerror or exc})", where=str(out_dir),
                         fix="make sure it is a writable folder (not a file), then run again") from exc
    return out_dir


def render_job(ctx: PageContext, stage: str, params: dict[str, Any], out_dir: Path, stem: str) -> RenderResult:
    """Send one job to the renderer; every image it returns is a file ``out_dir/<stem>_NN.png``."""
    request = RenderRequest(stage=stage, page=ctx.page, params=params, out_dir=out_dir, filename_stem=stem)
    result = ctx.renderer.render(request, ctx.progress)
    if not result.images:
        raise RunError(f"the {ctx.renderer.name} renderer returned no images for {stage}",
                       where=f"page {ctx.page} {stage}", fix="check the renderer's log; run again")
    for image in result.images:
        path = Path(image.path)
        if path.resolve().parent != out_dir.resolve() or not path.is_file():
            raise RunError(f"renderer output {path} is not a file in {out_dir}", where=f"page {ctx.page} {stage}",
                           fix="the renderer must write out_dir/<stem>_NN.png; report this as a renderer bug")
    return result


def waiting_message(ctx: PageContext, review: ReviewRecord) -> str:
    sheet = f"pages/{ctx.page:04d}/{review.contact_sheet}" if review.contact_sheet else "the draft folder"
    return (f"waiting for review: look at {sheet}, then run `artfarm review {ctx.book.id} {ctx.page} "
            f"--select N --reason \"...\"` (or --reject-all)")


def rejected_message(review: ReviewRecord) -> str:
    reasons = "; ".join(f"#{c.index}: {c.reject_reason}" for c in review.candidates if c.rejected and c.reject_reason)
    return f"every draft candidate was rejected ({reasons or 'no reasons given'})"


def relative_params(ctx: PageContext, params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        out[key] = ctx.rel(value) if isinstance(value, Path) else value
    return json.loads(json.dumps(out, default=str))


# Inpaint and the loop build on the classes above, so they are imported here, after them.
from artfarm.pipeline.inpaint_stage import InpaintStage  # noqa: E402
from artfarm.pipeline.loop_stage import LoopStage  # noqa: E402

STAGES: list[Stage] = [DraftStage(), ReviewStage(), RefineStage(), InpaintStage(), LoopStage(), UpscaleStage(), FinalStage()]
STAGE_DIRS = {s.name: s.dir_name for s in STAGES}
STAGE_BY_NAME = {s.name: s for s in STAGES}
STAGE_ORDER: list[str] = list(STAGE_NAMES)
if [s.name for s in STAGES] != STAGE_ORDER:  # one order for records, status, --from and the engine
    raise RuntimeError(f"STAGES {[s.name for s in STAGES]} must follow StageName {STAGE_ORDER} (artfarm/models/records.py)")
