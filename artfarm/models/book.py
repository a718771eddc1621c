"""book.yaml: title, trim, layout, model pins, render defaults, page order and text."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from artfarm.families import CHECKPOINT_FAMILIES, FILE_PINS, Family, family_info
from artfarm.models.base import HexColour, Identifier, NonBlankStr, StrictModel

Placement = Literal["top", "bottom", "left", "right", "auto"]
ArtFrame = Literal["full-bleed", "framed"]
Paper = Literal["white", "cream", "premium-color"]
Printer = Literal["generic", "kdp", "ingramspark"]  # profiles in artfarm/layout/data/printers.yaml

TRIM_PRESETS = {"8.5x8.5": (8.5, 8.5), "8x10": (8.0, 10.0), "8.5x11": (8.5, 11.0), "10x8": (10.0, 8.0)}


class Trim(StrictModel):
    width_in: float = Field(gt=1, le=48)
    height_in: float = Field(gt=1, le=48)

    @model_validator(mode="before")
    @classmethod
    def _from_preset(cls, value: Any) -> Any:
        """Accept '8.5x8.5' (any WxH in inches) as well as the full mapping."""
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[xX×]\s*(\d+(?:\.\d+)?)\s*(?:in)?\s*", value)
            if not match:
                raise ValueError(f"trim must look like '8.5x8.5' (inches) or be {{width_in, height_in}}; got {value!r}")
            return {"width_in": float(match[1]), "height_in": float(match[2])}
        return value


class Typography(StrictModel):
    font: NonBlankStr = Field("Andika", description="Font family for page text (an OFL family shipped with artfarm, or a TTF path in the book).")
    size_pt: float = Field(20, ge=6, le=96)
    leading_pt: float = Field(26, ge=6, le=144)
    min_size_pt: float = Field(14, ge=6, le=96, description="Text is shrunk down to this size to fit; below it is an error.")
    colour: HexColour = "#222222"
    fallback_fonts: list[NonBlankStr] = Field(
        default_factory=list, description="Fonts tried in order for characters the main font lacks (shipped families "
                                          "such as NotoSansHebrew, NotoNaskhArabic, or .ttf/.otf paths in the book).")


class Layout(StrictModel):
    trim: Trim = Field(default_factory=lambda: Trim(width_in=8.5, height_in=8.5))
    bleed_in: float = Field(0.125, ge=0, le=1)
    paper: Paper = "white"
    printer: Printer = Field("generic", description="Print service whose rules export-pdf follows and preflight checks "
                                                    "(generic, kdp, ingramspark = PDF/X-1a CMYK); --printer overrides it.")
    typography: Typography = Field(default_factory=Typography)
    default_placement: Placement = "auto"
    default_art: ArtFrame = "full-bleed"


class ModelPins(StrictModel):
    """Model file names as the ComfyUI server lists them; the reviewer's Ollama model name."""

    draft_checkpoint: str | None = None
    final_checkpoint: str | None = None
    upscale_model: str | None = None
    controlnet: str | None = Field(None, description="A ControlNet file (the server's models/controlnet); the stages in "
                                                     "render.control.stages then follow the selected composition.")
    family: Family = Field("sd15", description="The model family: sd15 and sdxl load a checkpoint (sdxl conditions with "
                                               "CLIPTextEncodeSDXL); flux, flux_kontext, qwen_image and qwen_image_edit "
                                               "load diffusion_model, text_encoders and vae (README: Model families).")
    diffusion_model: str | None = Field(None, description="The diffusion model (UNETLoader, models/diffusion_models); "
                                                          "draft_diffusion_model / final_diffusion_model per tier.")
    draft_diffusion_model: str | None = None
    final_diffusion_model: str | None = None
    text_encoders: list[NonBlankStr] | None = Field(None, description="Text encoder files in the loader's order "
                                                                      "(models/text_encoders); flux: [clip_l, t5xxl], qwen: [qwen_2.5_vl].")
    draft_text_encoders: list[NonBlankStr] | None = None
    final_text_encoders: list[NonBlankStr] | None = None
    vae: str | None = Field(None, description="The VAE (VAELoader, models/vae); draft_vae / final_vae per tier.")
    draft_vae: str | None = None
    final_vae: str | None = None
    vlm: str = "qwen2.5vl:7b"

    def family_files(self, tier: Literal["draft", "final"]) -> dict[str, Any]:
        """diffusion_model, text_encoders and vae for a tier (its own pin, else the shared one); {} for checkpoint families."""
        if self.family in CHECKPOINT_FAMILIES:
            return {}
        return {pin: getattr(self, f"{tier}_{pin}") or getattr(self, pin) for pin in FILE_PINS}

    @model_validator(mode="after")
    def _files_the_family_loads(self) -> ModelPins:
        info = family_info(self.family)
        if info.uses_checkpoint:
            stray = [f"{tier}{pin}" for pin in FILE_PINS for tier in ("", "draft_", "final_") if getattr(self, f"{tier}{pin}")]
            if stray:
                raise ValueError(f"models.{', models.'.join(stray)}: family {self.family} loads a checkpoint "
                                 "(draft_checkpoint/final_checkpoint) and no separate files; remove them, or set "
                                 "models.family to the family they belong to (flux, flux_kontext, qwen_image, qwen_image_edit)")
            return self
        stray = [pin for pin in ("draft_checkpoint", "final_checkpoint") if getattr(self, pin)]
        if stray:
            raise ValueError(f"models.{', models.'.join(stray)}: family {self.family} loads no checkpoint; pin "
                             "models.diffusion_model, models.text_encoders and models.vae instead")
        missing = []
        for tier in ("draft", "final"):
            files = self.family_files(tier)
            missing += [f"{tier} {pin}" for pin in FILE_PINS if not files[pin]]
            encoders = files["text_encoders"]
            if encoders and len(encoders) != info.text_encoders:
                raise ValueError(f"models.text_encoders ({tier}): family {self.family} loads {info.text_encoders} text "
                                 f"encoder(s), {info.encoder_names}; got {len(encoders)}")
        if missing:
            raise ValueError(f"family {self.family} needs models.diffusion_model (models/diffusion_models), "
                             f"models.text_encoders [{info.encoder_names}] (models/text_encoders) and models.vae "
                             f"(models/vae), each per tier or shared; missing: {', '.join(missing)}")
        return self


