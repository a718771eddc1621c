"""Qwen-Image-Edit(-2509): Qwen-Image's loaders, ModelSamplingAuraFlow and CFGNorm on the model, and
TextEncodeQwenImageEditPlus for both prompts, which takes up to three reference images (image1..3)
and the VAE (their reference latents). With no references it conditions on the text alone."""

from __future__ import annotations

from artfarm.comfyui.families.build import Encoded, FamilyGraphs, Loaded, TemplateBuilder
from artfarm.comfyui.families import qwen_image
from artfarm.comfyui.graph import Graph
from artfarm.comfyui.templates import Anchors

MAX_IMAGES = 3  # TextEncodeQwenImageEditPlus: image1, image2, image3


def load(b: TemplateBuilder) -> Loaded:
    base = qwen_image.load(b)
    normed = b.add("CFGNorm", model=base.sampler_model, strength=1.0)
    return Loaded(model=base.model, sampler_model=normed.out(), clip=base.clip, vae=base.vae)


def encode(b: TemplateBuilder, loaded: Loaded) -> Encoded:
    positive = b.add("TextEncodeQwenImageEditPlus", {"prompt": "prompt"}, clip=loaded.clip, prompt="a picture book illustration",
                     vae=loaded.vae)
    negative = b.add("TextEncodeQwenImageEditPlus", {"prompt": "negative"}, clip=loaded.clip, prompt=" ", vae=loaded.vae)
    return Encoded(positive=positive, negative=negative)


def insert_references(graph: Graph, anchors: Anchors, images: list[str]) -> None:
    """Both encoders see the same images, in order (as ComfyUI's own 2509 workflow does)."""
    loads = [graph.add("LoadImage", image=name).out() for name in images[:MAX_IMAGES]]
    for node in (anchors.positive, anchors.negative):
        graph.set(node, **{f"image{i}": image for i, image in enumerate(loads, start=1)})


GRAPHS = FamilyGraphs("qwen_image_edit", load, encode, insert_references, module=__file__)
