"""The ComfyUI renderer: the Renderer seam over one or several ComfyUI servers.

Each stage runs its workflow template (draft, refine, inpaint, upscale_print). Models come
from the book's pins (``models.draft_checkpoint`` for drafts, ``final_checkpoint`` for the
later stages, ``upscale_model``) unless a request names them. Input images are uploaded
under content-addressed names; a mask goes through ComfyUI's own ``/upload/mask``, which
stores the image it masks with the mask as alpha (see workflows/README.md). Jobs go to the
least busy server; a server that cannot be reached is skipped for the next one, and that is
recorded in the result's attempts. ``cancel()`` stops every job in flight.
"""

from __future__ import annotations

import io
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from PIL import Image, ImageChops, UnidentifiedImageError

from artfarm.comfyui.api import FileRef
from artfarm.comfyui.client import Cancellation, ComfyClient, RunProgress
from artfarm.comfyui.errors import ComfyUIUnreachable
from artfarm.comfyui.runner import run_job
from artfarm.comfyui.templates import Template, template_for_stage
from artfarm.errors import BadInputError
from artfarm.images import image_size
from artfarm.models.book import ModelPins
from artfarm.render.base import ModelUse, ProgressEvent, ProgressFn, RenderedImage, RenderRequest, RenderResult, Stage

BACKEND_VERSION = 1
CHECKPOINT_PIN = {"draft": "draft_checkpoint", "refine": "final_checkpoint", "inpaint": "final_checkpoint",
                  "upscale": "final_checkpoint"}


class ComfyUIRenderer:
    name = "comfyui"

    def __init__(self, urls: list[str], pins: ModelPins | None = None, *,
                 client_factory: Callable[[str], ComfyClient] = ComfyClient, workflows: Path | None = None,
                 deadline_s: float | None = None):
        if not urls:
            raise BadInputError("no ComfyUI server configured", where="settings",
                                fix="pass --comfyui-url or set ARTFARM_COMFYUI_URL")
        self.pins = pins or ModelPins()
        self._clients = [client_factory(url) for url in urls]
        self._busy = [0] * len(self._clients)
        self._turn = 0
        self._lock = threading.Lock()
        self._workflows = workflows
        self._templates: dict[str, Template] = {}
        self._deadline_s = deadline_s
        self._cancel = Cancellation()

    @property
    def servers(self) -> list[str]:
        return [c.base_url for c in self._clients]

    def template(self, stage: Stage) -> Template:
        if stage not in self._templates:
            self._templates[stage] = template_for_stage(stage, self._workflows)
        return self._templates[stage]

    def identity(self, stage: Stage) -> dict[str, Any]:
        template = self.template(stage)
        return {"backend": "comfyui", "backend_version": BACKEND_VERSION, "template": template.name,
                "template_sha256": template.sha256}

    def render(self, request: RenderRequest, progress: ProgressFn | None = None) -> RenderResult:
        self._cancel.check(f"page {request.page} {request.stage}")
        template = self.template(request.stage)
        values = self._values(request, template)
        attempts: list[dict[str, Any]] = []
        last: ComfyUIUnreachable | None = None
        for index in self._servers_by_load():
            client = self._clients[index]
            try:
                with self._claim(index):
                    job = run_job(client, template, values, out_dir=request.out_dir, stem=request.filename_stem,
                                  progress=_progress_adapter(request, progress), deadline_s=self._deadline_s,
                                  cancel=self._cancel, prepare=lambda v, c=client: self._upload_inputs(c, template, v))
            except ComfyUIUnreachable as exc:
                attempts.append({"attempt": len(attempts) + 1, "server": client.base_url, "error": "unreachable",
                                 "message": exc.what, "action": "next server" if len(attempts) + 1 < len(self._clients) else "give up"})
                last = exc
                continue
            seed = job.values.get("seed", template.graph_value("seed"))
            return RenderResult(
                images=[RenderedImage(path=path, seed=seed, batch_index=i) for i, path in enumerate(job.outcome.files)],
                workflow=job.graph, server=client.base_url, prompt_id=job.outcome.prompt_id,
                models=[ModelUse(name=job.values[k]) for k in ("checkpoint", "upscale_model") if job.values.get(k)],
                attempts=attempts + job.attempts)
        assert last is not None
        last.payload["attempts"] = attempts
        raise last

    def cancel(self) -> None:
        """Stop every job in flight (its queue entry deleted, then POST /interrupt for it); each
        render() in flight raises Interrupted within about a second, later ones at once."""
        self._cancel.cancel()

    def close(self) -> None:
        for client in self._clients:
            client.close()

    # ------------------------------------------------------------------ helpers
    def _values(self, request: RenderRequest, template: Template) -> dict[str, Any]:
        values = dict(request.params)
        declared = template.decl.parameters
        if "checkpoint" in declared and not values.get("checkpoint"):
            pin = CHECKPOINT_PIN[request.stage]
            values["checkpoint"] = getattr(self.pins, pin) or _missing_pin(pin)
        if "upscale_model" in declared and not values.get("upscale_model"):
            values["upscale_model"] = self.pins.upscale_model or _missing_pin("upscale_model")
        if "filename_prefix" in declared:
            values.setdefault("filename_prefix", f"artfarm/p{request.page:04d}_{request.stage}")
        if request.stage == "upscale" and values.get("image") and not (values.get("width") and values.get("height")):
            width, height = _image_size(Path(values["image"]))
            values.setdefault("width", width * 2)
            values.setdefault("height", height * 2)
        return values

    def _upload_inputs(self, client: ComfyClient, template: Template, values: dict[str, Any]) -> dict[str, Any]:
        """Upload images, then each mask onto the image it masks; the graph gets the server's names."""
        out = dict(values)
        params = template.decl.parameters
        refs: dict[str, FileRef] = {}
        for name, decl in params.items():
            if decl.kind == "image" and values.get(name) is not None:
                path = Path(values[name])
                refs[name] = client.upload_image(_read_input(name, path), suffix=path.suffix.lower() or ".png")
                out[name] = _server_name(refs[name])
        for name, decl in params.items():
            if decl.kind == "mask" and values.get(name) is not None:
                alpha = mask_as_alpha(_read_input(name, Path(values[name])), _image_size(Path(values[decl.onto])),
                                      where=str(values[name]))
                out[name] = out[decl.onto] = _server_name(client.upload_mask(alpha, refs[decl.onto]))
        return out

    def _servers_by_load(self) -> list[int]:
        with self._lock:
            start = self._turn
            self._turn = (self._turn + 1) % len(self._clients)
            order = [(start + i) % len(self._clients) for i in range(len(self._clients))]
            return sorted(order, key=lambda i: self._busy[i])

    @contextmanager
    def _claim(self, index: int) -> Iterator[None]:
        with self._lock:
            self._busy[index] += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy[index] -= 1