class ControlSettings(StrictModel):
    """How the pinned ControlNet (models.controlnet) holds the composition the review chose."""

    preprocessor: Literal["canny", "none"] = Field("canny", description="canny: edges made in the graph by the core "
                                                                        "Canny node; none: the image itself.")
    strength: float = Field(0.6, ge=0, le=2)
    start: float = Field(0.0, ge=0, le=1, description="Fraction of the sampling steps where the guide starts.")
    end: float = Field(1.0, ge=0, le=1, description="Fraction of the sampling steps where it stops.")
    stages: list[Literal["refine", "inpaint", "upscale"]] = Field(default_factory=lambda: ["refine", "upscale"], min_length=1,
                                                                  description="The stages whose graphs get the ControlNet.")

    @model_validator(mode="after")
    def _start_before_end(self) -> ControlSettings:
        if self.start > self.end:
            raise ValueError(f"start ({self.start}) must not be after end ({self.end})")
        return self


class ReviewSettings(StrictModel):
    iterations_per_loop: int = Field(3, ge=0, le=20)
    max_loops: int = Field(1, ge=0, le=10)
    fallback: Literal["heuristic"] | None = None


class UpscalePolish(StrictModel):
    """How the print upscale polishes the model-upscaled image (README: Print upscale)."""

    polish: Literal["tiled", "whole", "none"] = Field(
        "tiled", description="tiled: low-denoise sampling in overlapping tiles at the model's native size; whole: the "
                             "image in one piece; none: the upscale model alone (fastest).")
    tile: int | None = Field(None, ge=256, le=4096, multiple_of=8,
                             description="Tile side in pixels; default the style pack's final tier size "
                                                                 "(width x height as one square: the model's native size).")
    overlap: int | None = Field(None, ge=16, le=1024, description="Pixels neighbouring tiles share and blend; default tile / 8; "
                                                                   "at most half the tile.")

    @model_validator(mode="after")
    def _overlap_fits_the_tile(self) -> UpscalePolish:
        if self.tile is not None and self.overlap is not None and self.overlap > self.tile // 2:
            raise ValueError(f"overlap {self.overlap} is more than half the tile ({self.tile}): neighbouring tiles would "
                             f"mostly repeat each other's work; use an overlap of at most {self.tile // 2} (default tile / 8)")
        return self


