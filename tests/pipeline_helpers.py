"""Small books and injectable backends for pipeline tests (seams, not monkeypatching)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from artfarm.book.loader import LoadedBook, load_book
from artfarm.errors import RunError
from artfarm.pipeline.engine import RunOptions, render_book
from artfarm.pipeline.progress import Reporter
from artfarm.render.base import ProgressFn, RenderRequest, RenderResult
from artfarm.render.proof import ProofRenderer
from artfarm.review.heuristic import HeuristicReviewer
from artfarm.settings import resolve_settings
from tests.bookbuilder import default_book, default_spec

# Print size 1.5in x 1.5in, no bleed: finals of 450 px keep the tests fast.
SMALL_LAYOUT = {"trim": "1.5x1.5", "bleed_in": 0}
SMALL_DRAFT = {"draft": {"count": 3, "width": 128, "height": 128}}


def small_book_data(pages: int = 2) -> dict[str, Any]:
    book = default_book(pages)
    book["layout"] = dict(SMALL_LAYOUT)
    return book


def small_spec(page: int, **changes: Any) -> dict[str, Any]:
    spec = default_spec(page)
    spec["overrides"] = {k: dict(v) for k, v in SMALL_DRAFT.items()}
    spec.update(changes)
    return spec


def write_small_book(make_book, pages: int = 2, specs: dict | None = None, **kwargs: Any) -> Path:
    return make_book(book=kwargs.pop("book", small_book_data(pages)),
                     specs=specs if specs is not None else {n: small_spec(n) for n in range(1, pages + 1)}, **kwargs)


class Crash(BaseException):
    """Stands in for the process being killed: nothing in the engine catches it."""


class RecordingRenderer:
    """The proof renderer behind the seam, counting jobs; can fail or 'crash' at one stage."""

    def __init__(self, book: LoadedBook, *, fail_at: str | None = None, crash_at: str | None = None,
                 identity_extra: dict[str, Any] | None = None):
        self.inner = ProofRenderer(book)
        self.name = "proof"
        self.fail_at, self.crash_at = fail_at, crash_at
        self.identity_extra = identity_extra or {}
        self.calls: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def identity(self, stage: str, family: str = "sd15") -> dict[str, Any]:
        return {**self.inner.identity(stage, family), **self.identity_extra}

    def render(self, request: RenderRequest, progress: ProgressFn | None = None) -> RenderResult:
        with self._lock:
            self.calls.append((request.page, request.stage))
        if request.stage == self.crash_at:
            raise Crash(f"killed during {request.stage}")
        if request.stage == self.fail_at:
            raise RunError(f"renderer refused the {request.stage} job", where="test renderer", fix="none")
        return self.inner.render(request, progress)

    def cancel(self) -> None:
        self.inner.cancel()

    def close(self) -> None:
        pass


class CrashingReviewer(HeuristicReviewer):
    def review(self, candidates, ctx):
        raise Crash("killed during review")


def run(book_dir: Path, *, renderer=None, reviewer=None, **options: Any):
    """Load the book and run it in-process; returns (summary, renderer)."""
    book = load_book(book_dir)
    renderer = renderer or RecordingRenderer(book)
    if callable(renderer) and not hasattr(renderer, "render"):
        renderer = renderer(book)
    summary = render_book(book, resolve_settings(book.book, {}), RunOptions(**options), renderer=renderer,
                          reviewer=reviewer or HeuristicReviewer(), reporter=Reporter(tty=False))
    return summary, renderer


def actions(summary, page: int) -> dict[str, str]:
    result = next(r for r in summary.pages if r.page == page)
    return {o.stage: o.action for o in result.stages}
