"""The ComfyUI client against the loopback double (real HTTP + WebSocket) and recorded bodies."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from artfarm.comfyui.client import ComfyClient, RetryPolicy, Timeouts
from artfarm.comfyui.errors import (ComfyUITimeout, ComfyUIUnreachable, ExecutionFailed, Interrupted, OutOfMemory,
                                    WorkflowRejected)
from artfarm.comfyui.runner import run_job
from artfarm.comfyui.templates import load_template
from artfarm.errors import ServiceError
from tests.bookbuilder import png_bytes
from tests.comfyui.double import DATA, recorded

CKPT = "tiny-sd15-taesd.safetensors"
DRAFT = {"checkpoint": CKPT, "width": 64, "height": 48, "batch": 3, "steps": 3, "seed": 7}


def draft_graph(**changes):
    return load_template("draft").instantiate({**DRAFT, **changes})


def run_draft(client, tmp_path, progress=None, **changes):
    template = load_template("draft")
    return client.run(template.instantiate({**DRAFT, **changes}), out_dir=tmp_path / "out", stem="draft",
                      output_node="9", progress=progress, template=template)


def test_run_connects_websocket_before_submitting_and_writes_outputs_where_asked(double, client_for, tmp_path):
    server = double()
    events = []
    outcome = run_draft(client_for(server.url), tmp_path, progress=events.append)
    ws_event, post_event = server.events[0], server.events[1]
    assert ws_event.startswith("ws ") and post_event.startswith("POST /prompt ")
    assert ws_event.split()[1] == post_event.split()[2], "the prompt is submitted with the WebSocket's clientId"
    assert [p.name for p in outcome.files] == ["draft_00.png", "draft_01.png", "draft_02.png"]
    for path, image in zip(outcome.files, outcome.images):
        assert path.read_bytes() == server.outputs[(image.subfolder, image.filename)]
        assert Image.open(path).size == (64, 48)
    steps = [(e.node, e.step, e.total) for e in events if e.step is not None]
    assert steps == [("3", 1, 3), ("3", 2, 3), ("3", 3, 3)]
    assert {e.node for e in events} >= {"4", "3", "8", "9"}


def test_double_speaks_the_recorded_message_order(double, client_for, tmp_path):
    """The double is only useful if it says what the real server said: same graph, same message types."""
    transcript = recorded("protocol/ws_txt2img.json")
    graph = recorded("protocol/history_success.json")["body"][transcript["prompt_id"]]["prompt"][2]
    want = [m["msg"]["type"] for m in transcript["messages"] if m["kind"] == "text" and m["msg"]["type"] != "progress_state"]
    server = double()
    client = client_for(server.url)
    client.run(graph, out_dir=tmp_path, stem="x", output_node="9")
    assert [m["type"] for m in server.sent] == want


def test_server_file_names_never_decide_where_files_go(double, client_for, tmp_path):
    server = double(hostile_names=True)
    outcome = run_draft(client_for(server.url), tmp_path / "deep" / "er")
    assert all(p.parent == tmp_path / "deep" / "er" / "out" for p in outcome.files)
    assert outcome.images[0].filename.startswith("../")
    assert not list(tmp_path.rglob("escape_*"))


def test_dropped_websocket_falls_back_to_history_and_reconnects(double, client_for, tmp_path):
    server = double(drop_ws_at_node="3", node_delay_s=0.05)
    outcome = run_draft(client_for(server.url), tmp_path)
    assert len(outcome.files) == 3
    assert outcome.ws_reconnects >= 1 or outcome.history_polls >= 1
    assert sum(e.startswith("ws ") for e in server.events) >= 2, "the client reconnects with its clientId"


def test_empty_history_right_after_success_is_waited_out(double, client_for, tmp_path):
    server = double(history_delay_s=0.4)
    outcome = run_draft(client_for(server.url), tmp_path)
    assert len(outcome.files) == 3 and outcome.history_polls >= 1


def test_server_dying_mid_run_is_unreachable_after_bounded_retries(double, client_for, tmp_path):
    server = double(die_at_node="3")
    sleeps = []
    client = client_for(server.url, sleep=lambda s: (sleeps.append(s), time.sleep(s)))
    started = time.monotonic()
    with pytest.raises(ComfyUIUnreachable) as info:
        run_draft(client, tmp_path)
    assert time.monotonic() - started < 10
    assert info.value.exit_code == 3 and "start ComfyUI" in str(info.value)
    assert sleeps[:2] == [0.05, 0.1], "backoff grows between attempts"
    assert not (tmp_path / "out").exists()


def test_unreachable_server_is_retried_with_backoff_then_reported(client_for):
    sleeps = []
    client = client_for("http://127.0.0.1:9", retry=RetryPolicy(attempts=4, backoff=0.01, factor=3), sleep=sleeps.append)
    with pytest.raises(ComfyUIUnreachable) as info:
        client.system_stats()
    assert sleeps == pytest.approx([0.01, 0.03, 0.09])
    assert "4 attempt(s)" in str(info.value) and "127.0.0.1:9/system_stats" in str(info.value)


def test_slow_answers_hit_the_call_timeout(double, client_for):
    server = double(http_delay_s=0.6)
    with pytest.raises(ComfyUITimeout) as info:
        client_for(server.url, timeouts=Timeouts(http=0.2)).system_stats()
    assert "/system_stats" in str(info.value) and info.value.fix


def test_slow_but_answering_server_still_completes(double, client_for, tmp_path):
    server = double(http_delay_s=0.05, node_delay_s=0.02)
    assert len(run_draft(client_for(server.url), tmp_path).files) == 3


def test_run_deadline_is_enforced(double, client_for, tmp_path):
    server = double(node_delay_s=0.5)
    template = load_template("draft")
    with pytest.raises(ComfyUITimeout) as info:
        client_for(server.url).run(template.instantiate(DRAFT), out_dir=tmp_path, stem="d", output_node="9", deadline_s=0.6)
    assert "did not finish within" in str(info.value)


def test_out_of_memory_frees_then_retries_with_tiled_decode(double, client_for, tmp_path):
    server = double(oom={"VAEDecode": 1})
    result = run_job(client_for(server.url), load_template("draft"), DRAFT, out_dir=tmp_path, stem="d")
    assert len(result.outcome.files) == 3
    assert [a["action"] for a in result.attempts] == ["free memory, decode with VAEDecodeTiled"]
    assert result.attempts[0]["node_type"] == "VAEDecode" and result.attempts[0]["error"] == "out_of_memory"
    assert result.graph["8"]["class_type"] == "VAEDecodeTiled"
    assert 'POST /free {"free_memory": true, "unload_models": true}' in server.events


def test_out_of_memory_twice_halves_the_batch(double, client_for, tmp_path):
    server = double(oom={"KSampler": 2})
    result = run_job(client_for(server.url), load_template("draft"), {**DRAFT, "batch": 4}, out_dir=tmp_path, stem="d")
    assert [a["action"] for a in result.attempts] == ["free memory, decode with VAEDecodeTiled",
                                                       "free memory, batch 4 -> 2"]
    assert len(result.outcome.files) == 2 and result.graph["5"]["inputs"]["batch_size"] == 2
    assert sum(e.startswith("POST /free") for e in server.events) == 2


def test_out_of_memory_that_persists_gives_up_with_every_attempt_recorded(double, client_for, tmp_path):
    server = double(oom={"KSampler": 99})
    with pytest.raises(OutOfMemory) as info:
        run_job(client_for(server.url), load_template("draft"), {**DRAFT, "batch": 2}, out_dir=tmp_path, stem="d")
    assert [a["action"] for a in info.value.attempts] == ["free memory, decode with VAEDecodeTiled",
                                                           "free memory, batch 2 -> 1", "give up"]
    assert info.value.node_type == "KSampler" and "out of memory" in str(info.value)
    assert info.value.exit_code == 1


def test_out_of_memory_without_a_recovery_left_gives_up_at_once(double, client_for, tmp_path):
    server = double(oom={"ImageUpscaleWithModel": 1})
    client = client_for(server.url)
    image = client.upload_image(png_bytes(size=(16, 16)))
    values = {"checkpoint": CKPT, "upscale_model": "tiny-esrgan-x2.safetensors", "width": 32, "height": 32,
              "image": f"{image.subfolder}/{image.filename}"}
    with pytest.raises(OutOfMemory) as info:
        run_job(client, load_template("upscale_print"), values, out_dir=tmp_path, stem="u")
    assert [a["action"] for a in info.value.attempts] == ["give up"]
    assert not any(e.startswith("POST /free") for e in server.events)


def test_runtime_failure_names_node_and_exception(double, client_for, tmp_path):
    server = double(fail_class="VAEDecode")
    with pytest.raises(ExecutionFailed) as info:
        run_draft(client_for(server.url), tmp_path)
    err = info.value
    assert not isinstance(err, OutOfMemory)
    assert (err.node_id, err.node_type, err.exception_type) == ("8", "VAEDecode", "FileNotFoundError")
    assert "missing.png" in err.exception_message and err.prompt_id in str(err)


def test_interrupt_stops_the_run(double, client_for, tmp_path):
    server = double(node_delay_s=0.3)
    client = client_for(server.url)
    threading.Timer(0.4, client.interrupt).start()
    with pytest.raises(Interrupted) as info:
        run_draft(client, tmp_path)
    assert "POST /interrupt" in server.events and "again" in str(info.value)


def test_server_rejection_maps_node_errors_to_template_and_parameter(double, client_for):
    server = double()
    template = load_template("draft")
    graph = template.instantiate({**DRAFT, "sampler": "nope", "checkpoint": "does-not-exist.safetensors", "steps": 0})
    with pytest.raises(WorkflowRejected) as info:
        client_for(server.url).submit(graph, "cid", template)
    problems = {(p.node_id, p.input, p.param, p.type) for p in info.value.problems}
    assert problems == {("3", "sampler_name", "sampler", "value_not_in_list"),
                        ("4", "ckpt_name", "checkpoint", "value_not_in_list"),
                        ("3", "steps", "steps", "value_smaller_than_min")}
    assert all(p.template == "workflows/draft.json" for p in info.value.problems)
    assert info.value.error["type"] == "prompt_outputs_failed_validation"
    assert "artfarm parameter 'sampler'" in str(info.value) and info.value.exit_code == 2  # a bad value is bad input


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "protocol").glob("error_*.json")))
def test_every_recorded_rejection_becomes_a_typed_error(name):
    """Recorded 400 (and 500) bodies of the real server, served through an httpx MockTransport."""
    record = recorded(f"protocol/{name}")
    status = record.get("status", 400)
    body = record.get("body", record.get("body_text", ""))

    def handler(request):
        return httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=str(body))

    client = ComfyClient("http://comfy.test", transport=httpx.MockTransport(handler), retry=RetryPolicy(attempts=1))
    template = load_template("draft")
    with pytest.raises(ServiceError) as info:
        client.submit({"3": {"class_type": "KSampler", "inputs": {}}}, "cid", template)
    # a value the server does not accept (an unknown model pin, a number out of range) is bad input; the rest
    # (a node class the server lacks, a broken graph, a body it cannot read) is the server refusing
    bad_values = {"error_b_bad_enum_value.json", "error_e_ckpt_not_in_list.json", "error_f_int_below_min.json",
                  "error_g_wrong_type_value.json"}
    assert info.value.exit_code == (2 if name in bad_values else 3)
    if isinstance(body, dict) and status == 400:
        items = sum(len(v["errors"]) for v in body.get("node_errors", {}).values())
        assert len(info.value.problems) == items
        assert body["error"]["message"] in str(info.value)
        if name == "error_b_bad_enum_value.json":
            assert info.value.problems[0].param == "sampler"
        if name == "error_e_ckpt_not_in_list.json":
            assert info.value.problems[0].param == "checkpoint"


def test_uploads_are_content_addressed(double, client_for):
    server = double()
    client = client_for(server.url)
    a, b = png_bytes(colour=(1, 2, 3)), png_bytes(colour=(4, 5, 6))
    first, again, other = client.upload_image(a), client.upload_image(a), client.upload_image(b)
    assert first == again and first.filename != other.filename
    assert first.subfolder == "artfarm" and " (1)" not in other.filename
    assert server.inputs[f"artfarm/{first.filename}"] == a


def test_mask_upload_puts_the_mask_alpha_on_the_original(double, client_for):
    server = double()
    client = client_for(server.url)
    original = client.upload_image(png_bytes(size=(8, 8)))
    mask = Image.new("RGBA", (8, 8), (0, 0, 0, 255))
    mask.putpixel((0, 0), (0, 0, 0, 0))
    buf = io.BytesIO()
    mask.save(buf, format="PNG")
    ref = client.upload_mask(buf.getvalue(), original)
    stored = Image.open(io.BytesIO(server.inputs[f"artfarm/{ref.filename}"]))
    assert stored.mode == "RGBA" and stored.getpixel((0, 0))[3] == 0 and stored.getpixel((1, 1))[3] == 255


def test_object_info_is_fetched_once_per_server():
    calls = []
    info = recorded("object_info.json")

    def handler(request):
        calls.append(request.url.path)
        return httpx.Response(200, json=info)

    client = ComfyClient("http://comfy.test", transport=httpx.MockTransport(handler))
    assert client.object_info() is client.object_info()
    assert calls == ["/object_info"]
    client.object_info(refresh=True)
    assert calls == ["/object_info", "/object_info"]


def test_queue_system_stats_and_free_are_typed(double, client_for):
    server = double()
    client = client_for(server.url)
    stats = client.system_stats()
    assert stats.system.comfyui_version == "0.3.75" and stats.devices[0].type == "cpu"
    assert client.queue().queue_running == []
    client.free(unload_models=True, free_memory=False)
    assert server.events[-1] == 'POST /free {"free_memory": false, "unload_models": true}'


def test_not_comfyui_is_a_protocol_error():
    client = ComfyClient("http://comfy.test", transport=httpx.MockTransport(lambda r: httpx.Response(200, text="<html>")))
    with pytest.raises(ServiceError) as info:
        client.system_stats()
    assert info.value.exit_code == 3 and "ComfyUI" in str(info.value)


@pytest.mark.parametrize("url", ["127.0.0.1:8188", "ftp://host", "http://"])
def test_a_url_that_is_not_http_is_bad_input(url):
    from artfarm.errors import BadInputError

    with pytest.raises(BadInputError) as info:
        ComfyClient(url)
    assert info.value.exit_code == 2 and "http://127.0.0.1:8188" in str(info.value)
