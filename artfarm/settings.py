"""Run settings, resolved as: command-line flags > environment > book.yaml > defaults."""

from __future__ import annotations

import os
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field

from artfarm.errors import BadInputError
from artfarm.models.book import Book, RenderDefaults

DEFAULT_COMFYUI_URL = "http://127.0.0.1:8188"
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"

ENV_VARS = {
    "comfyui_urls": "ARTFARM_COMFYUI_URL",  # one URL, or several separated by commas
    "ollama_url": "ARTFARM_OLLAMA_URL",
    "renderer": "ARTFARM_RENDERER",
    "reviewer": "ARTFARM_REVIEWER",
    "jobs": "ARTFARM_JOBS",
    "review_fallback": "ARTFARM_REVIEW_FALLBACK",
    "iterations_per_loop": "ARTFARM_ITERATIONS_PER_LOOP",
    "max_loops": "ARTFARM_MAX_LOOPS",
}
WHOLE_NUMBERS = {"jobs", "iterations_per_loop", "max_loops"}


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    renderer: Literal["proof", "comfyui"] = "proof"
    reviewer: Literal["heuristic", "vlm", "agent"] = "heuristic"
    comfyui_urls: list[str] = Field(default_factory=lambda: [DEFAULT_COMFYUI_URL])
    ollama_url: str = DEFAULT_OLLAMA_URL
    jobs: int | None = None
    review_fallback: Literal["heuristic"] | None = None
    iterations_per_loop: int = Field(3, ge=0, le=20, description="Self-improving loop: renders per loop (0 switches it off).")
    max_loops: int = Field(1, ge=0, le=10, description="Self-improving loop: loops per page (0 switches it off).")
    sources: dict[str, str] = Field(default_factory=dict, description="Where each value came from: flag, env, book.yaml, default.")

    @property
    def comfyui_url(self) -> str:
        return self.comfyui_urls[0]


def resolve_settings(book: Book | None = None, flags: Mapping[str, Any] | None = None,
                     environ: Mapping[str, str] | None = None) -> Settings:
    """Flags whose value is None are "not given" and fall through to the next source."""
    flags = flags or {}
    env = os.environ if environ is None else environ
    render = book.render if book is not None else RenderDefaults()
    from_book = {
        "renderer": render.renderer,
        "reviewer": render.reviewer,
        "comfyui_urls": render.comfyui_urls or ([render.comfyui_url] if render.comfyui_url else None),
        "ollama_url": render.ollama_url,
        "jobs": render.jobs,
        "review_fallback": render.review.fallback,
        "iterations_per_loop": render.review.iterations_per_loop,
        "max_loops": render.review.max_loops,
    }
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in from_book:
        flag = flags.get(key)
        if flag not in (None, [], ""):
            values[key], sources[key] = flag, "flag"
        elif env.get(ENV_VARS[key]):
            raw = env[ENV_VARS[key]]
            values[key], sources[key] = _from_env(key, raw), f"env {ENV_VARS[key]}"
        elif from_book[key] is not None:
            values[key], sources[key] = from_book[key], "book.yaml"
        else:
            sources[key] = "default"
    try:
        return Settings(**values, sources=sources)
    except ValueError as exc:
        raise BadInputError(f"invalid setting: {exc}", where="settings (flags, environment, book.yaml render:)",
                            fix="check the flag, ARTFARM_* variable or book.yaml value named above") from exc


def _from_env(key: str, raw: str) -> Any:
    if key == "comfyui_urls":
        return [u.strip() for u in raw.split(",") if u.strip()]
    if key in WHOLE_NUMBERS:
        try:
            return int(raw)
        except ValueError as exc:
            raise BadInputError(f"{ENV_VARS[key]} must be a whole number, got {raw!r}", where="environment",
                                fix=f"set {ENV_VARS[key]}=2 (or unset it)") from exc
    return raw
