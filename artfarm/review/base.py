"""The reviewer seam: judge a page's draft candidates and choose one (or stop for a person)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from artfarm.book.loader import LoadedBook
from artfarm.models.renderspec import RenderSpec
from artfarm.models.review import ReviewRecord
from artfarm.prompts.compile import CompiledPrompt
from artfarm.stylepacks import LoadedStylePack


@dataclass(frozen=True)
class ReviewContext:
    book: LoadedBook
    page: int
    spec: RenderSpec
    pack: LoadedStylePack
    prompt: CompiledPrompt
    text_placement: str  # top | bottom | left | right | auto: where the layout will put the words
    page_dir: Path
    # draft: a burst of different compositions; fix: an image and its repaint (alike on purpose, so no
    # reviewer should drop one as a near-duplicate of the other)
    purpose: Literal["draft", "fix"] = "draft"


@dataclass(frozen=True)
class Candidate:
    index: int
    path: Path
    seed: int | None
    sha256: str


@runtime_checkable
class Reviewer(Protocol):
    kind: str

    def identity(self) -> dict[str, Any]:
        """What shapes the verdicts (kind, model, prompt version), for the cache key."""

    def review(self, candidates: list[Candidate], ctx: ReviewContext) -> ReviewRecord:
        """Score every candidate and select one, or return status 'waiting' for a person/agent."""

    def reference_paths(self, ctx: ReviewContext) -> list[tuple[str | None, str]]:
        """(character id, or None for a style reference; book-relative path) of the reference pictures the
        reviewer looks at (for the keys of the stages it judges); [] for a reviewer that does not read them."""


def can_critique(reviewer: object) -> bool:
    """A reviewer that sees content (the vlm reviewer) can critique; measured checks (heuristic, agent) cannot."""
    return callable(getattr(reviewer, "critique", None))
