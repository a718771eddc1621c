"""Typed bodies of the Ollama HTTP API routes artfarm uses (/api/chat, /api/tags, /api/show, /api/version).

Requests are strict: a typo in a field we send is a bug. Responses ignore unknown fields,
because each Ollama release adds some and a newer server must not break artfarm.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ChatMessage(_Request):
    role: Literal["system", "user", "assistant"]
    content: str
    images: list[str] | None = Field(None, description="Base64-encoded images (no data: prefix).")


class ChatOptions(_Request):
    temperature: float = 0.0
    seed: int = 42
    num_ctx: int | None = None
    num_predict: int | None = None


class ChatRequest(_Request):
    model: str
    messages: list[ChatMessage]
    format: dict[str, Any] | Literal["json"] | None = Field(None, description="A JSON Schema the answer must follow.")
    options: ChatOptions = Field(default_factory=ChatOptions)
    keep_alive: str | int | None = "10m"
    stream: Literal[False] = False

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ChatResponseMessage(_Response):
    role: str = "assistant"
    content: str = ""


class ChatResponse(_Response):
    model: str
    created_at: str | None = None
    message: ChatResponseMessage
    done: bool = True
    done_reason: str | None = None
    total_duration: int | None = None
    eval_count: int | None = None


class ModelDetails(_Response):
    format: str | None = None
    family: str | None = None
    families: list[str] | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None


class TagModel(_Response):
    name: str
    model: str | None = None
    modified_at: str | None = None
    size: int | None = None
    digest: str
    details: ModelDetails | None = None


class TagsResponse(_Response):
    models: list[TagModel] = Field(default_factory=list)

    def find(self, name: str) -> TagModel | None:
        """Ollama names without a tag mean ':latest'."""
        wanted = canonical_name(name)
        return next((m for m in self.models if canonical_name(m.name) == wanted
                     or (m.model and canonical_name(m.model) == wanted)), None)


class ShowResponse(_Response):
    details: ModelDetails | None = None
    capabilities: list[str] | None = None
    modified_at: str | None = None


class VersionResponse(_Response):
    version: str


def canonical_name(name: str) -> str:
    name = name.strip()
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"
