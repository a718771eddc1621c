"""Throughput of render-book on real ComfyUI servers: pages a minute, GPU seconds per stage,
wall / busy per server, GPU utilisation (nvidia-smi, when present), and the sampler work
each stage asks for (pixels x steps, and attention pairs x steps) with the print upscale's
polish whole and tiled, so the tiled polish's effect shows without a GPU too.

    # a GPU machine (see ../shared/gpu/README.md): the example book, SDXL-size models
    python benchmarks/bench_gpu.py --comfyui-url http://127.0.0.1:8188 --pins sdxl-random.safetensors,esrgan-random-x4.pth
    # the CPU test server with the tiny models (CI runs this, in tests/benchmarks/test_bench_gpu.py)
    python benchmarks/bench_gpu.py --comfyui-url URL --tiny --pages 1

Busy time is the union of each prompt's execution_start..execution_success in the server's
/history, so it counts only artfarm's prompts of this run (by prompt id).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from artfarm.book.loader import load_book  # noqa: E402
from artfarm.comfyui.insert.tiles import Polish, sampled_pixel_steps  # noqa: E402
from artfarm.pipeline.engine import RunOptions, default_jobs, render_book  # noqa: E402
from artfarm.pipeline.progress import Reporter  # noqa: E402
from artfarm.pipeline.sizes import draft_size, half_print, print_px  # noqa: E402
from artfarm.render.comfyui import ComfyUIRenderer  # noqa: E402
from artfarm.review.heuristic import HeuristicReviewer  # noqa: E402
from artfarm.settings import resolve_settings  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "books" / "gingerbear_01"
TINY_PINS = ("tiny-sd15-taesd.safetensors", "tiny-esrgan-x2.safetensors")
STAGES = ("draft", "refine", "inpaint", "upscale")


def tiny_book(root: Path, pages: int) -> Path:
    """A book small enough for the CPU server: 1.2 in square pages, 64 px drafts, 2 steps, 256 px tiles."""
    book_dir = root / "tinybook"
    (book_dir / "bible").mkdir(parents=True)
    book = {"title": "Tiny", "author": "Bench", "style_pack": "watercolor_whimsy_v1",
            "layout": {"trim": "1.2x1.2", "bleed_in": 0.0},
            "models": {"draft_checkpoint": TINY_PINS[0], "final_checkpoint": TINY_PINS[0], "upscale_model": TINY_PINS[1]},
            "render": {"upscale": {"tile": 256, "overlap": 32, "steps": 2}},
            "pages": [{"page": n, "text": f"Page {n}."} for n in range(1, pages + 1)]}
    (book_dir / "book.yaml").write_text(yaml.safe_dump(book))
    (book_dir / "bible/characters.yaml").write_text(yaml.safe_dump({"characters": [{"id": "bear", "name": "B", "look": "a bear"}]}))
    for n in range(1, pages + 1):
        spec = {"book_id": "tinybook", "page": n, "scene": f"the bear on page {n}", "characters": [{"id": "bear"}],
                "style_pack": "watercolor_whimsy_v1", "seed": 100 * n,
                "overrides": {"draft": {"count": 1, "width": 64, "height": 64, "steps": 2}, "refine": {"steps": 2}}}
        (book_dir / "pages" / f"{n:04d}").mkdir(parents=True)
        (book_dir / "pages" / f"{n:04d}" / "renderspec.json").write_text(json.dumps(spec))
    return book_dir


def copy_book(source: Path, root: Path, pins: list[str] | None) -> Path:
    book_dir = root / source.name
    shutil.copytree(source, book_dir, ignore=shutil.ignore_patterns("draft", "selected", "refine", "inpaint", "loop",
                                                                     "upscale", "final", "review.json", "layout"))
    if pins:
        data = yaml.safe_load((book_dir / "book.yaml").read_text())
        checkpoint, upscaler = pins
        data.setdefault("models", {}).update(draft_checkpoint=checkpoint, final_checkpoint=checkpoint, upscale_model=upscaler)
        (book_dir / "book.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return book_dir


def sampler_work(book_dir: Path, pages: list[int]) -> dict[str, Any]:
    """Pixels x steps (and attention pairs x steps) each stage puts through the sampler, summed over
    the pages, for the configured polish and for the old whole-image one."""
    book = load_book(book_dir)
    family = "sdxl" if "xl" in (book.book.models.final_checkpoint or "").lower() else "sd15"
    upscale = book.book.render.upscale
    work: dict[str, float] = {}
    for page in pages:
        spec = book.require_spec(page)
        tiers = book.style_packs[spec.style_pack].pack.tiers
        target = print_px(book.book, page)
        over = spec.overrides
        dw, dh = draft_size(tiers.draft.width, tiers.draft.height, target, over.draft.width, over.draft.height)
        count = over.draft.count or book.book.render.draft_count
        work["draft"] = work.get("draft", 0.0) + dw * dh * count * (over.draft.steps or tiers.draft.steps)
        rw, rh = half_print(target)
        work["refine"] = work.get("refine", 0.0) + rw * rh * (over.refine.steps or tiers.final.steps)
        steps = over.upscale.steps or upscale.steps or max(1, tiers.final.steps // 2)
        for label, mode in (("upscale_whole", "whole"), ("upscale_" + upscale.polish, upscale.polish)):
            polish = Polish(polish=mode, tile=upscale.tile, overlap=upscale.overlap)
            counted = sampled_pixel_steps(polish, family=family, size=(rw * 2, rh * 2), steps=steps)
            work[label + "_pixel_steps"] = work.get(label + "_pixel_steps", 0.0) + counted["pixel_steps"]
            work[label + "_attention_steps"] = work.get(label + "_attention_steps", 0.0) + counted["attention_steps"]
    return {"family": family, "polish": upscale.polish, **{k: round(v) for k, v in work.items()}}


class Smi:
    """nvidia-smi sampled every 0.5 s while the render runs (nothing when there is no nvidia-smi)."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Smi:
        if shutil.which("nvidia-smi"):
            self._proc = subprocess.Popen(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                           "--format=csv,noheader,nounits", "-lms", "500"], stdout=subprocess.PIPE, text=True)
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                util, mem = (float(v) for v in line.split(",")[:2])
            except ValueError:
                continue
            self.samples.append((util, mem))

    def __exit__(self, *exc: Any) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(5)

    def summary(self) -> dict[str, Any] | None:
        if not self.samples:
            return None
        return {"samples": len(self.samples), "gpu_util_mean_pct": round(sum(u for u, _ in self.samples) / len(self.samples), 1),
                "gpu_mem_peak_mib": max(m for _, m in self.samples)}


