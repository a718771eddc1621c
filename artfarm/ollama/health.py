"""`check_ollama`: what `artfarm doctor` reports about the vision reviewer's server and model."""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict

from artfarm.ollama.client import OllamaClient, OllamaTimeouts
from artfarm.ollama.errors import OllamaError, OllamaModelMissing
from artfarm.settings import Settings


class OllamaCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    model: str
    reachable: bool = False
    version: str | None = None
    pulled: bool = False
    digest: str | None = None
    vision: bool | None = None
    ok: bool = False
    problem: str | None = None
    fix: str | None = None


def check_ollama(settings: Settings, model: str, *, transport: httpx.BaseTransport | None = None,
                 timeouts: OllamaTimeouts = OllamaTimeouts(connect=3.0, quick=10.0)) -> OllamaCheck:
    """Never raises for a service problem: the report says what is wrong and how to fix it."""
    report = OllamaCheck(url=settings.ollama_url, model=model)
    with OllamaClient(settings.ollama_url, transport=transport, timeouts=timeouts) as client:
        try:
            report.version = client.version()
            report.reachable = True
            listed = client.require_model(model)
            report.pulled, report.digest = True, listed.digest
            capabilities = client.show(model).capabilities
            report.vision = None if capabilities is None else "vision" in capabilities
        except OllamaError as exc:
            report.problem, report.fix = str(exc.what), exc.fix
            if isinstance(exc, OllamaModelMissing):
                report.reachable = True
            return report
    if report.vision is False:
        report.problem = f"model '{model}' does not accept images (capabilities lack 'vision')"
        report.fix = "set book.yaml models.vlm to a vision model, e.g. qwen2.5vl:7b, and `ollama pull` it"
        return report
    report.ok = True
    return report
