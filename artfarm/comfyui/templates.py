"""Workflow templates: an API-format graph plus the parameters it declares, set structurally.

``workflows/<name>.json`` is a graph ComfyUI accepts as it is (POST it and it runs with its
own defaults). ``workflows/<name>.params.json`` beside it names each artfarm parameter and
the node inputs it sets. Values are written into a deep copy of the parsed graph, node id
and input name at a time: no string templating, so any prompt text is safe.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from artfarm.errors import BadInputError
from artfarm.findings import json_path
from artfarm.fsio import sha256_json
from artfarm.models.base import StrictModel
from artfarm.resources import builtin_dir

STAGE_TEMPLATES = {"draft": "draft", "refine": "refine", "inpaint": "inpaint", "upscale": "upscale_print"}
TEMPLATE_NAMES = tuple(STAGE_TEMPLATES.values())
TILED_DECODE_INPUTS = {"tile_size": 512, "overlap": 64, "temporal_size": 64, "temporal_overlap": 8}


class Binding(StrictModel):
    node: str
    input: str


class ParamDecl(StrictModel):
    targets: list[Binding] = Field(min_length=1, description="Node inputs this parameter sets (all get the same value).")
    kind: Literal["value", "image", "mask"] = Field("value", description="image/mask: a local file artfarm uploads first.")
    required: bool = Field(False, description="The graph holds a placeholder; a run must set this parameter.")
    onto: str | None = Field(None, description="kind mask: the image parameter it is uploaded onto (/upload/mask); "
                                               "its targets load that image with the mask as alpha.")
    description: str = ""


class Anchors(StrictModel):
    """Where insertions attach (see workflows/README.md): code finds nodes through these, never by searching."""

    model: tuple[str, int] = Field(description="The MODEL output the samplers use (the checkpoint loader's).")
    clip: tuple[str, int] = Field(description="The CLIP output the text encoders use.")
    vae: tuple[str, int] = Field(description="The VAE output.")
    positive: str = Field(description="The node that encodes the positive prompt (CLIPTextEncode).")
    negative: str = Field(description="The node that encodes the negative prompt (CLIPTextEncode).")
    samplers: list[str] = Field(min_length=1, description="The sampler nodes (their positive/negative get ControlNet).")
    guide_image: tuple[str, int] | None = Field(None, description="The IMAGE at the sampled size that a ControlNet "
                                                                  "follows (the picture the stage starts from).")

    def nodes(self) -> dict[str, str]:
        """JSON path -> node id, for checking them against the graph."""
        out = {"model": self.model[0], "clip": self.clip[0], "vae": self.vae[0], "positive": self.positive,
               "negative": self.negative, **{f"samplers[{i}]": s for i, s in enumerate(self.samplers)}}
        if self.guide_image is not None:
            out["guide_image"] = self.guide_image[0]
        return out


class TemplateDecl(StrictModel):
    schema_version: Literal[1] = 1
    stage: Literal["draft", "refine", "inpaint", "upscale"]
    description: str
    parameters: dict[str, ParamDecl]
    output_node: str = Field(description="The PreviewImage (or SaveImage) node whose images are the result: a "
                                         "PreviewImage writes ComfyUI's temp folder with the fastest lossless PNG.")
    decode_node: str | None = Field(None, description="A VAEDecode that out-of-memory recovery may switch to VAEDecodeTiled.")
    anchors: Anchors | None = Field(None, description="Insertion points for LoRAs, ControlNet and SDXL conditioning.")


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    graph: dict[str, Any]
    decl: TemplateDecl
    source: str | None = None  # a graph built in code (artfarm/comfyui/families/): where, instead of workflows/

    @cached_property
    def sha256(self) -> str:
        """Content hash of graph and declarations (for cache keys)."""
        return sha256_json({"graph": self.graph, "decl": self.decl.model_dump(mode="json")})

    @property
    def file(self) -> str:
        return self.source or f"workflows/{self.path.name}"

    def param_for(self, node_id: str, input_name: str | None) -> str | None:
        for name, decl in self.decl.parameters.items():
            if any(t.node == node_id and t.input == input_name for t in decl.targets):
                return name
        return None

    def instantiate(self, values: dict[str, Any]) -> dict[str, Any]:
        """A new graph with each given parameter set on its node inputs; the template is untouched."""
        unknown = sorted(set(values) - set(self.decl.parameters))
        if unknown:
            raise BadInputError(f"template {self.name} has no parameter(s) {', '.join(unknown)}", where=self.file,
                                fix=f"use one of: {', '.join(sorted(self.decl.parameters))}")
        missing = [n for n, d in self.decl.parameters.items() if d.required and values.get(n) is None]
        if missing:
            raise BadInputError(f"template {self.name} needs parameter(s) {', '.join(missing)}", where=self.file,
                                fix="pass them in the render request (or pin the model in book.yaml models:)")
        graph = copy.deepcopy(self.graph)
        for name, value in values.items():
            if value is None:
                continue
            for target in self.decl.parameters[name].targets:
                graph[target.node]["inputs"][target.input] = copy.deepcopy(value)
        return graph

    def graph_value(self, param: str) -> Any:
        """The template's own value of a parameter (its first target), or None if undeclared."""
        decl = self.decl.parameters.get(param)
        if decl is None:
            return None
        target = decl.targets[0]
        return self.graph[target.node]["inputs"].get(target.input)

    def with_tiled_decode(self, graph: dict[str, Any]) -> dict[str, Any] | None:
        """The graph with its declared VAEDecode switched to VAEDecodeTiled; None when there is none to switch."""
        node_id = self.decl.decode_node
        if node_id is None or graph[node_id]["class_type"] != "VAEDecode":
            return None
        graph = copy.deepcopy(graph)
        node = graph[node_id]
        node["class_type"] = "VAEDecodeTiled"
        node["inputs"] = {**node["inputs"], **TILED_DECODE_INPUTS}
        return graph