def stage_of(graph: dict[str, Any]) -> str:
    classes = {n.get("class_type") for n in graph.values()}
    if "UpscaleModelLoader" in classes:
        return "upscale"
    if "SetLatentNoiseMask" in classes or "VAEEncodeForInpaint" in classes:
        return "inpaint"
    return "draft" if "EmptyLatentImage" in classes else "refine"


def server_busy(url: str, prompt_ids: set[str]) -> dict[str, Any]:
    """Busy seconds (union of this run's prompts' execution spans) and seconds per stage, from /history."""
    history = httpx.get(f"{url}/history", params={"max_items": 100000}, timeout=60).json()
    spans, per_stage = [], {}
    for pid, entry in history.items():
        if pid not in prompt_ids:
            continue
        messages = {m[0]: m[1] for m in entry.get("status", {}).get("messages", []) if len(m) == 2}
        start = messages.get("execution_start", {}).get("timestamp")
        end = (messages.get("execution_success") or messages.get("execution_error") or {}).get("timestamp")
        if start is None or end is None:
            continue
        spans.append((start / 1000, end / 1000))
        per_stage.setdefault(stage_of(entry["prompt"][2]), []).append((end - start) / 1000)
    busy, last_end = 0.0, None
    for start, end in sorted(spans):
        if last_end is not None and start < last_end:
            busy += max(0.0, end - last_end)
        else:
            busy += end - start
        last_end = end if last_end is None else max(last_end, end)
    return {"jobs": len(spans), "busy_s": round(busy, 2),
            "per_stage": {k: {"n": len(v), "seconds": round(sum(v), 2), "mean_s": round(sum(v) / len(v), 2)}
                          for k, v in sorted(per_stage.items())}}


