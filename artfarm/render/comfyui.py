"""The ComfyUI renderer: the Renderer seam over one or several ComfyUI servers.

Each stage runs its workflow template (draft, refine, inpaint, upscale_print). Models come
from the book's pins (``models.draft_checkpoint`` for drafts, ``final_checkpoint`` for the
later stages, ``upscale_model``) unless a request names them. Input images are uploaded
under content-addressed names. Jobs go to the least busy server; a server that cannot be
reached is skipped for the next one, and that is recorded in the result's attempts.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from PIL import Image, UnidentifiedImageError

from artfarm.comfyui.client import ComfyClient, RunProgress
from artfarm.comfyui.errors import ComfyUIUnreachable
from artfarm.comfyui.runner import run_job
from artfarm.comfyui.templates import Template, template_for_stage
from artfarm.errors import BadInputError
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
        template = self.template(request.stage)
        values = self._values(request, template)
        attempts: list[dict[str, Any]] = []
        last: ComfyUIUnreachable | None = None
        for index in self._servers_by_load():
            client = self._clients[index]
            try:
                with self._claim(index):
                    uploaded = self._upload_inputs(client, template, values)
                    job = run_job(client, template, uploaded, out_dir=request.out_dir, stem=request.filename_stem,
                                  progress=_progress_adapter(request, progress), deadline_s=self._deadline_s)
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
        out = dict(values)
        for name, decl in template.decl.parameters.items():
            if decl.kind in ("image", "mask") and values.get(name) is not None:
                path = Path(values[name])
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    raise BadInputError(f"cannot read the {name} file: {exc.strerror or exc}", where=str(path),
                                        fix="check the path; the previous stage may not have run") from exc
                ref = client.upload_image(data, suffix=path.suffix.lower() or ".png")
                out[name] = f"{ref.subfolder}/{ref.filename}" if ref.subfolder else ref.filename
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


def _missing_pin(pin: str) -> Any:
    raise BadInputError(f"book.yaml does not pin models.{pin}", where="book.yaml $.models",
                        fix=f"set models.{pin} to a model file the server lists (`artfarm doctor BOOK` shows them)")


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError) as exc:
        raise BadInputError(f"cannot read the image to upscale: {exc}", where=str(path),
                            fix="check the previous stage's output") from exc


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
