"""Throughput of render-book: is the renderer ever idle while there is work?

A 24-page book runs on a renderer that behaves like one GPU: one job at a time (a lock) and
a fixed time per job (a sleep), drawing its images with the proof renderer inside that time.
Prints wall time / renderer busy time (1.0 is ideal: the renderer never waited) for one
worker and for the default number of workers, and the time of a fully cached rerun.

    .venv/bin/python benchmarks/bench_pipeline.py [--pages 24] [--job-seconds 0.25]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from artfarm.book.loader import load_book  # noqa: E402
from artfarm.pipeline.engine import RunOptions, default_jobs, render_book  # noqa: E402
from artfarm.pipeline.progress import Reporter  # noqa: E402
from artfarm.render.proof import ProofRenderer  # noqa: E402
from artfarm.review.heuristic import HeuristicReviewer  # noqa: E402
from artfarm.settings import resolve_settings  # noqa: E402


class OneGpuRenderer:
    """One job at a time, each taking at least ``job_seconds``; measures its own busy time."""

    name = "proof"

    def __init__(self, book, job_seconds: float):
        self.inner = ProofRenderer(book)
        self.job_seconds = job_seconds
        self.gpu = threading.Lock()
        self.busy = 0.0
        self.jobs = 0
        self.first_start: float | None = None
        self.last_end = 0.0

    def identity(self, stage):
        return self.inner.identity(stage)

    def render(self, request, progress=None):
        with self.gpu:
            start = time.monotonic()
            self.first_start = self.first_start or start
            result = self.inner.render(request, progress)
            time.sleep(max(0.0, self.job_seconds - (time.monotonic() - start)))
            end = time.monotonic()
            self.busy += end - start
            self.last_end = end
            self.jobs += 1
        return result

    def close(self):
        pass


def write_book(root: Path, pages: int) -> Path:
    book_dir = root / "benchbook"
    (book_dir / "bible").mkdir(parents=True)
    book = {"title": "Bench", "author": "Bench", "style_pack": "watercolor_whimsy_v1",
            "layout": {"trim": "2x2", "bleed_in": 0.0}, "pages": [{"page": n, "text": f"Page {n}."} for n in range(1, pages + 1)]}
    (book_dir / "book.yaml").write_text(yaml.safe_dump(book))
    chars = {"characters": [{"id": "bear", "name": "Bruno", "look": "a brown bear"}]}
    (book_dir / "bible/characters.yaml").write_text(yaml.safe_dump(chars))
    for n in range(1, pages + 1):
        spec = {"book_id": "benchbook", "page": n, "scene": f"the bear on page {n}", "characters": [{"id": "bear"}],
                "style_pack": "watercolor_whimsy_v1", "seed": 100 * n,
                "overrides": {"draft": {"count": 4, "width": 256, "height": 256}}}
        (book_dir / "pages" / f"{n:04d}").mkdir(parents=True)
        (book_dir / "pages" / f"{n:04d}" / "renderspec.json").write_text(json.dumps(spec))
    return book_dir


def one_run(book_dir: Path, jobs: int, job_seconds: float) -> tuple[float, OneGpuRenderer]:
    book = load_book(book_dir)
    renderer = OneGpuRenderer(book, job_seconds)
    start = time.monotonic()
    summary = render_book(book, resolve_settings(book.book, {}), RunOptions(jobs=jobs), renderer=renderer,
                          reviewer=HeuristicReviewer(), reporter=Reporter(tty=False))
    wall = time.monotonic() - start
    assert summary.failed == 0, summary
    return wall, renderer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=24)
    parser.add_argument("--job-seconds", type=float, default=0.25)
    args = parser.parse_args()
    default = default_jobs(resolve_settings(None, {}, environ={}))
    print(f"{args.pages} pages, one-at-a-time renderer, {args.job_seconds:.2f}s per job")
    for jobs in sorted({1, default}):
        root = Path(tempfile.mkdtemp(prefix="artfarm-bench-"))
        try:
            book_dir = write_book(root, args.pages)
            wall, gpu = one_run(book_dir, jobs, args.job_seconds)
            idle = wall - gpu.busy
            print(f"jobs={jobs}: {gpu.jobs} renderer jobs, wall {wall:.2f}s, renderer busy {gpu.busy:.2f}s, "
                  f"wall/busy {wall / gpu.busy:.3f} (ideal 1.0), renderer idle {idle:.2f}s")
            if jobs == default:
                cached_wall, cached_gpu = one_run(book_dir, jobs, args.job_seconds)
                print(f"jobs={jobs}: fully cached rerun {cached_wall:.3f}s, {cached_gpu.jobs} renderer jobs")
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
