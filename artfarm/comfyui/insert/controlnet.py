"""A ControlNet on the samplers' conditioning, following the stage's guide image (canny edges or as is)."""

from __future__ import annotations

from artfarm.comfyui.graph import Graph, Output
from artfarm.comfyui.templates import Anchors
from artfarm.errors import BadInputError
from artfarm.render.modelparams import ControlGuide

CANNY_THRESHOLDS = {"low_threshold": 0.4, "high_threshold": 0.8}  # the core Canny node's defaults


def insert_controlnet(graph: Graph, anchors: Anchors, control: ControlGuide, *, where: str, with_vae: bool = False) -> None:
    """``with_vae``: Flux ControlNets need the VAE (ControlNetApplyAdvanced's optional ``vae``)."""
    if anchors.guide_image is None:
        raise BadInputError("this template declares no guide image, so it cannot take a ControlNet", where=where,
                            fix="remove the stage from render.control.stages in book.yaml, or add anchors.guide_image")
    guide = Output(*anchors.guide_image)
    loader = graph.add("ControlNetLoader", control_net_name=control.model)
    hint = graph.add("Canny", image=guide, **CANNY_THRESHOLDS).out(0) if control.preprocessor == "canny" else guide
    apply = graph.add("ControlNetApplyAdvanced", positive=Output(anchors.positive, 0), negative=Output(anchors.negative, 0),
                      control_net=loader.out(0), image=hint, strength=control.strength,
                      start_percent=control.start, end_percent=control.end,
                      **({"vae": Output(*anchors.vae)} if with_vae else {}))
    for sampler in anchors.samplers:
        graph.set(sampler, positive=apply.out(0), negative=apply.out(1))
