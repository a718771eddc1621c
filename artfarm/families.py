"""What each model family is: the files it loads, what its graphs can take, its sampling defaults.

One table the book model (which pins a family needs), ``validate`` (what a family cannot do),
the prompt compiler (terms or sentences), the pipeline (sampler defaults, reference images)
and the ComfyUI graphs (artfarm/comfyui/families/) all read, so they cannot disagree.

Sampling defaults are the ones the ComfyUI examples for each model use (Flux.1-dev: 20 steps,
cfg 1, guidance 3.5; Kontext-dev: guidance 2.5; Qwen-Image: cfg 2.5, AuraFlow shift 3.1;
Qwen-Image-Edit-2509: shift 3, CFGNorm). A style pack's ``families:`` section overrides them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Family = Literal["sd15", "sdxl", "flux", "flux_kontext", "qwen_image", "qwen_image_edit"]
FAMILY_NAMES: tuple[str, ...] = ("sd15", "sdxl", "flux", "flux_kontext", "qwen_image", "qwen_image_edit")
CHECKPOINT_FAMILIES = ("sd15", "sdxl")
FILE_PINS = ("diffusion_model", "text_encoders", "vae")  # each may be tier-prefixed (draft_/final_)


@dataclass(frozen=True)
class FamilyInfo:
    name: str
    label: str
    text_encoders: int             # 0: the checkpoint holds them
    encoder_names: str             # what the text encoders are, in the loader's order (for messages)
    negative_prompt: bool
    max_refs: int                  # reference images the draft and refine graphs take
    lora: Literal["model_and_clip", "model_only"]
    controlnet: bool
    prompt_style: Literal["terms", "sentences"]
    native: int                    # side of the square size it was trained at (drafts, polish tiles)
    draft: dict[str, Any] = field(default_factory=dict)   # sampler defaults (None: the style pack's tiers)
    final: dict[str, Any] = field(default_factory=dict)
    extras: tuple[str, ...] = ()   # sampler settings beyond steps/cfg/sampler/scheduler this family has

    @property
    def uses_checkpoint(self) -> bool:
        return self.text_encoders == 0

    def defaults(self, tier: str) -> dict[str, Any]:
        return dict(self.draft if tier == "draft" else self.final)


_FLUX = {"steps": 20, "cfg": 1.0, "sampler": "euler", "scheduler": "simple"}
_QWEN = {"steps": 20, "cfg": 2.5, "sampler": "euler", "scheduler": "simple"}

FAMILIES: dict[str, FamilyInfo] = {
    "sd15": FamilyInfo("sd15", "Stable Diffusion 1.5", 0, "", True, 0, "model_and_clip", True, "terms", 768),
    "sdxl": FamilyInfo("sdxl", "SDXL", 0, "", True, 0, "model_and_clip", True, "terms", 1024),
    "flux": FamilyInfo("flux", "Flux.1", 2, "clip_l, then t5xxl (DualCLIPLoader type flux)", False, 0, "model_only",
                       True, "sentences", 1024, {**_FLUX, "guidance": 3.5}, {**_FLUX, "guidance": 3.5}, ("guidance",)),
    "flux_kontext": FamilyInfo("flux_kontext", "Flux.1 Kontext", 2, "clip_l, then t5xxl (DualCLIPLoader type flux)",
                               False, 4, "model_only", False, "sentences", 1024, {**_FLUX, "guidance": 2.5},
                               {**_FLUX, "guidance": 2.5}, ("guidance",)),
    "qwen_image": FamilyInfo("qwen_image", "Qwen-Image", 1, "qwen_2.5_vl_7b (CLIPLoader type qwen_image)", True, 0,
                             "model_only", False, "sentences", 1328, {**_QWEN, "shift": 3.1}, {**_QWEN, "shift": 3.1},
                             ("shift",)),
    "qwen_image_edit": FamilyInfo("qwen_image_edit", "Qwen-Image-Edit(-2509)", 1,
                                  "qwen_2.5_vl_7b (CLIPLoader type qwen_image)", True, 3, "model_only", False,
                                  "sentences", 1024, {**_QWEN, "shift": 3.0}, {**_QWEN, "shift": 3.0}, ("shift",)),
}


def family_info(name: str) -> FamilyInfo:
    return FAMILIES[name]
