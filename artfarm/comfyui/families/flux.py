"""Flux.1: UNETLoader + DualCLIPLoader (type flux: clip_l, t5xxl) + VAELoader; FluxGuidance on the
prompt, no negative prompt (cfg 1, so the sampler's negative is the prompt zeroed out)."""

from __future__ import annotations

from artfarm.comfyui.families.build import SET_BY_ARTFARM, Encoded, FamilyGraphs, Loaded, TemplateBuilder, model_loaders


def load(b: TemplateBuilder) -> Loaded:
    unet, clip, vae = model_loaders(b, "DualCLIPLoader", {"clip_name1": "text_encoder_1", "clip_name2": "text_encoder_2"},
                                    clip_name1=SET_BY_ARTFARM, clip_name2=SET_BY_ARTFARM, type="flux")
    return Loaded(model=unet.out(), sampler_model=unet.out(), clip=clip.out(), vae=vae.out())


def encode(b: TemplateBuilder, loaded: Loaded) -> Encoded:
    text = b.add("CLIPTextEncode", {"text": "prompt"}, text="a picture book illustration", clip=loaded.clip)
    guided = b.add("FluxGuidance", {"guidance": "guidance"}, conditioning=text.out(), guidance=3.5)
    return Encoded(positive=guided, negative=b.add("ConditioningZeroOut", conditioning=text.out()))


GRAPHS = FamilyGraphs("flux", load, encode, module=__file__)
