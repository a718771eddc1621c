"""A stage's job as it will be submitted, built without contacting any server.

``prepare_job`` = the template with its parameters set, then the insertions the request's
model parameters ask for (SDXL conditioning, LoRA chain, ControlNet), plus the uploads it
needs under the content-addressed names the client will give them. The renderer uploads and
runs exactly this; ``artfarm graph`` prints it. Insertion order is fixed (SDXL encoders
first, so the LoRA chain rewires their CLIP too; the ControlNet last, on the final
conditioning), so the same inputs give the same graph, byte for byte.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageChops

from artfarm.comfyui.client import UPLOAD_SUBFOLDER, image_upload_name, mask_upload_name
from artfarm.comfyui.families import family_graphs
from artfarm.comfyui.families.build import family_values
from artfarm.comfyui.graph import Graph
from artfarm.comfyui.insert.controlnet import insert_controlnet
from artfarm.comfyui.insert.loras import insert_loras
from artfarm.comfyui.insert.sdxl import insert_sdxl_conditioning
from artfarm.comfyui.insert.tiles import POLISH_PARAMS, Polish, apply_polish, model_scale
from artfarm.comfyui.templates import Template
from artfarm.errors import BadInputError
from artfarm.families import family_info
from artfarm.fsio import sha256_bytes
from artfarm.images import image_size, load_image
from artfarm.render.modelparams import MODEL_PARAMS, ModelParams

PLACEHOLDER_PREFIX = "PLACEHOLDER-not-made-yet"
MODEL_FILE_VALUES = ("checkpoint", "diffusion_model", "text_encoder_1", "text_encoder_2", "vae", "upscale_model")


@dataclass(frozen=True)
class PlannedUpload:
    """One local file the job uploads, and the name the server will store it under."""

    param: str
    kind: Literal["image", "mask"]
    source: Path
    filename: str
    data: bytes = field(repr=False)
    subfolder: str = UPLOAD_SUBFOLDER
    onto: str | None = None
    missing: bool = False

    @property
    def server_name(self) -> str:
        return f"{self.subfolder}/{self.filename}" if self.subfolder else self.filename

    def describe(self) -> dict[str, Any]:
        return {"param": self.param, "kind": self.kind, "source": str(self.source), "server_name": self.server_name,
                "onto": self.onto, "bytes": len(self.data), "sha256": None if self.missing else sha256_bytes(self.data),
                "missing": self.missing}


@dataclass(frozen=True)
class PreparedJob:
    template: Template
    values: dict[str, Any] = field(repr=False)  # template parameters, uploaded files by their server names
    model: ModelParams
    graph: dict[str, Any] = field(repr=False)
    uploads: list[PlannedUpload]
    models: list[str]
    placeholders: list[str] = field(default_factory=list)
    where: str = ""
    polish: Polish | None = None
    input_size: tuple[int, int] | None = None
    references: tuple[str, ...] = ()  # the reference pictures' server names, in the order the graph reads them

    def build(self, values: dict[str, Any]) -> dict[str, Any]:
        """The same job with other template values (out-of-memory recovery halves the batch)."""
        return build_graph(self.template, values, self.model, where=self.where, polish=self.polish,
                           input_size=self.input_size, references=self.references)


def build_graph(template: Template, values: dict[str, Any], model: ModelParams, *, where: str,
                polish: Polish | None = None, input_size: tuple[int, int] | None = None,
                references: tuple[str, ...] = ()) -> dict[str, Any]:
    """The template with ``values`` set, then the insertions ``model`` asks for, then (upscale) the polish. Pure."""
    graph = Graph.from_api(template.instantiate(values))
    if model.family != "sd15" or model.loras or model.control is not None:
        _insert_models(graph, template, values, model, where=where, references=references)
    if polish is not None and template.decl.anchors is not None:
        size = (int(values["width"]), int(values["height"]))
        scale = model_scale(str(values.get("upscale_model") or ""))
        exact = input_size is not None and scale is not None and (input_size[0] * scale, input_size[1] * scale) == size
        apply_polish(graph, template.decl.anchors, template.decl.output_node, polish, family=model.family, size=size,
                     exact_from_model=exact)
    return graph.to_api()


def _insert_models(graph: Graph, template: Template, values: dict[str, Any], model: ModelParams, *, where: str,
                   references: tuple[str, ...] = ()) -> None:
    anchors = template.decl.anchors
    if anchors is None:
        raise BadInputError(f"template {template.name} declares no anchors, so LoRAs, ControlNet and SDXL cannot be "
                            "inserted", where=template.file, fix="add anchors to its params.json (workflows/README.md)")
    if model.family == "sdxl":
        size = (values["width"], values["height"]) if values.get("width") and values.get("height") else None
        insert_sdxl_conditioning(graph, anchors, size, where=where)
    insert_loras(graph, anchors, model.loras, model_only=family_info(model.family).lora == "model_only")
    if references:
        graphs = family_graphs(model.family)
        if graphs is None or graphs.insert_references is None:
            raise BadInputError(f"family {model.family} takes no reference images", where=where,
                                fix="use flux_kontext or qwen_image_edit for reference images (README: Model families)")
        graphs.insert_references(graph, anchors, list(references))
    if model.control is not None:
        insert_controlnet(graph, anchors, model.control, where=where, with_vae=model.family == "flux")


def prepare_job(template: Template, params: dict[str, Any], *, where: str, missing_ok: bool = False,
                notes: list[str] | None = None) -> PreparedJob:
    """The job for ``params`` (names as in artfarm/render/base.py). With ``missing_ok`` an input file that
    does not exist yet gets a marked placeholder name (listed in ``placeholders``) instead of an error."""
    model = ModelParams.from_params(params)
    values = family_values({k: v for k, v in params.items() if k not in MODEL_PARAMS + POLISH_PARAMS})
    if "negative" not in template.decl.parameters and "negative" in values:
        if str(values.pop("negative") or "").strip():
            raise BadInputError(f"family {model.family} has no negative prompt, but the request gives one", where=where,
                                fix="phrase what to avoid in the prompt itself (README: Model families)")
    polish = Polish.from_params(params) if template.decl.stage == "upscale" else None
    uploads, placeholders = _plan_uploads(template, values, missing_ok)
    references = _plan_references(model, where)
    image = next((u for u in uploads if u.param == "image" and not u.missing), None)
    input_size = image_size(image.source) if polish is not None and image is not None else None
    placeholders = [*(notes or []), *placeholders]
    for upload in uploads:
        values[upload.param] = upload.server_name
        if upload.kind == "mask" and upload.onto:
            values[upload.onto] = upload.server_name
    names = tuple(upload.server_name for upload in references)
    graph = build_graph(template, values, model, where=where, polish=polish, input_size=input_size, references=names)
    loaded = {v for node in graph.values() for v in node["inputs"].values() if isinstance(v, str)}
    # the model files the graph really loads (a pruned graph, e.g. polish none, drops the checkpoint and LoRAs)
    models = [m for m in [str(values[k]) for k in MODEL_FILE_VALUES if values.get(k)] + model.files() if m in loaded]
    return PreparedJob(template=template, values=values, model=model, graph=graph, uploads=uploads + references,
                       models=models, placeholders=placeholders, where=where, polish=polish, input_size=input_size,
                       references=names)


def _plan_references(model: ModelParams, where: str) -> list[PlannedUpload]:
    """Each reference picture as an upload under its content-addressed name, in the order given."""
    limit = family_info(model.family).max_refs
    if len(model.references) > limit:
        raise BadInputError(f"{len(model.references)} reference images, but family {model.family} takes {limit}",
                            where=where, fix="name fewer with refs.use in the RenderSpec (README: Model families)")
    uploads = []
    for i, source in enumerate(model.references):
        data = _read_input(f"reference {i + 1}", source, missing_ok=False) or b""
        uploads.append(PlannedUpload(param=f"references[{i}]", kind="image", source=source, data=data,
                                     filename=image_upload_name(data, source.suffix.lower() or ".png")))
    return uploads


def _plan_uploads(template: Template, values: dict[str, Any], missing_ok: bool) -> tuple[list[PlannedUpload], list[str]]:
    """Images first, then each mask onto the image it masks (``/upload/mask`` stores that image with the mask as alpha)."""
    params = template.decl.parameters
    uploads: dict[str, PlannedUpload] = {}
    notes: list[str] = []
    for name, decl in params.items():
        if decl.kind == "image" and values.get(name) is not None:
            path = Path(values[name])
            data = _read_input(name, path, missing_ok)
            if data is None:
                uploads[name] = _placeholder(name, "image", path, None)
                notes.append(f"{name}: {path} does not exist yet (an earlier stage has not made it); "
                             f"the graph names it {uploads[name].server_name}")
                continue
            uploads[name] = PlannedUpload(param=name, kind="image", source=path, data=data,
                                          filename=image_upload_name(data, path.suffix.lower() or ".png"))
    for name, decl in params.items():
        if decl.kind == "mask" and values.get(name) is not None:
            path, image = Path(values[name]), uploads.get(decl.onto or "")
            data = _read_input(name, path, missing_ok)
            if data is None or image is None or image.missing:
                uploads[name] = _placeholder(name, "mask", path, decl.onto)
                notes.append(f"{name}: cannot be made before its image exists; the graph names it {uploads[name].server_name}")
                continue
            alpha = mask_as_alpha(load_image(path, what="mask"), image_size(image.source))
            uploads[name] = PlannedUpload(param=name, kind="mask", source=path, data=alpha, onto=decl.onto,
                                          filename=mask_upload_name(alpha, image.filename))
    return list(uploads.values()), notes


def _placeholder(param: str, kind: Literal["image", "mask"], source: Path, onto: str | None) -> PlannedUpload:
    return PlannedUpload(param=param, kind=kind, source=source, data=b"", onto=onto, missing=True,
                         subfolder=PLACEHOLDER_PREFIX, filename=f"{param}{source.suffix or '.png'}")


def mask_as_alpha(mask: Image.Image, size: tuple[int, int]) -> bytes:
    """An artfarm mask (white = repaint, red channel) as the RGBA PNG ``/upload/mask`` wants:
    alpha 0 where to repaint, at the size of the image it masks (the server needs equal sizes)."""
    red = mask.convert("RGB").getchannel("R")
    if red.size != size:
        red = red.resize(size, Image.Resampling.BILINEAR)
    rgba = Image.new("RGBA", size, (0, 0, 0, 255))
    rgba.putalpha(ImageChops.invert(red))
    buf = io.BytesIO()
    rgba.save(buf, format="PNG")
    return buf.getvalue()


def _read_input(name: str, path: Path, missing_ok: bool) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise BadInputError(f"the {name} file does not exist", where=str(path),
                            fix="check the path; the previous stage may not have run") from None
    except OSError as exc:
        raise BadInputError(f"cannot read the {name} file: {exc.strerror or exc}", where=str(path),
                            fix="check the path; the previous stage may not have run") from exc
