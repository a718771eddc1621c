"""Renders started by MCP tools: in a worker thread, one per book, with progress and cancellation.

The tool call stays open while the engine runs in the background of the server, so the server
keeps answering other calls. Stages and sampler steps become MCP progress notifications. When
the client cancels the call (``notifications/cancelled``) the renderer's jobs are cancelled as
Ctrl-C does (``Renderer.cancel``); the call waits until every worker returned and the book lock
is released, and the finished stages are kept for the next call.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import anyio

from artfarm.book.loader import LoadedBook
from artfarm.errors import LockHeldError
from artfarm.models.records import RunSummary
from artfarm.pipeline.context import STAGE_ORDER
from artfarm.pipeline.engine import RunOptions, close_backends, open_backends, render_book
from artfarm.pipeline.lock import BookLock
from artfarm.pipeline.progress import Reporter
from artfarm.pipeline.records import now_iso
from artfarm.render.base import ProgressEvent
from artfarm.settings import Settings

log = logging.getLogger("artfarm.mcp")

STOPPING_WAIT_SECONDS = 120.0  # a new call waits this long for a cancelled render of the same book to stop
Progress = tuple[float, float, str]  # progress, total, message
ProgressSink = Callable[[float, float, str], None]


class ProgressReporter(Reporter):
    """The engine's reporter (log lines as for the CLI) that also reports progress in pages.

    Each page counts 1: a stage started moves it to that stage's share, sampler steps fill the
    share. Values only grow, as MCP requires; a step that would not advance them is not sent."""

    def __init__(self, sink: ProgressSink, pages: int):
        super().__init__(tty=False)
        self._sink = sink
        self._pages = pages
        self._guard = threading.Lock()
        self._stage: dict[int, int] = {}
        self._share: dict[int, float] = {}
        self._sent = 0.0

    def stage(self, page: int, text: str) -> None:
        super().stage(page, text)
        index = STAGE_ORDER.index(text) if text in STAGE_ORDER else self._stage.get(page, 0)
        self._stage[page] = index
        self._advance(page, (index + 0.05) / len(STAGE_ORDER), f"page {page} {text}: running")

    def progress(self, event: ProgressEvent) -> None:
        super().progress(event)
        if event.step is not None and event.total:
            index = self._stage.get(event.page, STAGE_ORDER.index(event.stage))
            share = (index + 0.05 + 0.95 * min(event.step, event.total) / event.total) / len(STAGE_ORDER)
            self._advance(event.page, share, f"page {event.page} {STAGE_ORDER[index]}: step {event.step}/{event.total}")

    def page_finished(self, page: int) -> None:
        super().page_finished(page)
        self._advance(page, 1.0, f"page {page}: finished")

    def _advance(self, page: int, share: float, message: str) -> None:
        with self._guard:
            self._share[page] = max(share, self._share.get(page, 0.0))
            total = sum(self._share.values())
            if total <= self._sent:
                return
            self._sent = total
        self._sink(round(total, 4), float(self._pages), message)


@dataclass
class RenderJob:
    book: Path
    what: str
    started: str = field(default_factory=now_iso)
    stopping: bool = False
    done: anyio.Event = field(default_factory=anyio.Event)


class RenderJobs:
    """The renders this server runs, at most one per book."""

    def __init__(self) -> None:
        self._running: dict[Path, RenderJob] = {}

    async def run(self, book: LoadedBook, settings: Settings, options: RunOptions, what: str,
                  report: Callable[[float, float, str], object]) -> RunSummary:
        """Run the render for ``book`` in a worker thread; ``report`` is an async progress callback."""
        job = await self._claim(book.root, what)
        try:
            return await _run_in_thread(book, settings, options, job, report)
        finally:
            del self._running[book.root]
            job.done.set()

    async def _claim(self, root: Path, what: str) -> RenderJob:
        running = self._running.get(root)
        if running is not None and running.stopping:  # cancelled, finishing its jobs: the book is free soon
            with anyio.move_on_after(STOPPING_WAIT_SECONDS):
                await running.done.wait()
            running = self._running.get(root)
        if running is not None:
            holder = BookLock(root).holder()
            by = f"pid {holder.pid} on {holder.host} ({holder.command!r})" if holder else "this server"
            raise LockHeldError(f"book is being rendered by another call: {running.what}, since {running.started}, "
                                f"holding the book lock as {by}", where=str(root / ".artfarm.lock"),
                                fix="wait for that call to finish, or cancel it, then call again")
        job = self._running[root] = RenderJob(root, what)
        return job


async def _run_in_thread(book: LoadedBook, settings: Settings, options: RunOptions, job: RenderJob,
                         report: Callable[[float, float, str], object]) -> RunSummary:
    loop = asyncio.get_running_loop()
    send, receive = anyio.create_memory_object_stream[Progress](math.inf)
    reporter = ProgressReporter(lambda *item: loop.call_soon_threadsafe(send.send_nowait, item),
                                len(options.pages) if options.pages is not None else len(book.art_pages()))

    async def forward() -> None:
        async with receive:
            async for progress, total, message in receive:
                await report(progress, total, message)

    renderer, reviewer = await anyio.to_thread.run_sync(open_backends, book, settings)
    try:
        # submitted at once (no checkpoint in between), so a cancelled call always has a run to stop and wait for
        work = loop.run_in_executor(None, functools.partial(render_book, book, settings, options, renderer=renderer,
                                                            reviewer=reviewer, reporter=reporter))
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(forward)
            try:
                return await asyncio.shield(work)
            except anyio.get_cancelled_exc_class():
                job.stopping = True
                clock = time.monotonic()
                log.warning("%s: %s cancelled; stopping the renderer's jobs", book.id, job.what)
                renderer.cancel()
                with anyio.CancelScope(shield=True):
                    await asyncio.wait([work])
                log.warning("%s: %s stopped in %.1fs; finished stages are kept", book.id, job.what,
                            time.monotonic() - clock)
                raise
            finally:
                loop.call_soon(send.close)  # after the progress already queued by the workers
    finally:
        close_backends(renderer, reviewer)
