"""The ComfyUI renderer: the Renderer seam over one or several ComfyUI servers.

Each stage runs its workflow template (draft, refine, inpaint, upscale_print). Models come
from the book's pins (``models.draft_checkpoint`` for drafts, ``final_checkpoint`` for the
later stages, ``upscale_model``) unless a request names them. Input images are uploaded
under content-addressed names; a mask goes through ComfyUI's own ``/upload/mask``, which
stores the image it masks with the mask as alpha (see workflows/README.md). Jobs go to the
least busy server; a server that cannot be reached is skipped for the next one, and that is
recorded in the result's attempts (artfarm/comfyui/pool.py: routing, admission, retries on
another server). ``cancel()`` stops every job in flight.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from artfarm.comfyui.api import FileRef
from artfarm.comfyui.client import Cancellation, ComfyClient, RunProgress
from artfarm.comfyui.families import family_template
from artfarm.comfyui.errors import ComfyUIProtocolError, MissingModelFile
from artfarm.comfyui.model_files import KIND_FOLDER, missing_files, server_files
from artfarm.comfyui.pool import ServerPool
from artfarm.comfyui.prepare import PreparedJob, prepare_job
from artfarm.comfyui.runner import JobResult, run_job
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
        self._pool: ServerPool[JobResult] = ServerPool(self.servers)
        self._workflows = workflows
        self._templates: dict[str, Template] = {}
        self._deadline_s = deadline_s
        self._cancel = Cancellation()
        self._uploaded = _Uploaded()

    @property
    def servers(self) -> list[str]:
        return [c.base_url for c in self._clients]

    def template(self, stage: Stage, family: str = "sd15") -> Template:
        """The stage's template: workflows/*.json for sd15 and sdxl, else the family's graphs built in code."""
        if family not in ("sd15", "sdxl"):
            return family_template(family, stage)
        if stage not in self._templates:
            self._templates[stage] = template_for_stage(stage, self._workflows)
        return self._templates[stage]

    def identity(self, stage: Stage, family: str = "sd15") -> dict[str, Any]:
        template = self.template(stage, family)
        return {"backend": "comfyui", "backend_version": BACKEND_VERSION, "template": template.name,
                "template_sha256": template.sha256}

    def prepare(self, request: RenderRequest, *, missing_ok: bool = False) -> PreparedJob:
        """The exact graph this request submits and the files it uploads, without contacting a server.
        ``missing_ok``: an input an earlier stage has not made yet gets a marked placeholder (``artfarm graph``)."""
        template = self.template(request.stage, str(request.params.get("family") or "sd15"))
        notes: list[str] = []
        values = self._values(request, template, notes if missing_ok else None)
        return prepare_job(template, values, missing_ok=missing_ok, notes=notes, where=f"page {request.page} {request.stage}")

    def render(self, request: RenderRequest, progress: ProgressFn | None = None) -> RenderResult:
        self._cancel.check(f"page {request.page} {request.stage}")
        job = self.prepare(request)
        template = job.template

        def on_server(index: int, can_move: bool) -> JobResult:
            client = self._clients[index]
            _check_model_files(client, job)
            return run_job(client, template, job.values, out_dir=request.out_dir, stem=request.filename_stem,
                           progress=_progress_adapter(request, progress), deadline_s=self._deadline_s,
                           cancel=self._cancel, build=job.build, prepare=lambda: _upload(client, job, self._uploaded),
                           wait_for_restart=not can_move)

        ran, index, attempts = self._pool.run(request.stage, on_server)
        seed = ran.values.get("seed", template.graph_value("seed"))
        return RenderResult(
            images=[RenderedImage(path=path, seed=seed, batch_index=i) for i, path in enumerate(ran.outcome.files)],
            workflow=ran.graph, server=self._clients[index].base_url, prompt_id=ran.outcome.prompt_id,
            models=[ModelUse(name=name) for name in job.models], attempts=attempts + ran.attempts)

    def cancel(self) -> None:
        """Stop every job in flight (its queue entry deleted, then POST /interrupt for it); each
        render() in flight raises Interrupted within about a second, later ones at once."""
        self._cancel.cancel()
        self._pool.cancel()

    def close(self) -> None:
        for client in self._clients:
            client.close()

    # ------------------------------------------------------------------ helpers
    def _values(self, request: RenderRequest, template: Template, notes: list[str] | None = None) -> dict[str, Any]:
        """The template's values; with ``notes`` (a preview) a size that depends on a missing input is noted, not read."""
        values = dict(request.params)
        declared = template.decl.parameters
        if "checkpoint" in declared and not values.get("checkpoint"):
            pin = CHECKPOINT_PIN[request.stage]
            values["checkpoint"] = getattr(self.pins, pin) or _missing_pin(pin)
        if "diffusion_model" in declared:
            tier = "draft" if request.stage == "draft" else "final"
            for pin, name in self.pins.family_files(tier).items():
                if not values.get(pin):
                    values[pin] = name or _missing_pin(pin)
        if "upscale_model" in declared and not values.get("upscale_model"):
            values["upscale_model"] = self.pins.upscale_model or _missing_pin("upscale_model")
        if "filename_prefix" in declared:
            values.setdefault("filename_prefix", f"artfarm/p{request.page:04d}_{request.stage}")
        if request.stage == "upscale" and values.get("image") and not (values.get("width") and values.get("height")):
            if notes is not None and not Path(values["image"]).exists():
                width, height = (template.graph_value("width") or 0) // 2, (template.graph_value("height") or 0) // 2
                notes.append(f"width/height: twice the size of the missing image; the template's {width * 2}x{height * 2} shown")
            else:
                width, height = image_size(Path(values["image"]))
            values.setdefault("width", width * 2)
            values.setdefault("height", height * 2)
        return values


