"""The model parameters of a render request: LoRAs, a ControlNet guide, the checkpoint family.

Stages put them into ``RenderRequest.params`` as plain JSON (so they are in the stage's key
by themselves) and only when set, so a book without them keys and renders as before; each
renderer reads them through ``ModelParams.from_params``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError

from artfarm.errors import BadInputError
from artfarm.families import Family
from artfarm.models.base import StrictModel

MODEL_PARAMS = ("loras", "control", "family", "references")


M = TypeVar("M", bound=StrictModel)


def params_model(model: type[M], params: dict[str, Any], names: tuple[str, ...], *, fix: str) -> M:
    """The typed view of some of a render request's parameters (those set); a bad one is BadInputError."""
    try:
        return model.model_validate({k: params[k] for k in names if params.get(k) is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(map(str, first["loc"])) or ", ".join(names)
        raise BadInputError(f"render parameter {name}: {first['msg']}", where="render request", fix=fix) from exc


class LoraLoad(StrictModel):
    """One LoRA loader: the file as the server lists it, its strengths on the UNet and on CLIP."""

    file: str = Field(min_length=1)
    strength: float
    strength_clip: float


class ControlGuide(StrictModel):
    """A ControlNet that holds the picture the stage starts from (canny edges, or the image itself)."""

    model: str = Field(min_length=1)
    preprocessor: Literal["canny", "none"]
    strength: float
    start: float
    end: float


class ModelParams(StrictModel):
    loras: list[LoraLoad] = Field(default_factory=list)
    control: ControlGuide | None = None
    family: Family = "sd15"
    references: list[Path] = Field(default_factory=list, description="Reference pictures (local paths, in order) the "
                                                                    "graph conditions on: flux_kontext, qwen_image_edit.")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ModelParams:
        return params_model(cls, params, MODEL_PARAMS, fix="report this as an artfarm bug")

    def files(self) -> list[str]:
        """Model files the insertions load, in graph order."""
        return [lora.file for lora in self.loras] + ([self.control.model] if self.control else [])
