"""The renderer seam: one small protocol that the pipeline calls and each backend implements.

Parameter names are the same across backends and are the names workflow templates
declare (see workflows/*.json):

    draft    prompt negative seed steps cfg sampler scheduler width height batch checkpoint
    refine   prompt negative seed steps cfg sampler scheduler denoise checkpoint image
    inpaint  prompt negative seed steps cfg sampler scheduler denoise checkpoint image mask
    upscale  prompt negative seed steps cfg sampler scheduler denoise checkpoint upscale_model image

``image`` and ``mask`` are paths to files on this machine (the backend uploads them). The
upscale stage also sends ``polish`` (tiled, whole, none), ``tile`` and ``overlap`` (book.yaml
``render.upscale``); the ComfyUI backend builds the polish from them (comfyui/insert/tiles.py).
The pipeline chooses where outputs go: the backend writes exactly ``out_dir/<stem>_NN.png``
and never lets a server-supplied name decide a path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Stage = Literal["draft", "refine", "inpaint", "upscale"]


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: Stage
    page: int
    params: dict[str, Any]
    out_dir: Path
    filename_stem: str = Field(description="Outputs are written as out_dir/<stem>_00.png, _01.png, ...")


class RenderedImage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path
    seed: int | None = None
    batch_index: int = 0


class ModelUse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    sha256: str | None = None


class RenderResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    images: list[RenderedImage]
    workflow: dict[str, Any] | None = Field(None, description="The exact graph submitted (None for backends without one).")
    server: str
    prompt_id: str | None = None
    models: list[ModelUse] = Field(default_factory=list)
    attempts: list[dict[str, Any]] = Field(default_factory=list, description="Retries and recoveries, in order.")


class ProgressEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: int
    stage: Stage
    node: str | None = None
    step: int | None = None
    total: int | None = None
    message: str = ""


ProgressFn = Callable[[ProgressEvent], None]


@runtime_checkable
class Renderer(Protocol):
    name: str

    def identity(self, stage: Stage, family: str = "sd15") -> dict[str, Any]:
        """Everything about the backend that shapes a stage's output (template content hash,
        backend version) for the model family, for the cache key. Must not contain volatile data (URLs, times)."""

    def render(self, request: RenderRequest, progress: ProgressFn | None = None) -> RenderResult:
        """Run one job to completion; raise an ArtfarmError subclass on failure."""

    def cancel(self) -> None:
        """Stop the jobs in flight as soon as possible (ComfyUI: POST /interrupt for them).

        Called from another thread when the user presses Ctrl-C; each render() in flight then
        raises ``artfarm.errors.Interrupted`` instead of returning."""

    def close(self) -> None:
        """Release connections."""
