"""style_packs/<name>/pack.yaml: the look of a book, as prompt blocks and sampler defaults."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from artfarm.families import CHECKPOINT_FAMILIES, FAMILIES, Family
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


class FamilySampler(StrictModel):
    """A family's sampler settings in a style pack; what is left out keeps the family's default (artfarm/families.py)."""

    steps: int | None = Field(None, ge=1, le=150)
    cfg: float | None = Field(None, ge=0, le=30)
    sampler: str | None = None
    scheduler: str | None = None
    guidance: float | None = Field(None, ge=0, le=100, description="Flux families: FluxGuidance (flux 3.5, kontext 2.5).")
    shift: float | None = Field(None, ge=0, le=100, description="Qwen families: ModelSamplingAuraFlow shift.")

    def set_values(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class FamilyDraft(FamilySampler):
    width: int | None = Field(None, ge=64, le=4096, multiple_of=8, description="Draft working size; default the family's native size.")
    height: int | None = Field(None, ge=64, le=4096, multiple_of=8)


class FamilyFinal(FamilySampler):
    denoise: float | None = Field(None, ge=0, le=1, description="How far refine moves from the selected draft.")


class FamilyTiers(StrictModel):
    draft: FamilyDraft = Field(default_factory=FamilyDraft)
    final: FamilyFinal = Field(default_factory=FamilyFinal)


class StylePack(StrictModel):
    name: Identifier
    description: str = ""
    version: int = Field(1, ge=1, description="Bump it to render every page that uses the pack again.")
    positive: list[str] = Field(default_factory=list, description="Prompt terms added to every page, in order.")
    negative: list[str] = Field(default_factory=list)
    palette: dict[str, HexColour] = Field(default_factory=dict, description="Named colours, e.g. honey: '#F2C14E'.")
    loras: list[Lora] = Field(default_factory=list, description="Loaded in order by every render stage, before any character's.")
    tiers: Tiers = Field(description="Sampler defaults of the checkpoint families (sd15, sdxl).")
    families: dict[Family, FamilyTiers] = Field(default_factory=dict, description="Per-family sampler settings for "
                                                "flux, flux_kontext, qwen_image, qwen_image_edit (draft and final).")

    @model_validator(mode="after")
    def _family_settings_fit_the_family(self) -> StylePack:
        for name, tiers in self.families.items():
            if name in CHECKPOINT_FAMILIES:
                raise ValueError(f"families.{name}: {name} takes its sampler settings from tiers; remove families.{name}")
            for tier in ("draft", "final"):
                for extra in ("guidance", "shift"):
                    if getattr(getattr(tiers, tier), extra) is not None and extra not in FAMILIES[name].extras:
                        raise ValueError(f"families.{name}.{tier}.{extra}: {name} has no {extra} setting "
                                         f"(it has: {', '.join(FAMILIES[name].extras) or 'none beyond steps, cfg, sampler, scheduler'})")
        return self
