"""SDXL's own text conditioning: CLIPTextEncodeSDXL with size, crop and target size in place of CLIPTextEncode."""

from __future__ import annotations

from artfarm.comfyui.graph import Graph, Output
from artfarm.comfyui.templates import Anchors
from artfarm.errors import BadInputError


def insert_sdxl_conditioning(graph: Graph, anchors: Anchors, size: tuple[int, int] | None, *, where: str) -> None:
    """``size`` is the stage's sampled size; when the stage has no size parameter (inpaint) it is
    read in the graph from the guide image (``GetImageSize``), which is the image being sampled."""
    if size is not None:
        width, height = size
    elif anchors.guide_image is not None:
        measured = graph.add("GetImageSize", image=Output(*anchors.guide_image))
        width, height = measured.out(0), measured.out(1)
    else:
        raise BadInputError("SDXL conditioning needs the stage's size: the template sets no width/height and "
                            "declares no guide image", where=where, fix="add anchors.guide_image to the template")
    for node_id in (anchors.positive, anchors.negative):
        inputs = graph.inputs(node_id)
        text = inputs.get("text", "")
        graph.replace(node_id, "CLIPTextEncodeSDXL", clip=inputs["clip"], width=width, height=height, crop_w=0, crop_h=0,
                      target_width=width, target_height=height, text_g=text, text_l=text)
