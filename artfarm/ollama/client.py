"""A small synchronous Ollama client on httpx; the transport is injectable for tests.

Every call has a timeout. Transport failures become OllamaUnreachable or OllamaTimeout,
a 404 naming the model becomes OllamaModelMissing, any other refusal OllamaRefused,
each raised ``from`` the httpx error so --debug shows the cause.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from artfarm.ollama.errors import URL_FIX, OllamaModelMissing, OllamaRefused, OllamaTimeout, OllamaUnreachable
from artfarm.ollama.models import ChatRequest, ChatResponse, ShowResponse, TagModel, TagsResponse, VersionResponse

R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class OllamaTimeouts:
    """Seconds. ``chat`` is long: a vision model may load from disk before it answers."""

    connect: float = 5.0
    quick: float = 15.0
    chat: float = 300.0


class OllamaClient:
    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None,
                 timeouts: OllamaTimeouts = OllamaTimeouts()):
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self._http = httpx.Client(base_url=self.base_url, transport=transport,
                                  timeout=httpx.Timeout(timeouts.quick, connect=timeouts.connect))

    def __enter__(self) -> "OllamaClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def version(self) -> str:
        return self._call("GET", "/api/version", VersionResponse).version

    def tags(self) -> TagsResponse:
        return self._call("GET", "/api/tags", TagsResponse)

    def show(self, model: str) -> ShowResponse:
        return self._call("POST", "/api/show", ShowResponse, body={"model": model}, model=model)

    def require_model(self, model: str) -> TagModel:
        """The pulled model's listing (with its digest), or OllamaModelMissing naming `ollama pull`."""
        tags = self.tags()
        found = tags.find(model)
        if found is None:
            raise OllamaModelMissing(model, self.base_url, available=[m.name for m in tags.models])
        return found

    def chat(self, request: ChatRequest) -> ChatResponse:
        timeout = httpx.Timeout(self.timeouts.chat, connect=self.timeouts.connect)
        return self._call("POST", "/api/chat", ChatResponse, body=request.body(), model=request.model, timeout=timeout)

    def _call(self, method: str, path: str, into: type[R], *, body: dict[str, Any] | None = None,
              model: str | None = None, timeout: httpx.Timeout | None = None) -> R:
        url = f"{self.base_url}{path}"
        extra = {"timeout": timeout} if timeout is not None else {}
        try:
            response = self._http.request(method, path, json=body, **extra)
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise OllamaUnreachable(f"could not connect to Ollama (timed out after {self.timeouts.connect:g}s)",
                                        where=url, fix=URL_FIX) from exc
            raise OllamaTimeout(f"Ollama did not answer {method} {path} in time ({type(exc).__name__})", where=url,
                                fix="the model may still be loading or the machine is busy: try again, use a smaller "
                                    "vision model, or pass --review-fallback heuristic") from exc
        except httpx.TransportError as exc:
            raise OllamaUnreachable(f"could not reach Ollama ({exc})", where=url, fix=URL_FIX) from exc
        if response.status_code == 404 and model is not None and "not found" in _error_text(response).lower():
            raise OllamaModelMissing(model, self.base_url)
        if response.status_code >= 400:
            raise OllamaRefused(f"Ollama answered HTTP {response.status_code}: {_error_text(response) or response.reason_phrase}",
                                url, status=response.status_code, body=response.text[:2000])
        try:
            return into.model_validate_json(response.content)
        except ValidationError as exc:
            raise OllamaRefused(f"Ollama's answer to {method} {path} is not what its API documents: "
                                f"{exc.errors()[0]['msg']}", url, status=response.status_code, body=response.text[:2000],
                                fix="check that the URL points at an Ollama server, not another service") from exc


def _error_text(response: httpx.Response) -> str:
    """Ollama reports errors as {"error": "..."}; fall back to the raw text."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:300]
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return data["error"]
    return response.text[:300]
