"""A LoRA as a style pack or a character names it (pack.yaml ``loras:``, characters.yaml ``lora:``)."""

from __future__ import annotations

from pydantic import Field

from artfarm.models.base import NonBlankStr, StrictModel


class Lora(StrictModel):
    file: NonBlankStr = Field(description="The LoRA file as the ComfyUI server lists it (its models/loras folder).")
    strength: float = Field(0.8, ge=-4, le=4, description="Strength on the diffusion model.")
    strength_clip: float | None = Field(None, ge=-4, le=4, description="Strength on the text encoder; defaults to strength.")
    trigger_words: list[str] = Field(default_factory=list, description="Added to the prompt wherever the LoRA loads.")

    def load(self) -> dict[str, object]:
        """The render parameter for one LoRA loader (artfarm/render/modelparams.py LoraLoad)."""
        clip = self.strength if self.strength_clip is None else self.strength_clip
        return {"file": self.file, "strength": self.strength, "strength_clip": clip}
