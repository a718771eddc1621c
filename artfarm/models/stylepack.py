"""style_packs/<name>/pack.yaml: the look of a book, as prompt blocks and sampler defaults."""

from __future__ import annotations

from pydantic import Field

from artfarm.models.base import HexColour, Identifier, StrictModel
from artfarm.models.lora import Lora


class TierDefaults(StrictModel):
    steps: int = Field(ge=1, le=150)
    cfg: float = Field(ge=0, le=30)
    sampler: str = "euler"
    scheduler: str = "normal"
    width: int = Field(ge=64, le=4096, multiple_of=8)
    height: int = Field(ge=64, le=4096, multiple_of=8)
    denoise: float = Field(1.0, ge=0, le=1)


class Tiers(StrictModel):
    draft: TierDefaults
    final: TierDefaults


class StylePack(StrictModel):
    name: Identifier
    description: str = ""
    version: int = Field(1, ge=1)
    positive: list[str] = Field(default_factory=list, description="Prompt terms added to every page, in order.")
    negative: list[str] = Field(default_factory=list)
    palette: dict[str, HexColour] = Field(default_factory=dict, description="Named colours, e.g. honey: '#F2C14E'.")
    loras: list[Lora] = Field(default_factory=list, description="Loaded in order by every render stage, before any character's.")
    tiers: Tiers
