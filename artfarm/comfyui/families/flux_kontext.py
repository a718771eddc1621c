"""Flux.1 Kontext: Flux's loaders and conditioning, plus a chain of ReferenceLatent nodes (one per
reference image, each scaled by FluxKontextImageScale and VAE-encoded) between the prompt and FluxGuidance."""

from __future__ import annotations

from artfarm.comfyui.families import flux
from artfarm.comfyui.families.build import FamilyGraphs
from artfarm.comfyui.graph import Graph, Output
from artfarm.comfyui.templates import Anchors


def insert_references(graph: Graph, anchors: Anchors, images: list[str]) -> None:
    """``images``: the uploaded references' server names, in order; ``anchors.positive`` is the FluxGuidance node."""
    conditioning = graph.inputs(anchors.positive)["conditioning"]
    for name in images:
        loaded = graph.add("LoadImage", image=name)
        scaled = graph.add("FluxKontextImageScale", image=loaded.out())
        latent = graph.add("VAEEncode", pixels=scaled.out(), vae=Output(*anchors.vae))
        conditioning = graph.add("ReferenceLatent", conditioning=conditioning, latent=latent.out()).out()
    graph.set(anchors.positive, conditioning=conditioning)


GRAPHS = FamilyGraphs("flux_kontext", flux.load, flux.encode, insert_references, module=__file__)
