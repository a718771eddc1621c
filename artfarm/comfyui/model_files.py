"""Which LoRA and ControlNet files a server offers (its loaders' option lists in /object_info)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from artfarm.comfyui.validate import combo_options

LOADERS = {"lora": ("LoraLoader", "lora_name"), "controlnet": ("ControlNetLoader", "control_net_name")}
KIND_FOLDER = {"lora": "models/loras", "controlnet": "models/controlnet"}


class ModelFileUse(BaseModel):
    """A LoRA or ControlNet file a book loads, and the pages that load it."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["lora", "controlnet"]
    file: str
    pages: list[int]


def server_files(object_info: dict[str, Any], kind: str) -> list[str]:
    node, input_name = LOADERS[kind]
    spec = object_info.get(node, {}).get("input", {}).get("required", {}).get(input_name, [])
    return [str(o) for o in combo_options(spec) or []]


def missing_files(object_info: dict[str, Any], wanted: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (kind, file) pairs the server does not list."""
    return [(kind, file) for kind, file in wanted if file not in server_files(object_info, kind)]
