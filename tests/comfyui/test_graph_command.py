"""`artfarm graph`: the workflow a stage would submit, offline; after a run, byte for byte the one it submitted."""

from __future__ import annotations

import copy
import json

import yaml

from artfarm.cli.main import main
from artfarm.comfyui.templates import load_template
from artfarm.comfyui.validate import check_graph
from tests.bookbuilder import default_characters, png_bytes
from tests.comfyui.double import recorded
from tests.pipeline_helpers import small_book_data, small_spec

CKPT = "tiny-sd15-taesd.safetensors"
PINS = {"draft_checkpoint": CKPT, "final_checkpoint": CKPT, "upscale_model": "tiny-esrgan-x2.safetensors"}
PACK_LORA = {"file": "wash.safetensors", "strength": 0.6}
BEAR_LORA = {"file": "bruno.safetensors", "strength": 0.9, "trigger_words": ["brunobear"]}


def graph_json(capsys, book, page: int, stage: str) -> dict:
    capsys.readouterr()
    assert main(["graph", str(book), str(page), "--stage", stage, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def identity_book(make_book, **models):
    book = small_book_data(2)
    book["models"] = {**PINS, "controlnet": "canny.safetensors", **models}
    chars = default_characters()
    chars["characters"][0]["lora"] = BEAR_LORA
    specs = {1: small_spec(1), 2: small_spec(2, characters=[{"id": "ginger", "pose": "running", "emotion": "happy"}])}
    pack = yaml.safe_load(open("style_packs/watercolor_whimsy_v1/pack.yaml"))
    pack["loras"] = [PACK_LORA]
    return make_book(book=book, characters=chars, specs=specs,
                     files={"style_packs/watercolor_whimsy_v1/pack.yaml": yaml.safe_dump(pack)})


def server_with(info: dict, loras: list[str], controlnets: list[str]) -> dict:
    info = copy.deepcopy(info)
    info["LoraLoader"]["input"]["required"]["lora_name"][0] = loras
    info["ControlNetLoader"]["input"]["required"]["control_net_name"][0] = controlnets
    return info


def test_graph_before_any_run_uses_marked_placeholders_and_contacts_no_server(make_book, capsys):
    book = identity_book(make_book, family="sdxl")
    shown = graph_json(capsys, book, 1, "upscale")  # no server listens at the default URL: nothing may be contacted
    (job,) = shown["jobs"]
    assert [u["missing"] for u in job["uploads"]] == [True]
    assert "PLACEHOLDER" in job["workflow"]["10"]["inputs"]["image"]
    assert any("review has not run yet" in n for n in shown["notes"]) and any("refine has not run yet" in n for n in shown["notes"])
    assert job["models"] == [CKPT, PINS["upscale_model"], "wash.safetensors", "bruno.safetensors", "canny.safetensors"]
    # the SDXL graph with its LoRA chain and ControlNet fits the recorded server's nodes
    info = server_with(recorded("object_info.json"), ["wash.safetensors", "bruno.safetensors"], ["canny.safetensors"])
    template = load_template("upscale_print")
    assert check_graph(job["workflow"], info, template, unset={"image"}) == []
    assert {n["class_type"] for n in job["workflow"].values()} >= {"CLIPTextEncodeSDXL", "LoraLoader", "ControlNetApplyAdvanced", "Canny"}


def test_a_character_lora_is_in_the_graphs_of_its_pages_only(make_book, capsys):
    book = identity_book(make_book)
    names = {page: [n["inputs"]["lora_name"] for n in graph_json(capsys, book, page, "draft")["jobs"][0]["workflow"].values()
                    if n["class_type"] == "LoraLoader"] for page in (1, 2)}
    assert names == {1: ["wash.safetensors", "bruno.safetensors"], 2: ["wash.safetensors"]}


def test_text_output_shows_the_workflow_and_the_uploads(make_book, capsys):
    book = identity_book(make_book)
    capsys.readouterr()
    assert main(["graph", str(book), "1", "--stage", "refine"]) == 0
    out = capsys.readouterr().out
    assert '"class_type": "ControlNetApplyAdvanced"' in out
    assert "# upload image: pages/0001/selected/" in out and "NOT MADE YET" in out


def test_after_a_run_the_graph_is_byte_for_byte_the_submitted_workflow(make_book, double, capsys):
    """Replays each recorded render stage: what `graph` prints is what the run submitted."""
    server = double()
    book_data = small_book_data(1)
    book_data["models"] = dict(PINS)
    spec = small_spec(1)
    book = make_book(book=book_data, specs={1: spec}, files={"pages/0001/masks/hat.png": png_bytes((16, 16), (255, 255, 255))})
    run = ["render-book", str(book), "--renderer", "comfyui", "--comfyui-url", server.url, "--reviewer", "agent"]
    main(run)  # stops after the draft for a choice (the double's flat drafts would fail the heuristic review)
    assert main(["review", str(book), "1", "--select", "0", "--reason", "test"]) == 0
    assert main(run) == 0
    for stage, recorded_file in (("draft", "draft/workflow.json"), ("refine", "refine/workflow.json"),
                                 ("inpaint", "inpaint/fix_00_workflow.json"), ("upscale", "upscale/workflow.json")):
        shown = graph_json(capsys, book, 1, stage)
        assert shown["notes"] == []
        workflow = shown["jobs"][0]["workflow"]
        submitted = (book / "pages/0001" / recorded_file).read_bytes()
        assert (json.dumps(workflow, indent=2, ensure_ascii=False) + "\n").encode() == submitted, stage
        assert all(not u["missing"] for u in shown["jobs"][0]["uploads"])