def run(urls: list[str], book_dir: Path, pages: list[int] | None, jobs: int | None) -> dict[str, Any]:
    book = load_book(book_dir)
    pages = pages or book.art_pages()
    settings = resolve_settings(book.book, {"renderer": "comfyui", "comfyui_urls": urls}, environ={})
    renderer = ComfyUIRenderer(urls, book.book.models)
    work = sampler_work(book_dir, pages)
    with Smi() as smi:
        start = time.monotonic()
        try:
            summary = render_book(book, settings, RunOptions(pages=pages, jobs=jobs), renderer=renderer,
                                  reviewer=HeuristicReviewer(), reporter=Reporter(tty=False))
        finally:
            renderer.close()
        wall = time.monotonic() - start
    prompt_ids = set()
    for page in pages:
        for stage_json in book.page_dir(page).glob("*/stage.json"):
            prompt_id = json.loads(stage_json.read_text()).get("prompt_id")
            if prompt_id:
                prompt_ids.add(prompt_id)
    servers = {url: server_busy(url, prompt_ids) for url in urls}
    per_stage: dict[str, float] = {}
    for report in servers.values():
        report["wall_over_busy"] = round(wall / report["busy_s"], 3) if report["busy_s"] else None
        for stage, figures in report["per_stage"].items():
            per_stage[stage] = per_stage.get(stage, 0.0) + figures["seconds"]
    done = summary.done + summary.cached
    return {"pages": len(pages), "done": done, "failed": summary.failed, "wall_s": round(wall, 2),
            "pages_per_minute": round(done / wall * 60, 2) if wall else None,
            "jobs": jobs or default_jobs(settings),
            "gpu_s_per_page_by_stage": {k: round(v / max(1, len(pages)), 2) for k, v in sorted(per_stage.items())},
            "servers": servers, "nvidia_smi": smi.summary(), "sampler_work": work}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui-url", action="append", required=True, help="repeat for several servers")
    parser.add_argument("--book", type=Path, default=EXAMPLE, help="a book to copy and render (default: the example)")
    parser.add_argument("--pins", help="CHECKPOINT,UPSCALE_MODEL to pin in the copy (the GPU kit's random-weight models)")
    parser.add_argument("--tiny", action="store_true", help="a tiny book for the CPU test server's tiny models")
    parser.add_argument("--pages", type=int, help="render only the first N pages")
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="artfarm-bench-gpu-"))
    try:
        book_dir = tiny_book(root, args.pages or 1) if args.tiny else copy_book(args.book, root, args.pins.split(",") if args.pins else None)
        pages = load_book(book_dir).art_pages()[:args.pages] if args.pages else None
        report = run(args.comfyui_url, book_dir, pages, args.jobs)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return report


def print_report(r: dict[str, Any]) -> None:
    print(f"{r['done']}/{r['pages']} pages in {r['wall_s']}s: {r['pages_per_minute']} pages a minute (--jobs {r['jobs']})")
    print("GPU seconds a page by stage: " + ", ".join(f"{k} {v}" for k, v in r["gpu_s_per_page_by_stage"].items()))
    for url, s in r["servers"].items():
        print(f"  {url}: {s['jobs']} jobs, busy {s['busy_s']}s, wall/busy {s['wall_over_busy']}")
    smi = r["nvidia_smi"]
    print(f"GPU utilisation {smi['gpu_util_mean_pct']} % mean, peak memory {smi['gpu_mem_peak_mib']} MiB" if smi
          else "no nvidia-smi: GPU utilisation not measured")
    w = r["sampler_work"]
    mode = w["polish"]
    print(f"sampler work ({w['family']}, all pages): draft {w['draft']:.3g} px-steps, refine {w['refine']:.3g} px-steps")
    print(f"  upscale polish whole: {w['upscale_whole_pixel_steps']:.3g} px-steps, {w['upscale_whole_attention_steps']:.3g} attention-steps")
    print(f"  upscale polish {mode}: {w[f'upscale_{mode}_pixel_steps']:.3g} px-steps, "
          f"{w[f'upscale_{mode}_attention_steps']:.3g} attention-steps")


if __name__ == "__main__":
    main()
