"""The inpaint stage: one repaint per defect or hand mask, each kept only if it is not worse.

Each defect box of the review (found on the selected draft, scaled to the image being fixed)
and each mask under ``pages/NNNN/masks/`` becomes one job (``artfarm.review.masks.plan_inpaint``):
a feathered mask written as ``inpaint/mask_NN.png``, the fix prompt plus the page's terms and
constraints, a denoise suited to the defect. The repaint (``fix_NN_00.png``) is compared with
the image before it (``artfarm.review.compare.compare_fix``, the comparison's review kept as
``fix_NN_review.json``): a result rejected outright (blank, flat) is reverted, and with a reviewer
that sees content (vlm) so is one that scores worse; each revert is logged. The next job starts
from the last kept image. ``inpaint_00.png`` is the result; stage.json lists every fix. Fixes judged
by the fallback reviewer because Ollama was down are judged again on the next run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


from artfarm.fsio import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file
from artfarm.images import image_size
from artfarm.models.records import InpaintFix, ModelRecord, Prompts, StageRecord
from artfarm.models.review import Defect, ReviewRecord
from artfarm.pipeline.keys import changed_inputs, key_inputs_with_version
from artfarm.pipeline.records import describe_output, log, now_iso, read_record, write_json_beside
from artfarm.pipeline.context import PageContext, Plan, Verdict, clear_stage_dir, relative_params, render_job
from artfarm.pipeline.identity import identity_params
from artfarm.pipeline.stage import RenderStage
from artfarm.review.agent import AgentReviewer
from artfarm.review.base import Reviewer
from artfarm.review.heuristic import HeuristicReviewer
from artfarm.review.compare import compare_fix
from artfarm.review.masks import InpaintPlan, hand_masks, mask_png, plan_inpaint

MASKS_DIR = "masks"
RESULT = "inpaint_00.png"


def fix_judge(ctx: PageContext) -> Reviewer:
    """The reviewer that decides keep or revert; with the agent reviewer (a person chooses) the heuristic
    checks only that a repaint did not come out blank or flat (it cannot see content, so never scores a fix)."""
    return HeuristicReviewer() if isinstance(ctx.reviewer, AgentReviewer) else ctx.reviewer


class InpaintStage(RenderStage):
    name = dir_name = "inpaint"

    def needed(self, ctx: PageContext) -> tuple[bool, str]:
        masks = hand_masks(ctx.page_dir / MASKS_DIR)
        if ctx.review is None and not masks:
            return True, "unknown until the review has run"
        defects = ctx.review.selected_defects() if ctx.review else []
        if not defects and not masks:
            return False, "no defects found, no masks supplied"
        return True, f"{len(defects)} defect(s), {len(masks)} mask file(s)"

    def params(self, ctx: PageContext) -> dict[str, Any]:
        """What every repaint of the page shares; each job adds its prompt, denoise and mask."""
        params = self.sampler(ctx, "final", ctx.spec.overrides.inpaint.steps)
        models = ctx.book.book.models
        params.update(seed=self.locked_seed(ctx), checkpoint=models.final_checkpoint or models.draft_checkpoint,
                      image=ctx.input_image(self.name))
        params.update(identity_params(ctx, self.name))
        return params

    def defects(self, ctx: PageContext, image: Path) -> list[Defect]:
        """The selected candidate's defects, from the selected draft's pixels to those of the image being fixed."""
        defects = ctx.review.selected_defects() if ctx.review else []
        if not defects:
            return []
        selected = ctx.done["review"].outputs[0]
        width, height = image_size(image, what="image to inpaint")
        sx, sy = width / selected.width, height / selected.height
        return [d.model_copy(update={"box": (round(d.box[0] * sx), round(d.box[1] * sy), round(d.box[2] * sx),
                                             round(d.box[3] * sy))}) for d in defects]

    def plan(self, ctx: PageContext) -> Plan:
        plan = super().plan(ctx)
        image = plan.params["image"]
        jobs = [(job, mask_png(mask)) for job, mask in
                plan_inpaint(image, self.defects(ctx, image), ctx.prompt, masks_dir=ctx.page_dir / MASKS_DIR,
                             override=ctx.spec.overrides.inpaint)]
        plan.key_inputs["fixes"] = [{**job.model_dump(mode="json"), "mask_sha256": sha256_bytes(mask)} for job, mask in jobs]
        judge = fix_judge(ctx)
        plan.key_inputs["reviewer"] = judge.identity()
        plan.key_inputs["refs"] = ctx.reviewer_refs(judge)
        plan.key_inputs["style_pack"] = {**plan.key_inputs["style_pack"], **ctx.pack_inputs("palette")}  # the judge scores it
        plan.extra["jobs"] = jobs
        return plan

    def check(self, ctx: PageContext, plan: Plan) -> Verdict:
        verdict = super().check(ctx, plan)
        # a hit, or a miss only because the reviewer's identity moved (its model digest was unknown while Ollama was down)
        record, _ = read_record(ctx.stage_dir(self.dir_name), quiet=True)
        only_reviewer = (record is not None and verdict.state == "miss" and not verdict.failed
                         and changed_inputs(record.key_inputs, key_inputs_with_version(plan.key_inputs)) == ["reviewer"])
        if verdict.state == "hit" or only_reviewer:
            if record is not None and self.judged_by_fallback(ctx, record):
                return Verdict("miss", "a fix was judged by the fallback reviewer because Ollama failed; judging again")
        return verdict

    def judged_by_fallback(self, ctx: PageContext, record: StageRecord) -> bool:
        folder = ctx.stage_dir(self.dir_name)
        for fix in record.fixes:
            try:
                review = ReviewRecord.model_validate_json((folder / fix.review).read_bytes()) if fix.review else None
            except (OSError, ValueError):
                continue
            if review is not None and review.fallback_cause == "service":
                return True
        return False

    def run(self, ctx: PageContext, plan: Plan) -> StageRecord:
        out_dir = clear_stage_dir(ctx.stage_dir(self.dir_name), "inpaint_*.png", "mask_*.png", "fix_*")
        started = now_iso()
        judge = fix_judge(ctx)
        current = Path(plan.params["image"])
        fixes: list[InpaintFix] = []
        models: dict[str, ModelRecord] = {}
        attempts: list[dict[str, Any]] = []
        for job, mask in plan.extra["jobs"]:
            fix, result_path, used = self.repaint(ctx, plan, job, mask, current, judge, out_dir)
            fixes.append(fix)
            models.update({m.name: ModelRecord(name=m.name, sha256=m.sha256) for m in used.models})
            attempts += used.attempts
            if fix.outcome == "kept":
                current = result_path
            else:
                log.warning("page %s inpaint: fix %s (%s %s) reverted: %s", ctx.page, fix.index,
                            "mask" if fix.source == "mask_file" else "defect", fix.label, fix.reason)
        result = out_dir / RESULT
        atomic_write_bytes(result, current.read_bytes())
        seed = plan.params.get("seed")
        kept = sum(f.outcome == "kept" for f in fixes)
        return StageRecord(
            stage=self.name, page=ctx.page, cache_key=plan.cache_key, key_inputs=key_inputs_with_version(plan.key_inputs),
            renderer=ctx.renderer.name, seeds=[seed] if seed is not None else [], models=list(models.values()),
            prompts=Prompts(positive=plan.params.get("prompt", ""), negative=plan.params.get("negative", "")),
            params=relative_params(ctx, plan.params), outputs=[describe_output(result, seed)], attempts=attempts,
            fixes=fixes, notes=[f"{kept} of {len(fixes)} fix(es) kept" + ("" if kept else
                                f"; every fix was reverted, so {RESULT} is the image before inpainting")]
            + [f"fix {f.index} ({f.label}) reverted: {f.reason}" for f in fixes if f.outcome == "reverted"],
            started=started, finished=now_iso(), seconds=0.0)

    def repaint(self, ctx: PageContext, plan: Plan, job: InpaintPlan, mask: bytes, before: Path,
                judge: Reviewer, out_dir: Path):
        stem = f"fix_{job.index:02d}"
        mask_path = out_dir / f"mask_{job.index:02d}.png"
        atomic_write_bytes(mask_path, mask)
        params = {**plan.params, "prompt": job.positive, "negative": job.negative, "denoise": job.denoise,
                  "image": before, "mask": mask_path}
        rendered = render_job(ctx, self.name, params, out_dir, stem)
        after = Path(sorted(rendered.images, key=lambda i: i.batch_index)[0].path)
        workflow = write_json_beside(out_dir, f"{stem}_workflow.json", rendered.workflow) if rendered.workflow else None
        compared = compare_fix(judge, before, after, ctx.review_context())
        review = f"{stem}_review.json"
        atomic_write_json(out_dir / review, compared.review)
        outcome, reason = compared.outcome, compared.reason
        scores = {"before_score": compared.before_score, "after_score": compared.after_score}
        fix = InpaintFix(index=job.index, source=job.source, label=job.label, box=job.box, mask=mask_path.name,
                         mask_file=job.mask_file, prompt=job.positive, negative=job.negative, denoise=job.denoise,
                         severity=job.severity, result=after.name, result_sha256=sha256_file(after), workflow=workflow,
                         outcome=outcome, reason=reason, review=review, **scores)
        return fix, after, rendered
