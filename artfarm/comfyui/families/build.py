"""A family's four stage templates, built in code with the graph builder from ComfyUI core nodes.

Every family shares the stage bodies (draft: an empty latent sampled from noise; refine: the
picture scaled to the stage's size, encoded and sampled at low denoise; inpaint: the masked
picture; upscale: model upscale, resize, tiled encode, polish) and differs in how it loads its
files (``load``) and how it conditions (``encode``), one module per family. The result is an
ordinary ``Template`` (graph, declared parameters, anchors), so parameter setting, LoRAs,
ControlNet, the tiled polish, out-of-memory recovery and ``artfarm graph`` work on it exactly as
on workflows/*.json. Node ids are numbered in the order nodes are added: the same family and
stage always give the same graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from artfarm.comfyui.graph import Graph, Node, Output
from artfarm.comfyui.templates import TILED_DECODE_INPUTS, Anchors, Binding, ParamDecl, Template, TemplateDecl

SET_BY_ARTFARM = "set-by-artfarm.safetensors"
SAMPLER_PARAMS = {"seed": "seed", "steps": "steps", "cfg": "cfg", "sampler_name": "sampler", "scheduler": "scheduler"}
DESCRIPTIONS = {"draft": "txt2img burst: batch candidates at draft size", "refine": "img2img of the selected draft",
                "inpaint": "repaint the masked part of the picture", "upscale": "model upscale, resize, polish"}


@dataclass(frozen=True)
class Loaded:
    model: Output          # the loader's MODEL: LoRAs attach right after it
    sampler_model: Output  # what the samplers read (after the family's model patches)
    clip: Output
    vae: Output


@dataclass(frozen=True)
class Encoded:
    positive: Node         # the samplers' positive conditioning (output 0)
    negative: Node


class TemplateBuilder:
    """A graph being built and the artfarm parameters its node inputs are bound to."""

    def __init__(self) -> None:
        self.graph = Graph()
        self.params: dict[str, ParamDecl] = {}

    def add(self, class_type: str, bind: dict[str, str] | None = None, *, kind: str = "value", required: bool = False,
            onto: str | None = None, **inputs: Any) -> Node:
        """A node; ``bind`` maps its inputs to the parameters that set them."""
        node = self.graph.add(class_type, **inputs)
        for input_name, param in (bind or {}).items():
            self.bind(param, node, input_name, kind=kind, required=required, onto=onto)
        return node

    def bind(self, param: str, node: Node, input_name: str, **decl: Any) -> None:
        target = Binding(node=node.id, input=input_name)
        if param in self.params:
            self.params[param].targets.append(target)
        else:
            self.params[param] = ParamDecl(targets=[target], **decl)


@dataclass(frozen=True)
class FamilyGraphs:
    """How one family loads and conditions; the stage bodies are shared."""

    name: str
    load: Callable[[TemplateBuilder], Loaded]
    encode: Callable[[TemplateBuilder, Loaded], Encoded]
    insert_references: Callable[[Graph, Anchors, list[str]], None] | None = None
    module: str = ""


def build_template(family: FamilyGraphs, stage: Literal["draft", "refine", "inpaint", "upscale"]) -> Template:
    b = TemplateBuilder()
    loaded = family.load(b)
    encoded = family.encode(b, loaded)
    guide: Output | None = None
    decode_node: str | None = None
    if stage == "draft":
        latent = b.add("EmptySD3LatentImage", {"width": "width", "height": "height", "batch_size": "batch"},
                       width=1024, height=1024, batch_size=1).out()
    elif stage == "inpaint":
        image = b.add("LoadImage", {"image": "image"}, kind="image", image="set-by-artfarm.png")
        b.bind("mask", image, "image", kind="mask", onto="image")
        guide = image.out(0)
        encoded_image = b.add("VAEEncode", pixels=guide, vae=loaded.vae)
        latent = b.add("SetLatentNoiseMask", samples=encoded_image.out(), mask=image.out(1)).out()
    elif stage == "refine":
        image = b.add("LoadImage", {"image": "image"}, kind="image", image="set-by-artfarm.png")
        guide = b.add("ImageScale", {"width": "width", "height": "height"}, image=image.out(), upscale_method="lanczos",
                      width=1024, height=1024, crop="center").out()
        latent = b.add("VAEEncode", pixels=guide, vae=loaded.vae).out()
    else:
        image = b.add("LoadImage", {"image": "image"}, kind="image", image="set-by-artfarm.png")
        upscaler = b.add("UpscaleModelLoader", {"model_name": "upscale_model"}, model_name=SET_BY_ARTFARM)
        upscaled = b.add("ImageUpscaleWithModel", upscale_model=upscaler.out(), image=image.out())
        guide = b.add("ImageScale", {"width": "width", "height": "height"}, image=upscaled.out(), upscale_method="lanczos",
                      width=2048, height=2048, crop="disabled").out()
        latent = b.add("VAEEncodeTiled", pixels=guide, vae=loaded.vae, **TILED_DECODE_INPUTS).out()
    sampler = b.add("KSampler", {**SAMPLER_PARAMS, **({} if stage == "draft" else {"denoise": "denoise"})},
                    model=loaded.sampler_model, seed=0, steps=20, cfg=1.0, sampler_name="euler", scheduler="simple",
                    positive=encoded.positive.out(), negative=encoded.negative.out(), latent_image=latent,
                    denoise=1.0 if stage == "draft" else 0.35)
    if stage == "upscale":
        decoded = b.add("VAEDecodeTiled", samples=sampler.out(), vae=loaded.vae, **TILED_DECODE_INPUTS)
    else:
        decoded = b.add("VAEDecode", samples=sampler.out(), vae=loaded.vae)
        decode_node = decoded.id
    result = decoded.out()
    if stage == "inpaint":
        result = b.add("ImageCompositeMasked", destination=guide, source=result, x=0, y=0, resize_source=False,
                       mask=image.out(1)).out()
    preview = b.add("PreviewImage", images=result)
    anchors = Anchors(model=(loaded.model.node, loaded.model.index), clip=(loaded.clip.node, loaded.clip.index),
                      vae=(loaded.vae.node, loaded.vae.index), positive=encoded.positive.id, negative=encoded.negative.id,
                      samplers=[sampler.id], guide_image=(guide.node, guide.index) if guide is not None else None)
    decl = TemplateDecl(stage=stage, description=f"{family.name}: {DESCRIPTIONS[stage]}", parameters=b.params,
                        output_node=preview.id, decode_node=decode_node, anchors=anchors)
    return Template(name=f"{family.name}/{stage}", path=Path(family.module), graph=b.graph.to_api(), decl=decl,
                    source=f"artfarm/comfyui/families/{Path(family.module).name} ({stage})")


def family_values(values: dict[str, Any]) -> dict[str, Any]:
    """``text_encoders`` (a list, in the loader's order) as the template's ``text_encoder_1``, ``_2`` parameters."""
    out = {k: v for k, v in values.items() if k != "text_encoders"}
    for i, name in enumerate(values.get("text_encoders") or [], start=1):
        out[f"text_encoder_{i}"] = name
    return out


def model_loaders(b: TemplateBuilder, clip_loader: str, clip_bind: dict[str, str], **clip_inputs: Any) -> tuple[Node, Node, Node]:
    """UNETLoader, the family's text encoder loader and VAELoader, bound to the pinned files."""
    unet = b.add("UNETLoader", {"unet_name": "diffusion_model"}, required=True, unet_name=SET_BY_ARTFARM,
                 weight_dtype="default")
    clip = b.add(clip_loader, clip_bind, required=True, **clip_inputs)
    vae = b.add("VAELoader", {"vae_name": "vae"}, required=True, vae_name=SET_BY_ARTFARM)
    return unet, clip, vae
