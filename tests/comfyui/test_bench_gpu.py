"""benchmarks/bench_gpu.py keeps working: its tiny mode against the real CPU server renders a page
and reports throughput, busy time per server and stage, and the polish's sampler work."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.comfyui_real, pytest.mark.timeout(900)]


def load_bench():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_gpu", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_gpu_tiny_mode_runs_against_the_cpu_server(real_comfyui, capsys):
    report = load_bench().main(["--comfyui-url", real_comfyui.url, "--tiny", "--pages", "1"])
    assert report["done"] == 1 and report["failed"] == 0
    server = report["servers"][real_comfyui.url]
    assert server["jobs"] >= 3 and server["busy_s"] > 0 and set(server["per_stage"]) >= {"draft", "refine", "upscale"}
    work = report["sampler_work"]
    assert work["polish"] == "tiled" and work["upscale_tiled_attention_steps"] < work["upscale_whole_attention_steps"]
    out = capsys.readouterr().out
    assert "pages a minute" in out and "upscale polish tiled" in out
