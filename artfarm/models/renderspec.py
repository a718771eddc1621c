"""RenderSpec: what one page's art shows, written by a person or an agent."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from artfarm.models.base import BookPath, Identifier, NonBlankStr, StrictModel

Shot = Literal["establishing", "wide", "full", "medium", "medium-close", "close-up", "extreme-close-up"]
Angle = Literal["eye-level", "low", "high", "birds-eye", "worms-eye", "over-the-shoulder", "dutch"]
TimeOfDay = Literal["dawn", "morning", "midday", "afternoon", "golden-hour", "dusk", "night"]

SEED_MAX = 2**53 - 1


class CharacterInScene(StrictModel):
    id: Identifier
    pose: str = ""
    emotion: str = ""


class Camera(StrictModel):
    shot: Shot = "medium"
    angle: Angle = "eye-level"
    lens: str = Field("35mm", description="Focal length as a photographer says it, e.g. '35mm'.")


class Environment(StrictModel):
    time: TimeOfDay = "afternoon"
    weather: str = "clear sky"
    location: str = ""


class Refs(StrictModel):
    style: list[BookPath] = Field(default_factory=list)
    characters: dict[Identifier, list[BookPath]] = Field(default_factory=dict)
    use: list[BookPath] | None = Field(None, description="The reference pictures the graphs of flux_kontext and "
                                       "qwen_image_edit condition on, in this order (each one of this page's character "
                                       "or style refs); default: the characters' sheets, then the style refs.")


class DraftOverrides(StrictModel):
    count: int | None = Field(None, ge=1, le=16)
    steps: int | None = Field(None, ge=1, le=150)
    cfg: float | None = Field(None, ge=0, le=30)
    width: int | None = Field(None, ge=64, le=4096, multiple_of=8)
    height: int | None = Field(None, ge=64, le=4096, multiple_of=8)
    sampler: str | None = None
    scheduler: str | None = None


class RefineOverrides(StrictModel):
    denoise: float | None = Field(None, gt=0, le=1)
    steps: int | None = Field(None, ge=1, le=150)
    cfg: float | None = Field(None, ge=0, le=30)


class InpaintOverrides(StrictModel):
    denoise: float | None = Field(None, gt=0, le=1)
    steps: int | None = Field(None, ge=1, le=150)


class UpscaleOverrides(StrictModel):
    denoise: float | None = Field(None, ge=0, le=1)
    steps: int | None = Field(None, ge=1, le=150)


class Overrides(StrictModel):
    draft: DraftOverrides = Field(default_factory=DraftOverrides)
    refine: RefineOverrides = Field(default_factory=RefineOverrides)
    inpaint: InpaintOverrides = Field(default_factory=InpaintOverrides)
    upscale: UpscaleOverrides = Field(default_factory=UpscaleOverrides)


class RenderSpec(StrictModel):
    """One page's art, as data. Page 0 is the cover."""

    schema_ref: str | None = Field(None, alias="$schema", description="Optional JSON Schema link for editors.")
    book_id: Identifier
    page: int = Field(ge=0, le=9999, description="Page number; 0 is the cover. Must match the pages/NNNN folder.")
    intent: Literal["illustration", "cover", "spot"] = "illustration"
    scene: NonBlankStr
    characters: list[CharacterInScene] = Field(default_factory=list)
    camera: Camera = Field(default_factory=Camera)
    environment: Environment = Field(default_factory=Environment)
    constraints: list[str] = Field(default_factory=list)
    style_pack: Identifier
    refs: Refs = Field(default_factory=Refs)
    seed: int = Field(ge=0, le=SEED_MAX)
    overrides: Overrides = Field(default_factory=Overrides)
