"""LoRA loaders chained between the checkpoint loader and everything that uses its MODEL and CLIP."""

from __future__ import annotations

from artfarm.comfyui.graph import Graph, Output
from artfarm.comfyui.templates import Anchors
from artfarm.render.modelparams import LoraLoad


def insert_loras(graph: Graph, anchors: Anchors, loras: list[LoraLoad], *, model_only: bool = False) -> None:
    """One LoraLoader per LoRA, in order; the samplers and text encoders then read the last one.
    ``model_only`` (flux and qwen families): LoraLoaderModelOnly, the diffusion model alone."""
    if not loras:
        return
    if model_only:
        _insert_model_only(graph, Output(*anchors.model), loras)
        return
    model, clip = Output(*anchors.model), Output(*anchors.clip)
    loaders = []
    last_model, last_clip = model, clip
    for lora in loras:
        node = graph.add("LoraLoader", model=last_model, clip=last_clip, lora_name=lora.file,
                         strength_model=lora.strength, strength_clip=lora.strength_clip)
        loaders.append(node.id)
        last_model, last_clip = node.out(0), node.out(1)
    graph.rewire(model, last_model, exclude=loaders)
    graph.rewire(clip, last_clip, exclude=loaders)


def _insert_model_only(graph: Graph, model: Output, loras: list[LoraLoad]) -> None:
    loaders, last = [], model
    for lora in loras:
        node = graph.add("LoraLoaderModelOnly", model=last, lora_name=lora.file, strength_model=lora.strength)
        loaders.append(node.id)
        last = node.out(0)
    graph.rewire(model, last, exclude=loaders)