def mask_as_alpha(mask: bytes, size: tuple[int, int], *, where: str) -> bytes:
    """An artfarm mask (white = repaint, red channel) as the RGBA PNG ``/upload/mask`` wants:
    alpha 0 where to repaint, at the size of the image it masks (the server needs equal sizes)."""
    try:
        with Image.open(io.BytesIO(mask)) as image:
            red = image.convert("RGB").getchannel("R")
    except (OSError, UnidentifiedImageError) as exc:
        raise BadInputError(f"cannot read the mask: {exc}", where=where, fix="a mask is a PNG, white where to repaint") from exc
    if red.size != size:
        red = red.resize(size, Image.Resampling.BILINEAR)
    rgba = Image.new("RGBA", size, (0, 0, 0, 255))
    rgba.putalpha(ImageChops.invert(red))
    buf = io.BytesIO()
    rgba.save(buf, format="PNG")
    return buf.getvalue()


def _read_input(name: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read the {name} file: {exc.strerror or exc}", where=str(path),
                            fix="check the path; the previous stage may not have run") from exc


def _server_name(ref: FileRef) -> str:
    return f"{ref.subfolder}/{ref.filename}" if ref.subfolder else ref.filename


def _missing_pin(pin: str) -> Any:
    raise BadInputError(f"book.yaml does not pin models.{pin}", where="book.yaml $.models",
                        fix=f"set models.{pin} to a model file the server lists (`artfarm doctor BOOK` shows them)")


def _image_size(path: Path) -> tuple[int, int]:
    return image_size(path)


def _progress_adapter(request: RenderRequest, progress: ProgressFn | None) -> Callable[[RunProgress], None] | None:
    if progress is None:
        return None

    def report(event: RunProgress) -> None:
        message = f"node {event.node}" + (f" step {event.step}/{event.total}" if event.step is not None else "")
        progress(ProgressEvent(page=request.page, stage=request.stage, node=event.node, step=event.step,
                               total=event.total, message=message))
    return report


def create(settings, book) -> ComfyUIRenderer:
    """Registry factory: ``create(settings, book)`` (book may be None)."""
    pins = book.book.models if book is not None else None
    return ComfyUIRenderer(list(settings.comfyui_urls), pins)
