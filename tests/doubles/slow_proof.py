"""`python -m tests.doubles.slow_proof ARGS...`: the artfarm CLI with a proof renderer that takes its time.

The slow renderer is registered through the renderer registry under the name "proof", so a run
uses it without a flag. Each job works in small steps, as a GPU samples; after cancel() it
takes a moment more (a server finishing its step), writes what it has and raises Interrupted.
Before every file it writes it notes in $SLOW_PROOF_EVENTS whether the book's lock exists.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from artfarm.errors import Interrupted
from artfarm.fsio import atomic_write_bytes
from artfarm.pipeline.lock import LOCK_NAME
from artfarm.render.base import ProgressFn, RenderRequest, RenderResult
from artfarm.render.proof import ProofRenderer
from tests.bookbuilder import png_bytes

STEP_SECONDS = 0.05
STEPS = 40
STOP_SECONDS = 1.0


class SlowProofRenderer(ProofRenderer):
    def __init__(self, book) -> None:
        super().__init__(book)
        self.events = Path(os.environ["SLOW_PROOF_EVENTS"])
        self.stopping = threading.Event()
        self._write_lock = threading.Lock()

    def cancel(self) -> None:
        self.stopping.set()

    def render(self, request: RenderRequest, progress: ProgressFn | None = None) -> RenderResult:
        self._note("start", request)
        for _ in range(STEPS):
            if self.stopping.is_set():
                time.sleep(STOP_SECONDS)
                self._note("write", request)
                atomic_write_bytes(Path(request.out_dir) / f"{request.filename_stem}_00.png", png_bytes())
                raise Interrupted(f"page {request.page} {request.stage} stopped on request", where="slow proof renderer")
            time.sleep(STEP_SECONDS)
        self._note("write", request)
        return super().render(request, progress)

    def _note(self, event: str, request: RenderRequest) -> None:
        line = {"event": event, "page": request.page, "stage": request.stage, "time": time.time(),
                "locked": (self.book.root / LOCK_NAME).exists()}
        with self._write_lock, self.events.open("a") as fh:
            fh.write(json.dumps(line) + "\n")


def create(settings, book) -> SlowProofRenderer:
    return SlowProofRenderer(book)


def main() -> int:
    from artfarm.cli.main import main as cli
    from artfarm.registry import renderers

    renderers.register("proof", create)
    return cli(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