def _check_model_files(client: ComfyClient, job: PreparedJob) -> None:
    """A LoRA or ControlNet the server lacks is the book's mistake (exit 2, the page fails), named plainly;
    the pool tries another server once, which may have it."""
    wanted = [("lora", lora.file) for lora in job.model.loras] + ([("controlnet", job.model.control.model)]
                                                                 if job.model.control else [])
    if not wanted or not missing_files(client.object_info(), wanted):
        return
    missing = missing_files(client.object_info(refresh=True), wanted)  # it may have gained the file since
    if missing:
        kind, file = missing[0]
        offered = server_files(client.object_info(), kind)
        raise MissingModelFile(f"{job.where}: the server has no {kind} {file!r}" + (f" ({len(missing)} file(s) missing: "
                            + ", ".join(f for _, f in missing) + ")" if len(missing) > 1 else ""),
                            where=client.base_url,
                            fix=f"put {file} in ComfyUI's {KIND_FOLDER[kind]} folder, or name one it has "
                                f"({', '.join(offered) or 'none'}) in the style pack, bible/characters.yaml or book.yaml; "
                                "`artfarm doctor BOOK` lists every page's files")


class _Uploaded:
    """Reference pictures this run gave each server: a character sheet most pages read is sent once,
    even when several pages' jobs start at the same time."""

    def __init__(self) -> None:
        self.names: set[tuple[str, str]] = set()
        self.lock = threading.Lock()


def _upload(client: ComfyClient, job: PreparedJob, uploaded: _Uploaded) -> None:
    """Upload the planned files; the server must store each under the name the graph already holds."""
    refs: dict[str, FileRef] = {}
    for upload in job.uploads:
        if upload.param.startswith("references["):
            with uploaded.lock:
                if (client.base_url, upload.server_name) not in uploaded.names:
                    _check_stored(client, upload, client.upload_image(upload.data, suffix=Path(upload.filename).suffix))
                    uploaded.names.add((client.base_url, upload.server_name))
            continue
        if upload.kind == "image":
            refs[upload.param] = client.upload_image(upload.data, suffix=Path(upload.filename).suffix)
        else:
            refs[upload.param] = client.upload_mask(upload.data, refs[upload.onto or ""])
        _check_stored(client, upload, refs[upload.param])


def _check_stored(client: ComfyClient, upload, ref: FileRef) -> None:
    stored = _server_name(ref)
    if stored != upload.server_name:
        raise ComfyUIProtocolError(f"uploaded {upload.server_name} but the server stored it as {stored}",
                                   where=client.base_url, fix="check the server's input folder")


def _server_name(ref: FileRef) -> str:
    return f"{ref.subfolder}/{ref.filename}" if ref.subfolder else ref.filename


def _missing_pin(pin: str) -> Any:
    raise BadInputError(f"book.yaml does not pin models.{pin}", where="book.yaml $.models",
                        fix=f"set models.{pin} to a model file the server lists (`artfarm doctor BOOK` shows them)")


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
