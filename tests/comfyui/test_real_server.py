"""End to end on a real ComfyUI 0.3.75 (CPU, random-weight tiny models): every template, the
rejection paths and a run-time failure. Select with ``-m comfyui_real``; installs on first use."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from artfarm.cli.main import main
from artfarm.comfyui.client import ComfyClient, Timeouts
from artfarm.comfyui.errors import ExecutionFailed, WorkflowRejected
from artfarm.errors import Interrupted
from artfarm.comfyui.runner import run_job
from artfarm.comfyui.templates import load_template
from artfarm.models.book import ModelPins
from artfarm.render.base import RenderRequest
from artfarm.render.comfyui import ComfyUIRenderer
from tests.bookbuilder import default_book

# The first test also installs ComfyUI (about two minutes on a fresh machine), hence the long timeout.
pytestmark = [pytest.mark.comfyui_real, pytest.mark.timeout(900)]

CKPT = "tiny-sd15-taesd.safetensors"
BROKEN = "tiny-broken.safetensors"
UPSCALER = "tiny-esrgan-x2.safetensors"
PINS = ModelPins(draft_checkpoint=CKPT, final_checkpoint=CKPT, upscale_model=UPSCALER)
FAST = {"steps": 2, "cfg": 7.0, "seed": 42}


@pytest.fixture
def client(real_comfyui):
    with ComfyClient(real_comfyui.url, timeouts=Timeouts(run=300)) as client:
        yield client


def png_size(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_all_four_templates_run_end_to_end(real_comfyui, tmp_path):
    renderer = ComfyUIRenderer([real_comfyui.url], PINS)
    progress = []
    try:
        draft = renderer.render(RenderRequest(stage="draft", page=1, params={**FAST, "width": 128, "height": 128, "batch": 2,
                                                                             "prompt": 'a "bear" {in} the woods'},
                                              out_dir=tmp_path / "draft", filename_stem="draft"), progress.append)
        assert [png_size(i.path) for i in draft.images] == [(128, 128), (128, 128)]
        assert any(e.step == 2 and e.total == 2 for e in progress)
        selected = draft.images[0].path
        refine = renderer.render(RenderRequest(stage="refine", page=1, params={**FAST, "image": str(selected), "denoise": 0.4,
                                                                              "width": 160, "height": 160},
                                               out_dir=tmp_path / "refine", filename_stem="refine"))
        assert png_size(refine.images[0].path) == (160, 160)  # scaled to the working size before img2img
        mask = tmp_path / "mask.png"
        canvas = Image.new("L", (160, 160), 0)
        canvas.paste(255, (32, 32, 96, 96))
        canvas.save(mask)
        inpaint = renderer.render(RenderRequest(stage="inpaint", page=1,
                                                params={**FAST, "image": str(refine.images[0].path), "mask": str(mask)},
                                                out_dir=tmp_path / "inpaint", filename_stem="inpaint"))
        assert png_size(inpaint.images[0].path) == (160, 160)
        final = renderer.render(RenderRequest(stage="upscale", page=1, params={**FAST, "image": str(inpaint.images[0].path)},
                                              out_dir=tmp_path / "final", filename_stem="final"))
        assert png_size(final.images[0].path) == (320, 320)
        assert final.workflow["14"]["inputs"]["model_name"] == UPSCALER
        assert all(r.attempts == [] for r in (draft, refine, inpaint, final))
    finally:
        renderer.close()


def test_identical_resubmission_is_served_from_cache(client, tmp_path):
    template = load_template("draft")
    values = {**FAST, "checkpoint": CKPT, "width": 64, "height": 64, "batch": 1, "seed": 5}
    first = run_job(client, template, values, out_dir=tmp_path / "a", stem="d")
    again = run_job(client, template, values, out_dir=tmp_path / "b", stem="d")
    assert set(again.outcome.cached_nodes) >= {"3", "9"}
    assert again.outcome.files[0].read_bytes() == first.outcome.files[0].read_bytes()


def test_outputs_deleted_on_the_server_are_made_again(client, real_comfyui, tmp_path):
    """RECIPE §7: a cached resubmission names the old files; if they were deleted, /view says 404."""
    template = load_template("draft")
    values = {**FAST, "checkpoint": CKPT, "width": 64, "height": 64, "batch": 1, "seed": 6}
    first = run_job(client, template, values, out_dir=tmp_path / "a", stem="d")
    for image in first.outcome.images:
        next((real_comfyui.run_dir / "tmp").rglob(image.filename)).unlink()  # PreviewImage: the temp folder
    again = run_job(client, template, values, out_dir=tmp_path / "b", stem="d")
    assert [a["error"] for a in again.attempts] == ["output_missing"]
    assert again.outcome.images[0].filename != first.outcome.images[0].filename
    pixels = [Image.open(f.outcome.files[0]).tobytes() for f in (first, again)]
    assert pixels[0] == pixels[1], "made again from the cached image (the PNG text chunks name the new prefix)"


def test_inpaint_repaints_only_the_masked_area(real_comfyui, tmp_path):
    """The mask goes through /upload/mask onto the image; LoadImage's MASK (1 - alpha) drives
    the noise mask and the composite, so only the white area of the mask changes."""
    image = Image.new("RGB", (128, 128), (200, 60, 40))
    image.paste((30, 90, 220), (0, 64, 128, 128))
    image.save(tmp_path / "in.png")
    mask = Image.new("L", (64, 64), 0)  # half size: artfarm scales it to the image
    mask.paste(255, (16, 16, 48, 48))
    mask.save(tmp_path / "mask.png")
    renderer = ComfyUIRenderer([real_comfyui.url], PINS)
    try:
        result = renderer.render(RenderRequest(stage="inpaint", page=1, params={
            **FAST, "denoise": 1.0, "image": str(tmp_path / "in.png"), "mask": str(tmp_path / "mask.png")},
            out_dir=tmp_path / "inpaint", filename_stem="inpaint"))
    finally:
        renderer.close()
    assert result.workflow["10"]["inputs"]["image"].startswith("artfarm/af-mask-")
    out = np.asarray(Image.open(result.images[0].path).convert("RGB")).astype(int)
    diff = np.abs(out - np.asarray(image).astype(int)).max(axis=2)
    near_box = np.zeros((128, 128), bool)
    near_box[30:98, 30:98] = True  # the box, and the 2 px its edge blurs over when the mask is scaled up
    assert diff[~near_box].max() <= 1, "outside the mask the image is unchanged"
    assert diff[40:88, 40:88].mean() > 20, "inside the mask it is repainted"


def test_cancel_interrupts_the_job_on_the_server(client, real_comfyui, tmp_path):
    renderer = ComfyUIRenderer([real_comfyui.url], PINS)
    steps, outcome = [], {}

    def work():
        try:
            renderer.render(RenderRequest(stage="draft", page=1, params={**FAST, "steps": 200, "width": 256, "height": 256,
                                                                         "batch": 2, "seed": 99},
                                          out_dir=tmp_path, filename_stem="d"), lambda e: steps.append(e.step))
        except Interrupted as exc:
            outcome["error"], outcome["at"] = exc, time.monotonic()

    thread = threading.Thread(target=work)
    thread.start()
    try:
        end = time.monotonic() + 120
        while not any(steps) and thread.is_alive() and time.monotonic() < end:
            time.sleep(0.05)
        cancelled_at = time.monotonic()
        renderer.cancel()
        thread.join(30)
        assert outcome["at"] - cancelled_at < 3 and max(s or 0 for s in steps) < 200
        prompt_id = outcome["error"].payload["prompt_id"]
        entry, end = None, time.monotonic() + 10
        while entry is None and time.monotonic() < end:  # written just after the WebSocket's last message
            entry = client.history(prompt_id)
            time.sleep(0.05)
        assert entry is not None and entry.error_message()["type"] == "execution_interrupted"
        assert client.queue().queue_running == [] and not list(tmp_path.glob("*.png"))
        with pytest.raises(Interrupted):
            renderer.render(RenderRequest(stage="draft", page=2, params=FAST, out_dir=tmp_path, filename_stem="d"))
    finally:
        renderer.close()


def test_bad_enum_is_rejected_by_the_server_and_mapped_to_the_parameter(client):
    template = load_template("draft")
    graph = template.instantiate({"checkpoint": CKPT, "sampler": "nope"})
    with pytest.raises(WorkflowRejected) as info:
        client.submit(graph, "artfarm-test", template)
    (problem,) = info.value.problems
    assert (problem.node_id, problem.input, problem.param, problem.type) == ("3", "sampler_name", "sampler", "value_not_in_list")
    assert info.value.error["type"] == "prompt_outputs_failed_validation"


def test_missing_models_are_refused_before_submitting(client, tmp_path):
    template = load_template("upscale_print")
    values = {"checkpoint": "missing.safetensors", "upscale_model": "4x-missing.pth", "image": "missing.png",
              "width": 64, "height": 64}
    with pytest.raises(WorkflowRejected) as local:
        run_job(client, template, values, out_dir=tmp_path, stem="u")
    assert local.value.source == "artfarm"
    assert {p.param for p in local.value.problems} == {"checkpoint", "upscale_model"}
    with pytest.raises(WorkflowRejected) as remote:
        client.submit(template.instantiate(values), "artfarm-test", template)
    missing_checkpoint = [p for p in remote.value.problems if p.param == "checkpoint"]
    assert missing_checkpoint and missing_checkpoint[0].type == "value_not_in_list"


def test_the_server_does_not_check_v3_combos_so_artfarm_must(client, tmp_path):
    """ComfyUI 0.3.75 validates only legacy [[...]] lists: a missing upscale model (a V3 COMBO)
    is accepted and fails at run time. artfarm's own check refuses it before submitting."""
    image = client.upload_image(_png(Image.new("RGB", (32, 32), (90, 90, 90))))
    template = load_template("upscale_print")
    values = {**FAST, "checkpoint": CKPT, "upscale_model": "4x-missing.pth", "width": 64, "height": 64,
              "image": f"{image.subfolder}/{image.filename}"}
    with pytest.raises(ExecutionFailed) as info:
        client.run(template.instantiate(values), out_dir=tmp_path, stem="u", output_node="9", template=template)
    assert info.value.node_type == "UpscaleModelLoader" and info.value.exception_type == "FileNotFoundError"
    with pytest.raises(WorkflowRejected) as local:
        run_job(client, template, values, out_dir=tmp_path, stem="u")
    assert [p.param for p in local.value.problems] == ["upscale_model"]