def workflows_dir() -> Path:
    return builtin_dir("workflows")


def load_template(name: str, root: Path | None = None) -> Template:
    """Read and cross-check ``<name>.json`` and ``<name>.params.json``; every error names the file and JSON path."""
    root = root or workflows_dir()
    path, params_path = root / f"{name}.json", root / f"{name}.params.json"
    graph = _read_json(path)
    try:
        decl = TemplateDecl.model_validate(_read_json(params_path))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise BadInputError(f"{first['msg']}", where=f"{params_path} {json_path(first['loc'])}",
                            fix="fix the declaration; see workflows/README.md for the format") from exc
    if not isinstance(graph, dict) or not all(isinstance(n, dict) and "class_type" in n and isinstance(n.get("inputs"), dict)
                                              for n in graph.values()):
        raise BadInputError("not a ComfyUI API-format graph (each node needs class_type and inputs)", where=str(path),
                            fix="export the workflow with 'Save (API Format)' in ComfyUI")
    for pname, p in decl.parameters.items():
        for i, target in enumerate(p.targets):
            if target.node not in graph or target.input not in graph[target.node]["inputs"]:
                raise BadInputError(f"parameter {pname!r} targets node {target.node} input {target.input!r}, which the graph lacks",
                                    where=f"{params_path} $.parameters.{pname}.targets[{i}]",
                                    fix=f"point it at an existing node input of {path.name}")
    for pname, p in decl.parameters.items():
        onto = decl.parameters.get(p.onto) if p.onto else None
        if (p.kind == "mask") != (onto is not None and onto.kind == "image"):
            raise BadInputError(f"parameter {pname!r}: a mask needs `onto` naming an image parameter, and only a mask has one",
                                where=f"{params_path} $.parameters.{pname}.onto",
                                fix="set onto to the image parameter the mask is applied to (see workflows/README.md)")
    for field, node in (("output_node", decl.output_node), ("decode_node", decl.decode_node)):
        if node is not None and node not in graph:
            raise BadInputError(f"{field} {node} is not a node of {path.name}", where=f"{params_path} $.{field}",
                                fix="use a node id from the graph")
    for where, node in (decl.anchors.nodes().items() if decl.anchors else ()):
        if node not in graph:
            raise BadInputError(f"anchor {where} names node {node}, which {path.name} lacks",
                                where=f"{params_path} $.anchors.{where}", fix="use a node id from the graph")
    return Template(name=name, path=path, graph=graph, decl=decl)


def template_for_stage(stage: str, root: Path | None = None) -> Template:
    return load_template(STAGE_TEMPLATES[stage], root)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BadInputError("workflow file is missing", where=str(path), fix="restore it from the artfarm repository") from exc
    except json.JSONDecodeError as exc:
        raise BadInputError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", where=str(path),
                            fix="fix the JSON syntax") from exc
