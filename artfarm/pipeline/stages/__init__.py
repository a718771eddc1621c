"""The stages of a page, in order, one module each.

    draft -> review -> refine -> inpaint -> loop -> upscale -> final
"""

from __future__ import annotations

from artfarm.pipeline.context import PICTURE_STAGES, STAGE_DIRS, STAGE_ORDER
from artfarm.pipeline.stage import Stage
from artfarm.pipeline.stages.draft import DraftStage
from artfarm.pipeline.stages.final import FinalStage
from artfarm.pipeline.stages.inpaint import InpaintStage
from artfarm.pipeline.stages.loop import LoopStage
from artfarm.pipeline.stages.refine import RefineStage
from artfarm.pipeline.stages.review import ReviewStage
from artfarm.pipeline.stages.upscale import UpscaleStage

STAGES: list[Stage] = [DraftStage(), ReviewStage(), RefineStage(), InpaintStage(), LoopStage(), UpscaleStage(), FinalStage()]
STAGE_BY_NAME = {s.name: s for s in STAGES}
# one order and one folder per stage for records, status, --from and the engine
if [s.name for s in STAGES] != STAGE_ORDER:
    raise RuntimeError(f"STAGES {[s.name for s in STAGES]} must follow StageName {STAGE_ORDER} (artfarm/models/records.py)")
if {s.name: s.dir_name for s in STAGES} != STAGE_DIRS or {s.name for s in STAGES if s.makes_picture} != PICTURE_STAGES:
    raise RuntimeError("a stage's dir_name or makes_picture disagrees with artfarm/pipeline/context.py")

__all__ = ["STAGES", "STAGE_BY_NAME", "STAGE_DIRS", "STAGE_ORDER", "Stage"]
