"""What a run shows: a live status line on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

from artfarm.render.base import ProgressEvent

log = logging.getLogger("artfarm.pipeline")


class Reporter:
    """Thread-safe; every page worker reports here. Log lines are the same on a TTY and off it."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(tty if tty is not None else getattr(self.stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self.total = 0
        self.finished = 0
        self.active: dict[int, str] = {}

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
            self.stage(event.page, f"{event.stage} {event.step}/{event.total}")
        elif event.message:
            log.debug("page %s %s: %s", event.page, event.stage, event.message)

    def page_finished(self, page: int) -> None:
        with self._lock:
            self.finished += 1
            self.active.pop(page, None)
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
