"""The final stage: final/final.png, the print art."""

from __future__ import annotations

import io

from PIL import Image

from artfarm.fsio import atomic_write_bytes
from artfarm.images import load_image
from artfarm.models.records import StageRecord
from artfarm.pipeline.context import PageContext, Plan
from artfarm.pipeline.keys import key_inputs_with_version
from artfarm.pipeline.records import describe_output, now_iso
from artfarm.pipeline.sizes import print_px
from artfarm.pipeline.stage import Stage


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
        image = load_image(source, what="upscaled image")
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

