"""The upscale stage: the print upscale of the page's newest picture."""

from __future__ import annotations

import math
from typing import Any

from artfarm.models.stylepack import FinalTier
from artfarm.pipeline.context import PageContext
from artfarm.pipeline.identity import identity_params
from artfarm.pipeline.stage import RenderStage

DEFAULT_UPSCALE_DENOISE = 0.2


class UpscaleStage(RenderStage):
    name = dir_name = "upscale"

    def params(self, ctx: PageContext) -> dict[str, Any]:
        over = ctx.spec.overrides.upscale
        book = ctx.book.book.render.upscale
        models = ctx.book.book.models
        if book.polish == "none":  # the upscale model alone: no sampler, prompt, checkpoint, LoRA or ControlNet
            family = {k: v for k, v in identity_params(ctx, self.name).items() if k not in ("loras", "control")}
            return {"upscale_model": models.upscale_model, "image": ctx.input_image(self.name), "polish": "none", **family}
        final_steps = ctx.tier("final").steps
        params = self.sampler(ctx, "final", over.steps or book.steps or max(1, final_steps // 2))
        denoise = next((d for d in (over.denoise, book.denoise) if d is not None), DEFAULT_UPSCALE_DENOISE)
        params.update(seed=self.locked_seed(ctx), denoise=denoise,
                      checkpoint=models.final_checkpoint or models.draft_checkpoint,
                      upscale_model=models.upscale_model, image=ctx.input_image(self.name),
                      polish=book.polish, tile=book.tile or native_tile(ctx.pack.pack.tiers.final), overlap=book.overlap)
        params.update(identity_params(ctx, self.name))
        return params


def native_tile(tier: FinalTier) -> int:
    """A square tile with the pixel count of the final tier's working size (the model's native size)."""
    return max(256, round(math.sqrt(tier.width * tier.height) / 8) * 8)

