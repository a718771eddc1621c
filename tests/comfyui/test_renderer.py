"""The comfyui renderer (the Renderer seam) over the loopback double, one server or several."""

from __future__ import annotations

import io
import socket
import threading
import time

import pytest
from PIL import Image

from artfarm.book.loader import load_book
from artfarm.comfyui.client import ComfyClient
from artfarm.comfyui.errors import ComfyUIUnreachable
from artfarm.errors import BadInputError, Interrupted
from artfarm.models.book import ModelPins
from artfarm.registry import renderers
from artfarm.render.base import ProgressEvent, Renderer, RenderRequest
from artfarm.render.comfyui import ComfyUIRenderer
from artfarm.settings import resolve_settings
from tests.bookbuilder import default_book, png_bytes
from tests.comfyui.conftest import FAST_RETRY, FAST_TIMEOUTS

PINS = ModelPins(draft_checkpoint="tiny-sd15-taesd.safetensors", final_checkpoint="tiny-sd15-kl.safetensors",
                 upscale_model="tiny-esrgan-x2.safetensors")
SMALL = {"width": 64, "height": 64, "steps": 2, "seed": 11}


def fast_client(url: str) -> ComfyClient:
    return ComfyClient(url, retry=FAST_RETRY, timeouts=FAST_TIMEOUTS)


@pytest.fixture
def renderer_for():
    made = []

    def make(*urls, pins=PINS):
        renderer = ComfyUIRenderer(list(urls), pins, client_factory=fast_client)
        made.append(renderer)
        return renderer

    yield make
    for renderer in made:
        renderer.close()


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_draft_writes_the_pipelines_file_names_and_reports_what_it_used(double, renderer_for, tmp_path):
    server = double()
    renderer = renderer_for(server.url)
    assert isinstance(renderer, Renderer)
    events: list[ProgressEvent] = []
    result = renderer.render(RenderRequest(stage="draft", page=3, params={**SMALL, "batch": 4},
                                           out_dir=tmp_path / "draft", filename_stem="draft"), events.append)
    assert [i.path.name for i in result.images] == [f"draft_{n:02d}.png" for n in range(4)]
    assert [i.batch_index for i in result.images] == [0, 1, 2, 3] and {i.seed for i in result.images} == {11}
    assert result.server == server.url and result.prompt_id in server.prompts
    assert [m.name for m in result.models] == ["tiny-sd15-taesd.safetensors"]
    assert result.workflow == server.prompts[result.prompt_id]["graph"], "the exact graph submitted"
    assert result.workflow["9"]["class_type"] == "PreviewImage", "an intermediate: temp folder, fastest lossless PNG"
    assert any(e.step == 2 and e.total == 2 and e.page == 3 and e.stage == "draft" for e in events)
    assert result.attempts == []


def test_refine_inpaint_upscale_upload_their_inputs(double, renderer_for, tmp_path):
    server = double()
    renderer = renderer_for(server.url)
    selected = tmp_path / "selected.png"
    selected.write_bytes(png_bytes(size=(40, 24)))
    mask = tmp_path / "mask.png"
    canvas = Image.new("L", (20, 12), 0)  # half the image's size: artfarm scales it to fit
    canvas.paste(255, (0, 0, 10, 12))     # white (repaint) on the left half
    canvas.save(mask)
    refine = renderer.render(RenderRequest(stage="refine", page=1, params={"image": str(selected), "denoise": 0.3},
                                           out_dir=tmp_path / "refine", filename_stem="refine"))
    assert refine.workflow["10"]["inputs"]["image"].startswith("artfarm/af-")
    assert refine.workflow["3"]["inputs"]["denoise"] == 0.3
    assert [m.name for m in refine.models] == ["tiny-sd15-kl.safetensors"], "later stages use the final checkpoint"
    inpaint = renderer.render(RenderRequest(stage="inpaint", page=1, params={"image": str(selected), "mask": str(mask)},
                                            out_dir=tmp_path / "inpaint", filename_stem="inpaint"))
    image_name, loaded = refine.workflow["10"]["inputs"]["image"], inpaint.workflow["10"]["inputs"]["image"]
    assert loaded.startswith("artfarm/af-mask-") and f"POST /upload/mask {loaded} onto {image_name}" in server.events
    assert inpaint.workflow["13"]["inputs"]["mask"] == ["10", 1], "the noise mask is LoadImage's MASK (1 - alpha)"
    composite = Image.open(io.BytesIO(server.inputs[loaded]))
    assert composite.size == (40, 24) and composite.getpixel((5, 5))[3] == 0 and composite.getpixel((35, 5))[3] == 255
    upscale = renderer.render(RenderRequest(stage="upscale", page=1, params={"image": str(selected)},
                                            out_dir=tmp_path / "final", filename_stem="final"))
    assert Image.open(upscale.images[0].path).size == (80, 48), "exactly 2x the input"
    assert [m.name for m in upscale.models] == ["tiny-sd15-kl.safetensors", "tiny-esrgan-x2.safetensors"]
    uploads = [e for e in server.events if e.startswith("POST /upload/image")]
    assert len(uploads) == 3 and len(set(uploads)) == 1, "the same image is uploaded under the same name each time"


