"""The loop stage: the self-improving loop (artfarm.review.loop.run_loop) between inpaint and upscale.

It runs only with a reviewer that can critique (``vlm``) and limits above 0 (book.yaml
``render.review.iterations_per_loop`` / ``max_loops``, or the flags). Each iteration re-renders
the loop's start image (inpaint's output, else refine's, so kept fixes are not thrown away) as
refine does, at refine's denoise, with the parameters the reviewer asked for (under the guard rails):
``loop/loop_LL_iter_II.png`` + ``.json`` (+ ``.workflow.json`` when the renderer has one), and
``loop/loop.json`` for the whole run. The best image, not the last, is copied to
``loop/best.png`` and moves on to upscale. An unreachable Ollama fails the page (exit 3)
unless the review fallback is on; then the loop stops and the best so far moves on, and the
loop is tried again on the next run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pydantic import ValidationError

from artfarm.fsio import atomic_write_bytes
from artfarm.models.loop import LoopParams, LoopRecord
from artfarm.models.records import ModelRecord, Prompts, StageRecord
from artfarm.pipeline.keys import key_inputs_with_version
from artfarm.pipeline.records import describe_output, now_iso, write_json_beside
from artfarm.pipeline.context import PageContext, Plan, Verdict, clear_stage_dir, relative_params, render_job
from artfarm.pipeline.stage import Stage
from artfarm.pipeline.stages.refine import RefineStage
from artfarm.review.base import can_critique
from artfarm.families import family_info
from artfarm.review.loop import GuardRails, LoopLimits, RenderAgain, run_loop

BEST = "best.png"
LOOP_RECORD = "loop.json"
LOOP_STAGE_VERSION = 2  # 2: iterations re-render the start image (refined and inpainted), not the selected draft


def guard_rails(ctx: PageContext) -> GuardRails:
    """The loop's guard rails for the book's model family (no negative terms where it has no negative prompt)."""
    return GuardRails(negative_prompt=family_info(ctx.family).negative_prompt)


def loop_limits(ctx: PageContext) -> LoopLimits:
    return LoopLimits(iterations_per_loop=ctx.settings.iterations_per_loop, max_loops=ctx.settings.max_loops)


class LoopStage(Stage):
    name = dir_name = "loop"

    def needed(self, ctx: PageContext) -> tuple[bool, str]:
        if not can_critique(ctx.reviewer):
            return False, f"the {ctx.reviewer.kind} reviewer cannot critique (the loop needs --reviewer vlm)"
        limits = loop_limits(ctx)
        if limits.iterations_per_loop == 0 or limits.max_loops == 0:
            return False, "switched off (iterations_per_loop or max_loops is 0)"
        return True, ""

    def plan(self, ctx: PageContext) -> Plan:
        start = ctx.input_image(self.name)  # the inpaint output, else refine's: each iteration re-renders it
        params = {**{k: v for k, v in RefineStage().params(ctx).items() if v is not None}, "image": start}
        plain = {k: v for k, v in params.items() if not isinstance(v, Path) and k != "checkpoint"}
        key_inputs = {
            "stage": self.name,
            "version": LOOP_STAGE_VERSION,
            "renderer": ctx.renderer_identity("refine"),
            "reviewer": ctx.reviewer.identity(),
            "spec": ctx.spec_fields("refine"),
            "refs": ctx.reviewer_refs(ctx.reviewer),
            "style_pack": ctx.pack_inputs("positive", "negative", "loras", "palette"),
            "prompts": {"positive": params.get("prompt", ""), "negative": params.get("negative", "")},
            "params": {**plain, "guard_rails": dataclasses.asdict(guard_rails(ctx))},
            "models": {"checkpoint": params.get("checkpoint")},
            "limits": loop_limits(ctx).model_dump(),
            "inputs": {"start": ctx.sha_of(start)},
        }
        return Plan(key_inputs=key_inputs, params=params, extra={"start": start})

    def check(self, ctx: PageContext, plan: Plan) -> Verdict:
        verdict = super().check(ctx, plan)
        if verdict.state == "hit" and self.reviewer_was_down(ctx):
            return Verdict("miss", "the reviewer could not be reached last time; trying the loop again")
        return verdict

    def reviewer_was_down(self, ctx: PageContext) -> bool:
        """The last loop ended because Ollama failed (not because of an answer): worth another try."""
        try:
            record = LoopRecord.model_validate_json((ctx.stage_dir(self.dir_name) / LOOP_RECORD).read_bytes())
        except (OSError, ValidationError, ValueError):
            return False
        return record.stopped == "reviewer_failed" and not record.failed_answers

    def run(self, ctx: PageContext, plan: Plan) -> StageRecord:
        loop_dir = clear_stage_dir(ctx.stage_dir(self.dir_name), BEST)
        started = now_iso()
        params = plan.params
        start_params = LoopParams(prompt=params["prompt"], negative=params["negative"], cfg=params["cfg"],
                                  steps=params["steps"], seed=params["seed"])
        models: dict[str, ModelRecord] = {}

        def render(job: RenderAgain) -> Path:
            again = {**params, "prompt": job.params.prompt, "negative": job.params.negative, "cfg": job.params.cfg,
                     "steps": job.params.steps, "seed": job.params.seed, "image": job.source_image}
            result = render_job(ctx, "refine", again, job.out_dir, f"{job.stem}_render")
            models.update({m.name: ModelRecord(name=m.name, sha256=m.sha256) for m in result.models})
            if result.workflow:
                write_json_beside(job.out_dir, f"{job.stem}.workflow.json", result.workflow)
            return Path(sorted(result.images, key=lambda i: i.batch_index)[0].path)

        record = run_loop(start_image=plan.extra["start"], start_params=start_params, ctx=ctx.review_context(),
                          judge=ctx.reviewer, render=render, limits=loop_limits(ctx), rails=guard_rails(ctx),  # type: ignore[arg-type]
                          loop_dir=loop_dir,
                          tolerate_service_errors=ctx.settings.review_fallback == "heuristic")
        for rendered in loop_dir.glob("loop_*_render_*.png"):  # copied to loop_LL_iter_II.png by the loop
            rendered.unlink(missing_ok=True)
        best = loop_dir / BEST
        atomic_write_bytes(best, (ctx.page_dir / record.best_image).read_bytes())
        chosen = record.best_params
        notes = [f"loop stopped: {record.stopped}" + (f" ({record.note})" if record.note else ""),
                 f"best: {record.best_image} scoring {record.best_score:.2f} after {len(record.iterations)} "
                 f"iteration(s); see loop/{LOOP_RECORD}"]
        return StageRecord(stage=self.name, page=ctx.page, cache_key=plan.cache_key,
                           key_inputs=key_inputs_with_version(plan.key_inputs), renderer=ctx.renderer.name,
                           seeds=[chosen.seed], models=list(models.values()),
                           prompts=Prompts(positive=chosen.prompt, negative=chosen.negative),
                           params=relative_params(ctx, {**params, **chosen.model_dump()}),
                           outputs=[describe_output(best, chosen.seed)], notes=notes, started=started, finished=now_iso(),
                           seconds=0.0)
