"""Typed bodies of ComfyUI's HTTP API (0.3.x), as the server sends and receives them.

Requests artfarm builds forbid unknown keys. Responses come from a server artfarm does not
control and that adds fields between releases, so they keep what artfarm reads and ignore
the rest: failing on a new key would break every user on a ComfyUI update.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Sent(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Received(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PromptRequest(_Sent):
    prompt: dict[str, Any]
    client_id: str


class PromptAccepted(_Received):
    prompt_id: str
    number: int | None = None
    node_errors: dict[str, Any] = Field(default_factory=dict)


class ErrorObject(_Received):
    type: str = "unknown"
    message: str = ""
    details: str = ""
    extra_info: dict[str, Any] = Field(default_factory=dict)


class NodeErrorItem(_Received):
    type: str
    message: str = ""
    details: str = ""
    extra_info: dict[str, Any] = Field(default_factory=dict)


class NodeErrors(_Received):
    errors: list[NodeErrorItem] = Field(default_factory=list)
    dependent_outputs: list[str] = Field(default_factory=list)
    class_type: str | None = None


class PromptRejectedBody(_Received):
    error: ErrorObject | str
    node_errors: dict[str, NodeErrors] = Field(default_factory=dict)


class FileRef(_Received):
    """A file on the server: /view?filename=&subfolder=&type= (also /upload/* responses)."""

    filename: str = Field(alias="name")
    subfolder: str = ""
    type: str = "output"

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class OutputImage(_Received):
    filename: str
    subfolder: str = ""
    type: str = "output"


class HistoryStatus(_Received):
    status_str: str | None = None
    completed: bool = False
    messages: list[list[Any]] = Field(default_factory=list)


class HistoryEntry(_Received):
    outputs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    status: HistoryStatus = Field(default_factory=HistoryStatus)

    def images(self, node_id: str) -> list[OutputImage]:
        return [OutputImage.model_validate(i) for i in self.outputs.get(node_id, {}).get("images", [])]

    def cached_nodes(self) -> list[str]:
        """Node ids the server answered from its cache (its ``execution_cached`` message)."""
        for message in self.status.messages:
            if len(message) == 2 and message[0] == "execution_cached" and isinstance(message[1], dict):
                return [str(n) for n in message[1].get("nodes", [])]
        return []

    def error_message(self) -> dict[str, Any] | None:
        for message in self.status.messages:
            if len(message) == 2 and message[0] in ("execution_error", "execution_interrupted"):
                return {"type": message[0], **message[1]}
        return None


class SystemInfo(_Received):
    os: str | None = None
    comfyui_version: str | None = None
    python_version: str | None = None
    pytorch_version: str | None = None
    ram_total: int | None = None
    ram_free: int | None = None


class Device(_Received):
    name: str
    type: str
    index: int | None = None
    vram_total: int | None = None
    vram_free: int | None = None


class SystemStats(_Received):
    system: SystemInfo
    devices: list[Device] = Field(default_factory=list)


class QueueState(_Received):
    queue_running: list[list[Any]] = Field(default_factory=list)
    queue_pending: list[list[Any]] = Field(default_factory=list)