def test_a_missing_pin_says_which_one(renderer_for, tmp_path):
    renderer = renderer_for("http://127.0.0.1:9", pins=ModelPins())
    with pytest.raises(BadInputError) as info:
        renderer.render(RenderRequest(stage="draft", page=1, params={}, out_dir=tmp_path, filename_stem="d"))
    assert "models.draft_checkpoint" in str(info.value)


def test_an_input_file_that_is_missing_is_bad_input(double, renderer_for, tmp_path):
    renderer = renderer_for(double().url)
    with pytest.raises(BadInputError) as info:
        renderer.render(RenderRequest(stage="refine", page=1, params={"image": str(tmp_path / "nope.png")},
                                      out_dir=tmp_path, filename_stem="r"))
    assert "nope.png" in str(info.value)


def test_jobs_are_spread_over_several_servers(double, renderer_for, tmp_path):
    one, two = double(), double()
    renderer = renderer_for(one.url, two.url)
    servers = [renderer.render(RenderRequest(stage="draft", page=n, params={**SMALL, "batch": 1},
                                             out_dir=tmp_path / str(n), filename_stem="draft")).server for n in range(4)]
    assert servers.count(one.url) == 2 and servers.count(two.url) == 2
    assert len(one.prompts) == 2 and len(two.prompts) == 2


def test_an_unreachable_server_is_skipped_and_recorded(double, renderer_for, tmp_path):
    alive, dead = double(), dead_url()
    renderer = renderer_for(dead, alive.url)
    for n in range(2):
        result = renderer.render(RenderRequest(stage="draft", page=n, params=SMALL, out_dir=tmp_path / str(n),
                                               filename_stem="draft"))
        assert result.server == alive.url
    renderer_only_dead = renderer_for(dead)
    with pytest.raises(ComfyUIUnreachable) as info:
        renderer_only_dead.render(RenderRequest(stage="draft", page=1, params=SMALL, out_dir=tmp_path, filename_stem="d"))
    assert info.value.payload["attempts"][0]["error"] == "unreachable"


def test_failover_is_in_the_attempts(double, renderer_for, tmp_path):
    alive = double()
    renderer = renderer_for(dead_url(), alive.url)
    results = [renderer.render(RenderRequest(stage="draft", page=n, params=SMALL, out_dir=tmp_path / str(n),
                                             filename_stem="draft")) for n in range(2)]
    recorded = [a for r in results for a in r.attempts]
    assert len(recorded) == 1 and recorded[0]["action"] == "next server"


def test_identity_is_stable_and_free_of_volatile_data(double, renderer_for):
    one = renderer_for(double().url)
    two = renderer_for(double().url)
    assert one.identity("draft") == two.identity("draft")
    assert one.identity("draft") != one.identity("refine")
    assert "127.0.0.1" not in str(one.identity("upscale")) and one.identity("upscale")["template"] == "upscale_print"


def test_registry_factory_uses_settings_and_book_pins(make_book):
    book = default_book()
    book["models"] = PINS.model_dump(exclude_none=True)
    loaded = load_book(make_book(book=book))
    settings = resolve_settings(loaded.book, {"comfyui_urls": ["http://127.0.0.1:1", "http://127.0.0.1:2"]})
    renderer = renderers.create("comfyui", settings, loaded)
    try:
        assert renderer.servers == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
        assert renderer.pins == loaded.book.models
    finally:
        renderer.close()


def draft_request(tmp_path, page: int) -> RenderRequest:
    return RenderRequest(stage="draft", page=page, params={**SMALL, "batch": 1}, out_dir=tmp_path / str(page),
                         filename_stem="draft")


def render_in_thread(renderer, request) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = renderer.render(request)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"], outcome["at"] = exc, time.monotonic()

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


def wait_for(condition, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.02)


def test_cancel_interrupts_the_running_job_and_drops_the_queued_one(double, renderer_for, tmp_path):
    server = double(node_delay_s=0.5)  # seven nodes: a 3.5 s job
    renderer = renderer_for(server.url)
    running, first = render_in_thread(renderer, draft_request(tmp_path, 1))
    wait_for(lambda: server.running is not None)
    queued, second = render_in_thread(renderer, draft_request(tmp_path, 2))
    wait_for(lambda: len(server.queue) == 1)
    running_id, queued_id = server.running, server.queue[0]
    cancelled_at = time.monotonic()
    renderer.cancel()
    running.join(10), queued.join(10)
    for outcome in (first, second):
        assert isinstance(outcome.get("error"), Interrupted), outcome
        assert outcome["at"] - cancelled_at < 1.5, "a render in flight stops within about a second"
        assert outcome["error"].exit_code == 1 and "again" in str(outcome["error"])
    assert f"POST /interrupt {running_id}" in server.events
    assert f"POST /queue delete {queued_id}" in server.events
    wait_for(lambda: running_id in server.history)
    assert server.history[running_id]["status"]["status_str"] == "error", "the server stopped the running job"
    assert queued_id not in server.history and not server.queue, "the queued job never ran"
    assert not list(tmp_path.rglob("*.png"))
    prompts = len(server.prompts)
    with pytest.raises(Interrupted):
        renderer.render(draft_request(tmp_path, 3))
    assert len(server.prompts) == prompts, "a render after cancel() submits nothing"