def test_a_checkpoint_that_fails_to_load_is_an_execution_failure(client, tmp_path):
    template = load_template("draft")
    with pytest.raises(ExecutionFailed) as info:
        run_job(client, template, {**FAST, "checkpoint": BROKEN, "width": 64, "height": 64, "batch": 1},
                out_dir=tmp_path, stem="d")
    err = info.value
    assert (err.node_id, err.node_type) == ("4", "CheckpointLoaderSimple")
    assert "SafetensorError" in err.exception_type and err.exit_code == 1
    assert not list(tmp_path.glob("*.png"))


def test_mask_upload_on_the_real_server(client):
    original = client.upload_image(_png(Image.new("RGB", (16, 16), (10, 200, 30))))
    mask = Image.new("RGBA", (16, 16), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 8, 16))
    ref = client.upload_mask(_png(mask), original)
    stored = Image.open(io.BytesIO(client.view(ref)))
    assert stored.mode == "RGBA" and stored.getpixel((2, 2))[3] == 0 and stored.getpixel((12, 2))[3] == 255
    assert client.upload_image(_png(Image.new("RGB", (16, 16), (10, 200, 30)))) == original


def test_doctor_says_all_is_well(real_comfyui, make_book, capsys):
    book = default_book()
    book["models"] = PINS.model_dump(exclude_none=True)
    make_book(book=book)
    code = main(["doctor", "testbook", "--comfyui-url", real_comfyui.url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "version 0.3.75" in out and "doctor: all is well" in out


def _png(image):
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_install_is_idempotent_and_pinned(comfyui_installation):
    from tests.comfyui.conftest import load_server_script

    script = load_server_script()
    home = comfyui_installation.home
    checkpoint = comfyui_installation.models / "checkpoints" / CKPT
    watched = sorted((home / "markers").glob("*.done")) + [checkpoint]
    assert len(watched) == 5
    before = {path: path.stat().st_mtime_ns for path in watched}
    assert script.ensure_installed(home) == comfyui_installation
    assert {path: path.stat().st_mtime_ns for path in watched} == before, "a second install changes nothing"
    constraints = script.CONSTRAINTS.read_text().splitlines()
    assert "torch==2.13.0" in constraints and "torchvision==0.28.0" in constraints
    assert not [line for line in constraints if line.startswith("nvidia-")]


def test_tiled_polish_covers_every_pixel_at_the_exact_size_without_seams(real_comfyui, tmp_path):
    """On a smooth input: the tiled output has the exact 2x size, every 8x8 block differs from the
    unpolished upscale (no tile left a hole), and the change across a tile border is no larger
    than the changes inside the tiles."""
    from artfarm.comfyui.insert.tiles import tile_grid

    y, x = np.mgrid[0:160, 0:200]
    smooth = np.stack([x * 255 / 200, y * 255 / 160, np.full_like(x, 128.0)], -1).astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "in.png")
    renderer = ComfyUIRenderer([real_comfyui.url], PINS)
    out = {}
    try:
        for mode in ("tiled", "none"):
            result = renderer.render(RenderRequest(stage="upscale", page=1, params={
                **FAST, "denoise": 0.3, "image": str(tmp_path / "in.png"), "polish": mode, "tile": 256, "overlap": 32},
                out_dir=tmp_path / mode, filename_stem="u"))
            out[mode] = np.asarray(Image.open(result.images[0].path).convert("RGB")).astype(float)
    finally:
        renderer.close()
    tiled, plain = out["tiled"], out["none"]
    assert tiled.shape == plain.shape == (320, 400, 3)
    blocks = np.abs(tiled - plain).reshape(40, 8, 50, 8, 3).max(axis=(1, 3, 4))
    assert (blocks > 0).all(), "every part of the picture went through a tile"
    columns = np.abs(np.diff(tiled, axis=1)).mean(axis=(0, 2))  # columns[i]: between pixel columns i and i+1
    rows = np.abs(np.diff(tiled, axis=0)).mean(axis=(1, 2))
    tiles = tile_grid(400, 320, 256, 32)
    x_edges = {t.x - 1 for t in tiles if t.x} | {t.x + t.width - 1 for t in tiles if t.x + t.width < 400}
    y_edges = {t.y - 1 for t in tiles if t.y} | {t.y + t.height - 1 for t in tiles if t.y + t.height < 320}
    for diffs, edges in ((columns, x_edges), (rows, y_edges)):
        inside = np.delete(diffs, sorted(edges))[2:-2]
        assert max(diffs[e] for e in edges) <= inside.max(), "a seam: the border changes more than any place inside"
