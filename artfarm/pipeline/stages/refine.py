"""The refine stage: img2img of the selected draft at half the print size, its seed locked."""

from __future__ import annotations

from typing import Any

from artfarm.pipeline.context import PageContext
from artfarm.pipeline.identity import identity_params
from artfarm.pipeline.sizes import half_print, print_px
from artfarm.pipeline.stage import RenderStage


class RefineStage(RenderStage):
    name = dir_name = "refine"

    def params(self, ctx: PageContext) -> dict[str, Any]:
        over = ctx.spec.overrides.refine
        params = self.sampler(ctx, "final", over.steps, over.cfg)
        models = ctx.book.book.models
        width, height = half_print(print_px(ctx.book.book, ctx.page))  # so the 2x upscale meets the print size
        params.update(seed=self.locked_seed(ctx), denoise=over.denoise if over.denoise is not None else ctx.tier("final").denoise,
                      width=width, height=height,
                      checkpoint=models.final_checkpoint or models.draft_checkpoint, image=ctx.input_image(self.name))
        params.update(identity_params(ctx, self.name))
        return params

