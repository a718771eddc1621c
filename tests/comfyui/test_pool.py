"""The server pool: least queued work, urgent stages first, one retry elsewhere for what another
server may not share (ServerPool with real threads; the renderer over loopback doubles)."""

from __future__ import annotations

import copy
import threading
import time

import pytest

from artfarm.comfyui.client import ComfyClient
from artfarm.comfyui.errors import ExecutionFailed, NodeProblem, OutOfMemory, WorkflowRejected
from artfarm.comfyui.pool import ServerPool
from artfarm.models.book import ModelPins
from artfarm.render.base import RenderRequest
from artfarm.render.comfyui import ComfyUIRenderer
from tests.comfyui.conftest import FAST_RETRY, FAST_TIMEOUTS
from tests.comfyui.double import recorded

PINS = ModelPins(draft_checkpoint="tiny-sd15-taesd.safetensors", final_checkpoint="tiny-sd15-kl.safetensors",
                 upscale_model="tiny-esrgan-x2.safetensors")
SMALL = {"width": 64, "height": 64, "steps": 2, "seed": 11, "batch": 1}


def oom() -> OutOfMemory:
    return OutOfMemory("out of memory", node_id="3", node_type="KSampler", exception_type="torch.OutOfMemoryError",
                       exception_message="CUDA out of memory", prompt_id="p")


def model_missing() -> WorkflowRejected:
    return WorkflowRejected("rejected", problems=[NodeProblem(node_id="4", input="ckpt_name", type="value_not_in_list",
                                                              message="'x' is not one the server offers")])


def test_a_job_goes_to_the_server_with_the_least_expected_work():
    pool: ServerPool[str] = ServerPool(["a", "b"])
    pool.run("upscale", lambda i: time.sleep(0.2))  # teaches the pool: an upscale takes ~0.2 s
    pool.run("draft", lambda i: time.sleep(0.01))
    release = threading.Event()
    where: dict[str, int] = {}

    def hold(name: str, stage: str) -> threading.Thread:
        def work() -> None:
            where[name] = pool.run(stage, lambda i: release.wait(5) and i)[1]
        thread = threading.Thread(target=work)
        thread.start()
        return thread

    threads = [hold("upscale", "upscale")]
    time.sleep(0.1)
    threads.append(hold("draft1", "draft"))
    time.sleep(0.1)
    threads.append(hold("draft2", "draft"))  # both servers hold one job: the one with the short job wins
    time.sleep(0.1)
    release.set()
    for thread in threads:
        thread.join(5)
    assert where["draft1"] != where["upscale"]
    assert where["draft2"] == where["draft1"], "two short jobs queue before one long one"


def test_waiting_jobs_leave_in_stage_order_so_drafts_overtake_upscales():
    pool: ServerPool[None] = ServerPool(["only"], depth=1)
    started: list[str] = []
    gate = threading.Event()

    def submit(name: str, stage: str) -> threading.Thread:
        def work() -> None:
            pool.run(stage, lambda i: (started.append(name), gate.wait(5) if name == "first" else None))
        thread = threading.Thread(target=work)
        thread.start()
        time.sleep(0.05)
        return thread

    threads = [submit("first", "upscale"), submit("upscale", "upscale"), submit("refine", "refine"),
               submit("draft", "draft")]
    gate.set()
    for thread in threads:
        thread.join(5)
    assert started == ["first", "draft", "refine", "upscale"]


@pytest.mark.parametrize("error, reason", [(oom, "out_of_memory"), (model_missing, "model_missing")])
def test_a_failure_another_server_may_not_share_is_tried_once_elsewhere(error, reason):
    pool: ServerPool[str] = ServerPool(["a", "b", "c"])
    calls: list[int] = []

    def job(index: int) -> str:
        calls.append(index)
        if len(calls) == 1:
            raise error()
        return "ok"

    result, index, attempts = pool.run("draft", job)
    assert result == "ok" and index == calls[1] != calls[0]
    assert [(a["server"], a["error"], a["action"]) for a in attempts] == [(["a", "b", "c"][calls[0]], reason, "next server")]

    calls.clear()
    with pytest.raises(type(error())) as info:
        pool.run("draft", lambda i: calls.append(i) or (_ for _ in ()).throw(error()))
    assert len(calls) == 2, "moved once, not to every server"
    assert [a["action"] for a in info.value.payload["attempts"]] == ["next server", "give up"]


def test_other_failures_are_not_retried():
    pool: ServerPool[None] = ServerPool(["a", "b"])
    calls: list[int] = []

    def job(index: int) -> None:
        calls.append(index)
        raise ExecutionFailed("bad input", node_id="10", node_type="LoadImage", exception_type="FileNotFoundError",
                              exception_message="no such file", prompt_id="p")

    with pytest.raises(ExecutionFailed):
        pool.run("refine", job)
    assert len(calls) == 1


def fast_client(url: str) -> ComfyClient:
    return ComfyClient(url, retry=FAST_RETRY, timeouts=FAST_TIMEOUTS)


def test_a_model_one_server_lacks_is_rendered_on_the_other(double, tmp_path):
    info = copy.deepcopy(recorded("object_info.json"))
    info["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0] = ["other.safetensors"]
    lacking, having = double(object_info=info), double()
    renderer = ComfyUIRenderer([lacking.url, having.url], PINS, client_factory=fast_client)
    try:
        result = renderer.render(RenderRequest(stage="draft", page=1, params=SMALL, out_dir=tmp_path, filename_stem="d"))
    finally:
        renderer.close()
    assert result.server == having.url and not lacking.prompts
    assert [(a["server"], a["error"], a["action"]) for a in result.attempts] == [(lacking.url, "model_missing", "next server")]


def test_out_of_memory_after_the_runners_recovery_moves_to_the_other_server(double, tmp_path):
    small, big = double(oom={"KSampler": 5}), double()
    renderer = ComfyUIRenderer([small.url, big.url], PINS, client_factory=fast_client)
    try:
        result = renderer.render(RenderRequest(stage="draft", page=1, params=SMALL, out_dir=tmp_path, filename_stem="d"))
    finally:
        renderer.close()
    assert result.server == big.url
    errors = [(a["server"], a["error"], a["action"]) for a in result.attempts]
    assert errors[-1] == (small.url, "out_of_memory", "next server")
    assert any(a["error"] == "out_of_memory" and "VAEDecodeTiled" in (a["action"] or "") for a in result.attempts), \
        "the runner's own recovery came first, on the same server"
