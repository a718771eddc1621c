"""style_packs/<name>/pack.yaml: the look of a book, as prompt blocks and sampler defaults."""

from __future__ import annotations

from pydantic import Field

from artfarm.models.base import HexColour, Identifier, StrictModel
from artfarm.models.lora import Lora


class SamplerDefaults(StrictModel):
    steps: int = Field(ge=1, le=150)
    cfg: float = Field(ge=0, le=30)
    sampler: str = "euler"
    scheduler: str = "normal"


class DraftTier(SamplerDefaults):
    """Drafts start from noise at this working size (shaped to the page; RenderSpec overrides win)."""

    width: int = Field(ge=64, le=4096, multiple_of=8)
    height: int = Field(ge=64, le=4096, multiple_of=8)


class FinalTier(SamplerDefaults):
    """Refine, inpaint and the print upscale's polish. Refine works at half the print size (so the 2x upscale
    meets it); ``width`` x ``height`` is the final model's native size, which the tiled polish's tiles take
    (as a square of the same area) unless book.yaml render.upscale.tile says otherwise."""

    width: int = Field(ge=64, le=4096, multiple_of=8)
    height: int = Field(ge=64, le=4096, multiple_of=8)
    denoise: float = Field(0.35, ge=0, le=1, description="How far refine moves from the selected draft.")


class Tiers(StrictModel):
    draft: DraftTier
    final: FinalTier


class StylePack(StrictModel):
    name: Identifier
    description: str = ""
    version: int = Field(1, ge=1, description="Bump it to render every page that uses the pack again.")
    positive: list[str] = Field(default_factory=list, description="Prompt terms added to every page, in order.")
    negative: list[str] = Field(default_factory=list)
    palette: dict[str, HexColour] = Field(default_factory=dict, description="Named colours, e.g. honey: '#F2C14E'.")
    loras: list[Lora] = Field(default_factory=list, description="Loaded in order by every render stage, before any character's.")
    tiers: Tiers
