"""Client overhead per job, submit to outputs on disk, against a ComfyUI that does no work.

The server is the loopback double from the tests (real HTTP and WebSocket on 127.0.0.1,
images made instantly), so what is measured is the client: artfarm's event-driven client
beside a plain script that POSTs /prompt and checks /history once a second, as most do.

    python benchmarks/bench_comfyui_client.py [--jobs 20] [--polling-jobs 5]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from artfarm.comfyui.client import ComfyClient  # noqa: E402
from artfarm.comfyui.templates import load_template  # noqa: E402
from tests.comfyui.double import ComfyDouble  # noqa: E402

VALUES = {"checkpoint": "tiny-sd15-taesd.safetensors", "width": 64, "height": 64, "batch": 1, "steps": 1}


def artfarm_job(client: ComfyClient, graph: dict, out: Path) -> None:
    client.run(graph, out_dir=out, stem="draft", output_node="9")


def polling_job(http: httpx.Client, graph: dict, out: Path) -> None:
    """What a typical script does: submit, then ask /history every second until it is there."""
    prompt_id = http.post("/prompt", json={"prompt": graph, "client_id": uuid.uuid4().hex}).json()["prompt_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(1.0)
        history = http.get(f"/history/{prompt_id}").json()
        if prompt_id in history:
            break
    else:
        raise TimeoutError(prompt_id)
    for index, image in enumerate(history[prompt_id]["outputs"]["9"]["images"]):
        data = http.get("/view", params=image).content
        (out / f"draft_{index:02d}.png").write_bytes(data)


def measure(job, jobs: int) -> list[float]:
    times = []
    for _ in range(jobs):
        started = time.perf_counter()
        job()
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--polling-jobs", type=int, default=5)
    args = parser.parse_args()
    template, seeds = load_template("draft"), itertools.count()

    def graph() -> dict:
        """A new seed each job: the double caches work it has done, as ComfyUI does."""
        return template.instantiate({**VALUES, "seed": next(seeds)})

    with ComfyDouble() as server, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        with ComfyClient(server.url) as client:
            artfarm_job(client, graph(), out)  # warm-up: connections, imports
            ours = measure(lambda: artfarm_job(client, graph(), out), args.jobs)
        with httpx.Client(base_url=server.url, timeout=10) as http:
            plain = measure(lambda: polling_job(http, graph(), out), args.polling_jobs)
    ours_ms, plain_ms = statistics.median(ours) * 1000, statistics.median(plain) * 1000
    print(f"artfarm client (WebSocket, then /history and /view): {ours_ms:8.1f} ms/job  median of {len(ours)} "
          f"(min {min(ours) * 1000:.1f}, max {max(ours) * 1000:.1f})")
    print(f"plain 1-second /history polling client:              {plain_ms:8.1f} ms/job  median of {len(plain)} "
          f"(min {min(plain) * 1000:.1f}, max {max(plain) * 1000:.1f})")
    print(f"ratio polling/artfarm: {plain_ms / ours_ms:.1f}x  (artfarm overhead is {ours_ms / plain_ms:.1%} of the polling client's)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