class UpscaleSettings(UpscalePolish):
    steps: int | None = Field(None, ge=1, le=150, description="Polish steps; default half the style pack's final steps.")
    denoise: float | None = Field(None, ge=0, le=1, description="How much the polish repaints; default 0.2.")


class RenderDefaults(StrictModel):
    renderer: Literal["proof", "comfyui"] = "proof"
    reviewer: Literal["heuristic", "vlm", "agent"] = "heuristic"
    comfyui_url: str | None = None
    comfyui_urls: list[str] = Field(default_factory=list, description="Several ComfyUI servers to spread jobs over.")
    ollama_url: str | None = None
    jobs: int | None = Field(None, ge=1, le=64)
    draft_count: int = Field(8, ge=1, le=16)
    control: ControlSettings | None = Field(None, description="ControlNet guidance; needs models.controlnet.")
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    upscale: UpscaleSettings = Field(default_factory=UpscaleSettings)


class PageEntry(StrictModel):
    page: int = Field(ge=1, le=9999)
    text: str = ""
    placement: Placement | None = None
    art: ArtFrame | None = None
    focal: tuple[float, float] = Field((0.5, 0.5), description="Point of interest kept when art is cropped (0..1, 0..1).")
    spread: bool = Field(False, description="This page's art spans this page and the next one (starts on an even page).")

    @field_validator("focal")
    @classmethod
    def _focal_in_unit_square(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= v <= 1.0 for v in value):
            raise ValueError("focal point coordinates must be between 0 and 1")
        return value


class Cover(StrictModel):
    back_text: str = ""
    spine_text: str | None = Field(None, description="Defaults to the title when the spine is wide enough.")


class Book(StrictModel):
    title: NonBlankStr
    subtitle: str = ""
    author: NonBlankStr
    language: str = Field("en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
                          description="BCP 47 tag; a right-to-left language (he, ar, fa, ur, ...) sets text right to left "
                                      "and binds the book on the right.")
    style_pack: Identifier = Field(description="Style pack new pages start from.")
    layout: Layout = Field(default_factory=Layout)
    models: ModelPins = Field(default_factory=ModelPins)
    render: RenderDefaults = Field(default_factory=RenderDefaults)
    cover: Cover = Field(default_factory=Cover)
    pages: list[PageEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _control_needs_a_controlnet(self) -> Book:
        if self.render.control is not None and not self.models.controlnet:
            raise ValueError("render.control is set but models.controlnet names no ControlNet file; pin one "
                             "(e.g. models.controlnet: control_v11p_sd15_canny.safetensors) or remove render.control")
        return self

    @model_validator(mode="after")
    def _controlnet_needs_a_family_that_takes_one(self) -> Book:
        if self.models.controlnet and not family_info(self.models.family).controlnet:
            raise ValueError(f"models.controlnet: family {self.models.family} has no ControlNet its core nodes can load "
                             "(sd15, sdxl and flux have); remove models.controlnet and render.control")
        return self

    def page_numbers(self) -> list[int]:
        return [p.page for p in self.pages]

    def spread_continuations(self) -> set[int]:
        """Pages whose art is the right half of the previous page's spread (they need no RenderSpec)."""
        return {p.page + 1 for p in self.pages if p.spread}
