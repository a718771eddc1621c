"""Qwen-Image: UNETLoader + CLIPLoader (type qwen_image) + VAELoader, ModelSamplingAuraFlow (shift)
on the model, CLIPTextEncode for the prompt and the negative prompt (true cfg)."""

from __future__ import annotations

from artfarm.comfyui.families.build import SET_BY_ARTFARM, Encoded, FamilyGraphs, Loaded, TemplateBuilder, model_loaders


def load(b: TemplateBuilder) -> Loaded:
    unet, clip, vae = model_loaders(b, "CLIPLoader", {"clip_name": "text_encoder_1"}, clip_name=SET_BY_ARTFARM,
                                    type="qwen_image")
    shifted = b.add("ModelSamplingAuraFlow", {"shift": "shift"}, model=unet.out(), shift=3.1)
    return Loaded(model=unet.out(), sampler_model=shifted.out(), clip=clip.out(), vae=vae.out())


def encode(b: TemplateBuilder, loaded: Loaded) -> Encoded:
    positive = b.add("CLIPTextEncode", {"text": "prompt"}, text="a picture book illustration", clip=loaded.clip)
    negative = b.add("CLIPTextEncode", {"text": "negative"}, text=" ", clip=loaded.clip)
    return Encoded(positive=positive, negative=negative)


GRAPHS = FamilyGraphs("qwen_image", load, encode, module=__file__)
