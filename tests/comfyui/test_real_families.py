"""Each model family's four stage graphs through a real ComfyUI 0.3.75's own /prompt validation.

Flux- and Qwen-size models cannot run on these CPUs. The graphs are checked against the live
server's /object_info (every node class and input name it declares), then submitted: with
placeholder files under the pinned names in the run's models folders the server's validation
must accept the prompt (a 400 would raise WorkflowRejected), and execution then fails only at
the first model loader, before any sampling. The reference pictures are uploaded as a run does."""

from __future__ import annotations

import pytest
from PIL import Image

from artfarm.comfyui.client import ComfyClient, Timeouts
from artfarm.comfyui.validate import check_graph
from artfarm.models.book import ModelPins
from artfarm.render.base import RenderRequest
from artfarm.render.comfyui import ComfyUIRenderer
from tests.comfyui.test_families import FILES, UPSCALER, undeclared_inputs
from tests.comfyui.test_real_identity import _history

pytestmark = [pytest.mark.comfyui_real, pytest.mark.timeout(900)]

FOLDERS = {"diffusion_models": 0, "text_encoders": 1, "vae": 2}
LOADERS = {"UNETLoader", "DualCLIPLoader", "CLIPLoader", "VAELoader"}
FAST = {"steps": 2, "seed": 42, "prompt": "A bear in the woods."}


@pytest.mark.parametrize("family", list(FILES))
def test_family_graphs_fit_the_live_server_and_pass_its_own_prompt_validation(real_comfyui, tmp_path, family):
    unet, encoders, vae = FILES[family]
    placeholders = [real_comfyui.run_dir / "models" / folder / name
                    for folder, names in (("diffusion_models", [unet]), ("text_encoders", encoders), ("vae", [vae]))
                    for name in names]
    for path in placeholders:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\xff" * 64)  # listed under the pinned name; fails only when loaded
    pins = ModelPins(family=family, diffusion_model=unet, text_encoders=encoders, vae=vae, upscale_model=UPSCALER)
    renderer = ComfyUIRenderer([real_comfyui.url], pins)
    source, mask, sheet = tmp_path / "in.png", tmp_path / "mask.png", tmp_path / "sheet.png"
    Image.new("RGB", (96, 64), (120, 80, 40)).save(source)
    Image.new("L", (96, 64), 255).save(mask)
    Image.new("RGB", (64, 96), (30, 90, 160)).save(sheet)
    takes_refs = family in ("flux_kontext", "qwen_image_edit")
    refs = {"references": [str(sheet), str(source)]} if takes_refs else {}
    lora = {"loras": [{"file": "tiny-lora-style.safetensors", "strength": 0.7, "strength_clip": 0.7}]}
    requests = {"draft": {"width": 96, "height": 64, "batch": 1, **refs, **lora},
                "refine": {"width": 96, "height": 64, "image": str(source), "denoise": 0.4, **refs},
                "inpaint": {"image": str(source), "mask": str(mask), "denoise": 0.5},
                "upscale": {"image": str(source), "denoise": 0.2, "polish": "tiled", "tile": 256}}
    try:
        with ComfyClient(real_comfyui.url, timeouts=Timeouts(run=120)) as client:
            info = client.object_info(refresh=True)
            for stage, params in requests.items():
                job = renderer.prepare(RenderRequest(stage=stage, page=1, params={**FAST, "family": family, **params},
                                                     out_dir=tmp_path, filename_stem=stage))
                refs_in_graph = [u for u in job.uploads if u.param.startswith("references")]
                assert len(refs_in_graph) == (2 if takes_refs and stage in ("draft", "refine") else 0), stage
                uploaded = {}
                for upload in job.uploads:  # as the renderer uploads them
                    if upload.kind == "image":
                        uploaded[upload.param] = client.upload_image(upload.data, suffix=".png")
                    else:
                        uploaded[upload.param] = client.upload_mask(upload.data, uploaded[upload.onto])
                assert check_graph(job.graph, info, job.template) == [], stage
                assert undeclared_inputs(job.graph, info) == [], stage
                prompt_id = client.submit(job.graph, "artfarm-test", job.template)  # a 400 raises WorkflowRejected
                error = _history(client, prompt_id).error_message()
                assert error is not None and error.get("node_type") in LOADERS, (stage, error)
    finally:
        renderer.close()
        for path in placeholders:
            path.unlink()

