"""LoRAs, ControlNet and SDXL graphs on a real ComfyUI 0.3.75 (CPU, random-weight tiny models).

The tiny LoRAs and ControlNet come from scripts/tiny_models.py. SDXL-size models cannot run
here, so SDXL graphs are checked against the live server's /object_info and by its own
/prompt validation, with a placeholder file under the pinned checkpoint name."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import yaml
from PIL import Image

from artfarm.cli.main import main
from artfarm.comfyui.client import ComfyClient, Timeouts

from artfarm.comfyui.validate import check_graph
from artfarm.models.book import ModelPins
from artfarm.render.base import RenderRequest
from artfarm.render.comfyui import ComfyUIRenderer
from tests.bookbuilder import default_characters
from tests.pipeline_helpers import small_book_data, small_spec

pytestmark = [pytest.mark.comfyui_real, pytest.mark.timeout(900)]

CKPT = "tiny-sd15-taesd.safetensors"
UPSCALER = "tiny-esrgan-x2.safetensors"
STYLE, CHARACTER = "tiny-lora-style.safetensors", "tiny-lora-character.safetensors"
CONTROLNET = "tiny-controlnet-sd15.safetensors"
PINS = ModelPins(draft_checkpoint=CKPT, final_checkpoint=CKPT, upscale_model=UPSCALER)
FAST = {"steps": 2, "cfg": 7.0, "seed": 42, "prompt": "a bear in the woods"}
TINY_DRAFT = {"draft": {"count": 1, "width": 64, "height": 64, "steps": 2}}


@pytest.fixture
def renderer(real_comfyui):
    renderer = ComfyUIRenderer([real_comfyui.url], PINS)
    yield renderer
    renderer.close()


def pixels(result) -> np.ndarray:
    return np.asarray(Image.open(result.images[0].path).convert("RGB")).astype(int)


def lora(file: str, strength: float) -> dict:
    return {"file": file, "strength": strength, "strength_clip": strength}


def test_a_lora_at_strength_zero_is_no_lora_and_at_one_changes_the_picture(renderer, tmp_path):
    def draft(name, **extra):
        params = {**FAST, "width": 64, "height": 64, "batch": 1, **extra}
        return renderer.render(RenderRequest(stage="draft", page=1, params=params, out_dir=tmp_path / name, filename_stem="d"))

    plain, zero, one = draft("plain"), draft("zero", loras=[lora(STYLE, 0.0)]), draft("one", loras=[lora(STYLE, 1.0)])
    assert [n["class_type"] for n in zero.workflow.values()].count("LoraLoader") == 1
    assert np.array_equal(pixels(plain), pixels(zero))
    assert np.abs(pixels(plain) - pixels(one)).mean() > 5
    assert [m.name for m in one.models] == [CKPT, STYLE]


def test_refine_with_the_controlnet_differs_from_without(renderer, tmp_path):
    source = tmp_path / "selected.png"
    Image.new("RGB", (64, 64), (230, 220, 200)).save(source)
    with Image.open(source) as image:  # a composition with edges for canny to find
        image.paste((40, 60, 120), (16, 16, 48, 56))
        image.save(source)

    def refine(name, **extra):
        params = {**FAST, "width": 64, "height": 64, "denoise": 0.6, "image": str(source), **extra}
        return renderer.render(RenderRequest(stage="refine", page=1, params=params, out_dir=tmp_path / name, filename_stem="r"))

    control = {"model": CONTROLNET, "preprocessor": "canny", "strength": 1.0, "start": 0.0, "end": 1.0}
    without, guided = refine("without"), refine("with", control=control)
    assert "ControlNetApplyAdvanced" in {n["class_type"] for n in guided.workflow.values()}
    assert np.abs(pixels(without) - pixels(guided)).mean() > 5


def test_the_tiled_print_upscale_runs_with_the_controlnet_on_each_tile(renderer, tmp_path):
    source = tmp_path / "refined.png"
    image = Image.new("RGB", (192, 192), (230, 220, 200))
    image.paste((40, 60, 120), (48, 48, 144, 168))
    image.save(source)
    control = {"model": CONTROLNET, "preprocessor": "canny", "strength": 1.0, "start": 0.0, "end": 1.0}

    def upscale(name, **extra):
        params = {**FAST, "denoise": 0.5, "image": str(source), "polish": "tiled", "tile": 256, "overlap": 32, **extra}
        return renderer.render(RenderRequest(stage="upscale", page=1, params=params, out_dir=tmp_path / name, filename_stem="u"))

    without, guided = upscale("without"), upscale("with", control=control)
    classes = [n["class_type"] for n in guided.workflow.values()]
    assert classes.count("KSampler") == classes.count("ControlNetApplyAdvanced") == 4
    assert pixels(guided).shape == (384, 384, 3) and np.abs(pixels(without) - pixels(guided)).mean() > 1


def write_identity_book(make_book, bear_lora: str):
    book = small_book_data(2)
    book["models"] = {**PINS.model_dump(exclude_none=True), "controlnet": CONTROLNET}
    chars = default_characters()
    chars["characters"][0]["lora"] = {"file": bear_lora, "strength": 0.8, "trigger_words": ["brunobear"]}
    pack = yaml.safe_load(open("style_packs/watercolor_whimsy_v1/pack.yaml"))
    pack["loras"] = [{"file": STYLE, "strength": 0.5}]
    specs = {1: small_spec(1, overrides=TINY_DRAFT),
             2: small_spec(2, overrides=TINY_DRAFT, characters=[{"id": "ginger", "pose": "running", "emotion": "happy"}])}
    return make_book(book=book, characters=chars, specs=specs,
                     files={"style_packs/watercolor_whimsy_v1/pack.yaml": yaml.safe_dump(pack)})


def lora_names(workflow_file) -> list[str]:
    workflow = json.loads(workflow_file.read_text())
    return [n["inputs"]["lora_name"] for n in workflow.values() if n["class_type"] == "LoraLoader"]


def test_character_lora_on_its_pages_only_and_an_unknown_lora_fails_doctor_and_its_page(real_comfyui, make_book, capsys):
    book = write_identity_book(make_book, CHARACTER)
    run = ["render-book", str(book), "--renderer", "comfyui", "--comfyui-url", real_comfyui.url, "--reviewer", "agent"]
    assert main(["doctor", str(book), "--comfyui-url", real_comfyui.url]) == 0
    main(run)  # drafts, then each page waits for a choice
    assert lora_names(book / "pages/0001/draft/workflow.json") == [STYLE, CHARACTER]
    assert lora_names(book / "pages/0002/draft/workflow.json") == [STYLE]
    capsys.readouterr()
    assert main(["graph", str(book), "1", "--stage", "draft", "--json"]) == 0  # the recorded stage, replayed offline
    shown = json.loads(capsys.readouterr().out)["jobs"][0]["workflow"]
    assert (json.dumps(shown, indent=2) + "\n").encode() == (book / "pages/0001/draft/workflow.json").read_bytes()

    chars = yaml.safe_load((book / "bible/characters.yaml").read_text())
    chars["characters"][0]["lora"]["file"] = "bruno-missing.safetensors"
    (book / "bible/characters.yaml").write_text(yaml.safe_dump(chars))
    capsys.readouterr()
    assert main(["doctor", str(book), "--comfyui-url", real_comfyui.url]) == 2
    out = capsys.readouterr().out
    assert "lora bruno-missing.safetensors: PROBLEM" in out and "page(s) 1 load" in out
    assert f"lora {STYLE}: ok" in out
    assert main([*run, "--keep-going"]) == 2
    out = capsys.readouterr().out
    assert "bruno-missing.safetensors" in out and "page 1: failed" in out
    assert "page 2: failed" not in out  # the page without the bear is not held up by it


def test_sdxl_graphs_fit_the_live_server_and_pass_its_own_prompt_validation(real_comfyui, tmp_path):
    placeholder = real_comfyui.run_dir / "models" / "checkpoints" / "placeholder-sdxl-base.safetensors"
    placeholder.write_bytes(b"\xff" * 64)  # listed by the server under the pinned name; fails only if loaded
    pins = ModelPins(draft_checkpoint=placeholder.name, final_checkpoint=placeholder.name, upscale_model=UPSCALER)
    renderer = ComfyUIRenderer([real_comfyui.url], pins)
    source = tmp_path / "in.png"
    Image.new("RGB", (96, 64), (120, 80, 40)).save(source)
    mask = tmp_path / "mask.png"
    Image.new("L", (96, 64), 255).save(mask)
    model = {"family": "sdxl", "loras": [lora(STYLE, 0.7), lora(CHARACTER, 0.4)],
             "control": {"model": CONTROLNET, "preprocessor": "canny", "strength": 0.5, "start": 0.0, "end": 0.8}}
    requests = {"draft": {"width": 96, "height": 64, "batch": 1, **{k: v for k, v in model.items() if k != "control"}},
                "refine": {"width": 96, "height": 64, "image": str(source), **model},
                "inpaint": {"image": str(source), "mask": str(mask), **model},
                "upscale": {"image": str(source), **model}}
    try:
        with ComfyClient(real_comfyui.url, timeouts=Timeouts(run=120)) as client:
            info = client.object_info(refresh=True)
            for stage, params in requests.items():
                job = renderer.prepare(RenderRequest(stage=stage, page=1, params={**FAST, **params}, out_dir=tmp_path,
                                                     filename_stem=stage))
                assert check_graph(job.graph, info, job.template) == [], stage
                for upload in job.uploads:  # the files the graph names, as the renderer uploads them
                    if upload.kind == "image":
                        ref = client.upload_image(upload.data, suffix=".png")
                    else:
                        ref = client.upload_mask(upload.data, ref)
                    assert f"{ref.subfolder}/{ref.filename}" == upload.server_name
                encoders = [n for n in job.graph.values() if n["class_type"] == "CLIPTextEncodeSDXL"]
                assert len(encoders) == 2
                prompt_id = client.submit(job.graph, "artfarm-test", job.template)  # a 400 would raise WorkflowRejected
                entry = _history(client, prompt_id)
                error = entry.error_message()
                assert error is not None and error.get("node_type") == "CheckpointLoaderSimple", (stage, error)
    finally:
        renderer.close()
        placeholder.unlink()


def _history(client, prompt_id):
    end = time.monotonic() + 120
    while time.monotonic() < end:
        entry = client.history(prompt_id)
        if entry is not None:
            return entry
        time.sleep(0.1)
    raise AssertionError(f"no history for {prompt_id}")
