"""End to end on a real ComfyUI 0.3.75 (CPU, random-weight tiny models): every template, the
rejection paths and a run-time failure. Select with ``-m comfyui_real``; installs on first use."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from artfarm.cli.main import main
from artfarm.comfyui.client import ComfyClient, Timeouts
from artfarm.comfyui.errors import ExecutionFailed, WorkflowRejected
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
