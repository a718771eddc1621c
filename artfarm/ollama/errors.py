"""Errors of the Ollama client: all ServiceError (exit 3), each naming the URL and the fix."""

from __future__ import annotations

from artfarm.errors import ServiceError

URL_FIX = "start Ollama (`ollama serve`), or point artfarm at it with --ollama-url, ARTFARM_OLLAMA_URL or book.yaml render.ollama_url"


class OllamaError(ServiceError):
    """Ollama could not be reached, refused a request or answered something unusable."""


class OllamaUnreachable(OllamaError):
    pass


class OllamaTimeout(OllamaError):
    pass


class OllamaModelMissing(OllamaError):
    """The model named in book.yaml (models.vlm) is not pulled on the server."""

    def __init__(self, model: str, url: str, *, available: list[str] | None = None):
        known = f" (pulled: {', '.join(available)})" if available else ""
        super().__init__(f"model '{model}' is not pulled on this Ollama server{known}", where=url,
                         fix=f"run `ollama pull {model}`, or set book.yaml models.vlm to a pulled vision model",
                         model=model)
        self.model = model


class OllamaRefused(OllamaError):
    """A non-2xx answer, or a body that is not what Ollama's API documents."""

    def __init__(self, what: str, url: str, *, status: int | None = None, body: str | None = None, fix: str | None = None):
        super().__init__(what, where=url, fix=fix or "check the Ollama server's log; upgrade Ollama if it is older than 0.5 (structured outputs)",
                         status=status, body=body)
        self.status = status
        self.body = body
