"""The two kinds of stage: ``Stage`` (key, check, run) and ``RenderStage`` (one renderer job).

Each stage is a small class: ``needed`` (inpaint only runs for defects or masks, the loop only
with a reviewer that can critique), ``plan`` (parameters and key inputs; no side effects, so
``status`` can use it), ``check`` (is the record a hit?) and ``run``. To add a stage, write one
module in artfarm/pipeline/stages/ and put its class in ``STAGES``: ``ctx.input_image(name)`` is
the newest picture made before a stage, so the stages after it pick up its output.
Render stages build their parameters in ``params`` (names as in artfarm/render/base.py);
``RenderStage.plan`` turns them into the key, so a new parameter is in the key by itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artfarm.models.records import ModelRecord, Prompts, StageRecord
from artfarm.pipeline.context import PageContext, Plan, Verdict, clear_stage_dir, relative_params, render_job
from artfarm.pipeline.keys import key_inputs_with_version, why_changed
from artfarm.pipeline.records import (describe_output, edited_files, edited_reason, now_iso, outputs_problem, read_record,
                                      write_json_beside)

MODEL_FILE_PARAMS = ("checkpoint", "diffusion_model", "text_encoders", "vae", "upscale_model")


class Stage:
    name: str = ""
    dir_name: str = ""
    makes_picture: bool = True  # its first output is the page's picture so far (the draft's is a burst, so no)

    def needed(self, ctx: PageContext) -> tuple[bool, str]:
        return True, ""

    def plan(self, ctx: PageContext) -> Plan:
        raise NotImplementedError

    def verdict(self, ctx: PageContext, plan: Plan) -> Verdict:
        """What a run and ``status`` ask. A person's edit comes first: whatever else changed, an output
        whose bytes differ from the record is never overwritten by a plain run (see pipeline/edits.py)."""
        record, _ = read_record(ctx.stage_dir(self.dir_name), quiet=True)
        edited = edited_files(ctx.stage_dir(self.dir_name), record)
        if edited:
            return Verdict("edited", edited_reason(ctx.book.id, ctx.page, self.name, edited), record)
        return self.check(ctx, plan)

    def adopted_key(self, ctx: PageContext, plan: Plan, record: StageRecord) -> tuple[str, dict[str, Any]] | None:
        """The key an adopted output is recorded under: the stage's current one, so it counts as done
        now; None keeps the record's key (a stage whose key is not its plan's)."""
        return plan.cache_key, plan.key_inputs

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
    """A stage that sends one job to the renderer. Its key holds what the graph reads: the parameters
    (sizes included, so no print size unless a parameter derives from it; the style pack's sampler
    defaults through the values they set), prompts, models and input images."""

    def params(self, ctx: PageContext) -> dict[str, Any]:
        raise NotImplementedError

    def plan(self, ctx: PageContext) -> Plan:
        params = {k: v for k, v in self.params(ctx).items() if v is not None}
        files = {k: v for k, v in params.items() if isinstance(v, Path)}
        pictures = {k: v for k, v in params.items() if isinstance(v, list) and v and all(isinstance(p, Path) for p in v)}
        models = {k: params[k] for k in MODEL_FILE_PARAMS if k in params}
        plain = {k: v for k, v in params.items() if k not in files and k not in models and k not in pictures}
        inputs = {k: ctx.sha_of(v) for k, v in files.items()}
        inputs.update({k: ctx.reference_inputs(v) for k, v in pictures.items()})
        inputs.update({k: v for k, v in self.extra_inputs(ctx).items()})
        key_inputs = {
            "stage": self.name,
            "renderer": ctx.renderer_identity(self.name),
            "spec": ctx.spec_fields(self.name),
            "style_pack": ctx.pack_inputs("positive", "negative", "loras"),
            "prompts": {"positive": params.get("prompt", ""), "negative": params.get("negative", "")},
            "params": plain,
            "models": models,
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
        defaults = ctx.tier(tier)
        return {"prompt": ctx.prompt.positive, "negative": ctx.prompt.negative,
                "steps": steps or defaults.steps, "cfg": cfg if cfg is not None else defaults.cfg,
                "sampler": defaults.sampler, "scheduler": defaults.scheduler, **defaults.extras}

    def locked_seed(self, ctx: PageContext) -> int:
        """Once a composition is selected its seed is used for everything after it."""
        seeds = ctx.done["review"].seeds
        return seeds[0] if seeds else ctx.spec.seed

