"""Small registries for backends; built-ins register the same way plugins would."""

from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, TypeVar

from artfarm.errors import BadInputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> factory. A factory is given as "module:attr" so importing a backend is lazy."""

    def __init__(self, kind: str):
        self.kind = kind
        self._factories: dict[str, str | Callable[..., T]] = {}

    def register(self, name: str, factory: str | Callable[..., T]) -> None:
        self._factories[name] = factory

    def names(self) -> list[str]:
        return sorted(self._factories)

    def create(self, name: str, *args: Any, **kwargs: Any) -> T:
        if name not in self._factories:
            raise BadInputError(f"unknown {self.kind} '{name}'", where=f"--{self.kind}",
                                fix=f"use one of: {', '.join(self.names())}")
        factory = self._factories[name]
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module), attr)
        return factory(*args, **kwargs)


renderers: Registry = Registry("renderer")
reviewers: Registry = Registry("reviewer")

# Built-in backends. A factory is called as factory(settings: Settings, book: LoadedBook).
renderers.register("proof", "artfarm.render.proof:create")
renderers.register("comfyui", "artfarm.render.comfyui:create")
reviewers.register("heuristic", "artfarm.review.heuristic:create")
reviewers.register("agent", "artfarm.review.agent:create")
reviewers.register("vlm", "artfarm.review.vlm:create")
