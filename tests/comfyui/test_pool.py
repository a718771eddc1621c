"""The server pool: least queued work, urgent stages first, one retry elsewhere for what another
server may not share (ServerPool with real threads; the renderer over loopback doubles)."""

from __future__ import annotations

import copy
import threading
import time

import pytest

from artfarm.comfyui.client import ComfyClient, Timeouts
from artfarm.comfyui.errors import ComfyUIUnreachable, ExecutionFailed, NodeProblem, OutOfMemory, WorkflowRejected
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
    pool.run("upscale", lambda i, _: time.sleep(0.2))  # teaches the pool: an upscale takes ~0.2 s
    pool.run("draft", lambda i, _: time.sleep(0.01))
    release = threading.Event()
    where: dict[str, int] = {}

    def hold(name: str, stage: str) -> threading.Thread:
        def work() -> None:
            where[name] = pool.run(stage, lambda i, _: release.wait(5) and i)[1]
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
            pool.run(stage, lambda i, _: (started.append(name), gate.wait(5) if name == "first" else None))
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

    def job(index: int, can_move: bool) -> str:
        calls.append(index)
        if len(calls) == 1:
            raise error()
        return "ok"

    result, index, attempts = pool.run("draft", job)
    assert result == "ok" and index == calls[1] != calls[0]
    assert [(a["server"], a["error"], a["action"]) for a in attempts] == [(["a", "b", "c"][calls[0]], reason, "next server")]

    calls.clear()
    with pytest.raises(type(error())) as info:
        pool.run("draft", lambda i, _: calls.append(i) or (_ for _ in ()).throw(error()))
    assert len(calls) == 2, "moved once, not to every server"
    assert [a["action"] for a in info.value.payload["attempts"]] == ["next server", "give up"]


def test_other_failures_are_not_retried():
    pool: ServerPool[None] = ServerPool(["a", "b"])
    calls: list[int] = []

    def job(index: int, can_move: bool) -> None:
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


def unreachable() -> ComfyUIUnreachable:
    return ComfyUIUnreachable("connection refused", where="test")


def test_a_down_server_is_left_out_while_the_live_one_is_busy():
    pool: ServerPool[int] = ServerPool(["a", "b"], depth=1)
    calls: list[int] = []

    def fails_first(index: int, can_move: bool) -> int:
        calls.append(index)
        if len(calls) == 1:
            raise unreachable()
        return index

    live = pool.run("draft", fails_first)[1]
    down = calls[0]
    release = threading.Event()
    holder = threading.Thread(target=lambda: pool.run("upscale", lambda i, _: release.wait(5) and i))
    holder.start()
    time.sleep(0.1)  # the live server is full now
    threading.Timer(0.3, release.set).start()
    assert pool.run("draft", lambda i, _: i)[1] == live != down, "waited for room on the live server"
    holder.join(5)


def test_every_server_down_still_gets_the_job():
    pool: ServerPool[int] = ServerPool(["a", "b"], depth=1)
    with pytest.raises(ComfyUIUnreachable):
        pool.run("draft", lambda i, _: (_ for _ in ()).throw(unreachable()))
    assert pool.run("draft", lambda i, _: i)[1] in (0, 1)


def test_the_job_is_told_whether_another_server_answers():
    seen: list[tuple[int, bool]] = []

    def job(index: int, can_move: bool) -> None:
        seen.append((index, can_move))
        if len(seen) == 1:
            raise unreachable()

    ServerPool(["a", "b"]).run("draft", job)
    assert [can for _, can in seen] == [True, False], "the last untried server is the last resort"
    seen.clear()
    ServerPool(["only"]).run("draft", lambda i, can_move: seen.append((i, can_move)))
    assert seen == [(0, False)]


@pytest.mark.timeout(60)  # the old code waited a minute per attempt on /object_info
def test_a_server_that_stops_accepting_connections_is_skipped_for_one_that_answers(double, not_accepting, tmp_path):
    live = double()
    quick = lambda url: ComfyClient(url, retry=FAST_RETRY, timeouts=Timeouts(connect=0.3, http=5.0, run=20.0, poll=0.1))  # noqa: E731
    renderer = ComfyUIRenderer([not_accepting, live.url], PINS, client_factory=quick)
    try:
        result = renderer.render(RenderRequest(stage="draft", page=1, params=SMALL, out_dir=tmp_path, filename_stem="d"))
    finally:
        renderer.close()
    assert result.server == live.url and result.images
    assert [(a["server"], a["error"], a["action"]) for a in result.attempts] == [(not_accepting, "unreachable", "next server")]


@pytest.mark.timeout(60)  # the old code waited Timeouts.restart (here 10 minutes) for the dead server
def test_a_job_whose_server_dies_mid_run_moves_at_once_to_one_that_answers(double, tmp_path):
    dying, live = double(die_at_node="3"), double()
    patient = lambda url: ComfyClient(url, retry=FAST_RETRY, timeouts=Timeouts(connect=2.0, http=5.0, run=20.0, poll=0.1,  # noqa: E731
                                                                               restart=600.0))
    renderer = ComfyUIRenderer([dying.url, live.url], PINS, client_factory=patient)
    try:
        result = renderer.render(RenderRequest(stage="draft", page=1, params=SMALL, out_dir=tmp_path, filename_stem="d"))
    finally:
        renderer.close()
    assert dying.prompts, "the job started on the server that died"
    assert result.server == live.url and result.images
    assert [(a["server"], a["error"], a["action"]) for a in result.attempts] == [(dying.url, "unreachable", "next server")]
