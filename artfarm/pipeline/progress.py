"""What a run shows: a live status line on a terminal, plain log lines otherwise.

Off a terminal (an agent, CI, a log file) sampler steps become a plain line per page and stage,
"page 3 draft: step 12/30", at 25, 50 and 75 % and at least every ``PLAIN_EVERY_SECONDS`` in
between, so a long job shows it is alive without flooding the log.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Callable, TextIO

from artfarm.render.base import ProgressEvent

log = logging.getLogger("artfarm.pipeline")

PLAIN_EVERY_SECONDS = 10.0
PLAIN_MARKS = (25, 50, 75)  # percent of a job's steps


class Reporter:
    """Thread-safe; every page worker reports here. Log lines are the same on a TTY and off it."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(tty if tty is not None else getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self.total = 0
        self.finished = 0
        self.active: dict[int, str] = {}
        self._clock = clock
        self._steps: dict[tuple[int, str], tuple[float, int, int]] = {}  # (page, stage): last line at, mark, step

    def start(self, total_pages: int) -> None:
        self.total = total_pages

    def log(self, message: str, level: int = logging.INFO) -> None:
        with self._lock:
            if self.tty and level >= logging.INFO:
                self._clear()
                self.stream.write(message + "\n")
                self._draw()
            else:
                log.log(level, message)

    def stage(self, page: int, text: str) -> None:
        with self._lock:
            self.active[page] = text
            self._draw()

    def progress(self, event: ProgressEvent) -> None:
        if event.step is not None and event.total:
            if self.tty:
                self.stage(event.page, f"{event.stage} {event.step}/{event.total}")
            elif self._step_line_due(event.page, event.stage, event.step, event.total):
                log.info("page %s %s: step %s/%s", event.page, event.stage, event.step, event.total)
        elif event.message:
            log.debug("page %s %s: %s", event.page, event.stage, event.message)

    def _step_line_due(self, page: int, stage: str, step: int, total: int) -> bool:
        now = self._clock()
        mark = max((m for m in PLAIN_MARKS if 100 * step >= m * total), default=0)
        with self._lock:
            last_at, last_mark, last_step = self._steps.get((page, stage), (now, 0, 0))
            if step < last_step:  # a new job of the same stage (a burst image, a loop round, a retry)
                last_at, last_mark = now, 0
            due = step < total and (mark > last_mark or now - last_at >= PLAIN_EVERY_SECONDS)
            self._steps[(page, stage)] = (now if due else last_at, max(mark, last_mark), step)
        return due

    def page_finished(self, page: int) -> None:
        with self._lock:
            self.finished += 1
            self.active.pop(page, None)
            for key in [k for k in self._steps if k[0] == page]:
                del self._steps[key]
            self._draw()

    def close(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def _draw(self) -> None:
        if not self.tty:
            return
        busy = "  ".join(f"p{p} {t}" for p, t in sorted(self.active.items())[:4])
        self.stream.write(f"\r\033[K[{self.finished}/{self.total} pages] {busy}"[:200])
        self.stream.flush()
