"""The draft stage: a burst of cheap candidates at the draft size, seeds seed, seed+1, ..."""

from __future__ import annotations

from typing import Any

from artfarm.pipeline.context import PageContext
from artfarm.pipeline.identity import identity_params
from artfarm.pipeline.sizes import draft_size, print_px
from artfarm.pipeline.stage import RenderStage


class DraftStage(RenderStage):
    name = dir_name = "draft"
    makes_picture = False

    def params(self, ctx: PageContext) -> dict[str, Any]:
        over = ctx.spec.overrides.draft
        tier = ctx.tier("draft")
        width, height = draft_size(tier.width, tier.height, print_px(ctx.book.book, ctx.page), over.width, over.height)
        params = self.sampler(ctx, "draft", over.steps, over.cfg)
        params.update(seed=ctx.spec.seed, width=width, height=height,
                      batch=over.count or ctx.book.book.render.draft_count,
                      checkpoint=ctx.book.book.models.draft_checkpoint)
        params["sampler"] = over.sampler or params["sampler"]
        params["scheduler"] = over.scheduler or params["scheduler"]
        params.update(identity_params(ctx, self.name))
        return params

