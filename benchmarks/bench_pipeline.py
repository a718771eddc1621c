"""Throughput of render-book: is the renderer ever idle while there is work?

A 24-page book runs on a renderer that behaves like ``--servers`` ComfyUI servers: each runs
one job at a time (a lock) for a fixed time (a sleep; the upscale ``--upscale-factor`` times
longer, as on a GPU, where it is 70 % of a page), drawing its images with the proof renderer
inside that time. Jobs are routed by the ComfyUI renderer's own pool (artfarm/comfyui/pool.py).
Prints wall time / busy time per server (1.0 is ideal: the server never waited) for one
worker, the old default (a worker per server plus one) and the default, and the time of a
fully cached rerun.

    .venv/bin/python benchmarks/bench_pipeline.py [--pages 24] [--job-seconds 0.25] [--servers 1] [--upscale-factor 5]
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
from artfarm.comfyui.pool import ServerPool  # noqa: E402
from artfarm.pipeline.engine import RunOptions, default_jobs, render_book  # noqa: E402
from artfarm.pipeline.progress import Reporter  # noqa: E402
from artfarm.render.proof import ProofRenderer  # noqa: E402
from artfarm.review.heuristic import HeuristicReviewer  # noqa: E402
from artfarm.settings import resolve_settings  # noqa: E402


class SimulatedServers:
    """``servers`` one-job-at-a-time servers behind the ComfyUI pool; each measures its own busy time."""

    name = "proof"

    def __init__(self, book, job_seconds: float, servers: int = 1, upscale_factor: float = 1.0):
        self.inner = ProofRenderer(book)
        self.job_seconds = job_seconds
        self.upscale_factor = upscale_factor
        self.pool: ServerPool = ServerPool([f"server{i}" for i in range(servers)])
        self.gpus = [threading.Lock() for _ in range(servers)]
        self.busy = [0.0] * servers
        self.jobs = 0

    def identity(self, stage, family="sd15"):
        return self.inner.identity(stage, family)

    def render(self, request, progress=None):
        seconds = self.job_seconds * (self.upscale_factor if request.stage == "upscale" else 1.0)

        def on_server(index: int, can_move: bool):
            with self.gpus[index]:
                start = time.monotonic()
                result = self.inner.render(request, progress)
                time.sleep(max(0.0, seconds - (time.monotonic() - start)))
                self.busy[index] += time.monotonic() - start
                self.jobs += 1
            return result

        return self.pool.run(request.stage, on_server)[0]

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


def one_run(book_dir: Path, jobs: int, job_seconds: float, servers: int = 1,
            upscale_factor: float = 1.0) -> tuple[float, SimulatedServers]:
    book = load_book(book_dir)
    renderer = SimulatedServers(book, job_seconds, servers, upscale_factor)
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
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--upscale-factor", type=float, default=5.0)
    args = parser.parse_args()
    urls = ",".join(f"http://127.0.0.1:{8188 + i}" for i in range(args.servers))
    default = default_jobs(resolve_settings(None, {"renderer": "comfyui"}, environ={"ARTFARM_COMFYUI_URL": urls}))
    print(f"{args.pages} pages, {args.servers} one-at-a-time server(s), {args.job_seconds:.2f}s per job "
          f"(upscale x{args.upscale_factor:g})")
    for jobs in sorted({1, args.servers + 1, default}):
        root = Path(tempfile.mkdtemp(prefix="artfarm-bench-"))
        try:
            book_dir = write_book(root, args.pages)
            wall, gpu = one_run(book_dir, jobs, args.job_seconds, args.servers, args.upscale_factor)
            per_server = ", ".join(f"{wall / b:.3f}" for b in gpu.busy)
            idle = sum(wall - b for b in gpu.busy)
            print(f"jobs={jobs}: {gpu.jobs} renderer jobs, wall {wall:.2f}s, busy {sum(gpu.busy):.2f}s, "
                  f"wall/busy per server {per_server} (ideal 1.0), servers idle {idle:.2f}s in all")
            if jobs == default:
                cached_wall, cached_gpu = one_run(book_dir, jobs, args.job_seconds, args.servers, args.upscale_factor)
                print(f"jobs={jobs}: fully cached rerun {cached_wall:.3f}s, {cached_gpu.jobs} renderer jobs")
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
