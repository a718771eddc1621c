"""Model families flux, flux_kontext, qwen_image, qwen_image_edit: pins, graphs, references, prompts.

Graphs are checked against the recorded ComfyUI 0.3.75 /object_info (every node class and every
input name must be one the server declares); tests/comfyui/test_real_families.py puts them
through the live server's own /prompt validation."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from artfarm.cli.main import main
from artfarm.comfyui.client import image_upload_name
from artfarm.comfyui.families import family_template
from artfarm.comfyui.validate import check_graph
from tests.bookbuilder import default_characters, png_bytes
from tests.comfyui.double import recorded
from tests.pipeline_helpers import small_book_data, small_spec

FILES = {"flux": ("flux1-dev.safetensors", ["clip_l.safetensors", "t5xxl_fp8.safetensors"], "ae.safetensors"),
         "flux_kontext": ("flux1-kontext-dev.safetensors", ["clip_l.safetensors", "t5xxl_fp8.safetensors"], "ae.safetensors"),
         "qwen_image": ("qwen_image_fp8.safetensors", ["qwen_2.5_vl_7b.safetensors"], "qwen_image_vae.safetensors"),
         "qwen_image_edit": ("qwen_image_edit_2509.safetensors", ["qwen_2.5_vl_7b.safetensors"], "qwen_image_vae.safetensors")}
UPSCALER = "tiny-esrgan-x2.safetensors"
BEAR, GINGER, WASH = "bible/character_refs/bear/sheet.png", "bible/character_refs/ginger/sheet.png", "bible/style_refs/wash.png"
STAGES = ("draft", "refine", "inpaint", "upscale")


def pins(family: str) -> dict:
    unet, encoders, vae = FILES[family]
    return {"family": family, "diffusion_model": unet, "text_encoders": encoders, "vae": vae, "upscale_model": UPSCALER}


def family_book(make_book, family: str, *, models: dict | None = None, pack: dict | None = None, specs: dict | None = None,
                bear_sheet: bytes = png_bytes((96, 64), (120, 70, 30))):
    book = small_book_data(2)
    book["models"] = models if models is not None else pins(family)
    chars = default_characters()
    chars["characters"][0]["refs"] = [BEAR]
    chars["characters"][1]["refs"] = [GINGER]
    files = {BEAR: bear_sheet, GINGER: png_bytes((64, 96), (200, 150, 90)), WASH: png_bytes((64, 64), (150, 180, 220))}
    if pack is not None:
        files["style_packs/watercolor_whimsy_v1/pack.yaml"] = yaml.safe_dump(pack)
    specs = specs or {1: small_spec(1, refs={"style": [WASH]}),
                      2: small_spec(2, characters=[{"id": "ginger", "pose": "running", "emotion": "happy"}])}
    return make_book(book=book, characters=chars, specs=specs, files=files)


def graph_json(capsys, book, page: int, stage: str) -> dict:
    capsys.readouterr()
    assert main(["graph", str(book), str(page), "--stage", stage, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def server_listing(info: dict, family: str, uploads: list[str]) -> dict:
    """The recorded server, with the pinned files in its loader lists and the uploads in its input folder."""
    info = copy.deepcopy(info)
    unet, encoders, vae = FILES[family]
    info["UNETLoader"]["input"]["required"]["unet_name"][0] = [unet]
    info["VAELoader"]["input"]["required"]["vae_name"][0] = [vae]
    for loader, names in (("DualCLIPLoader", ("clip_name1", "clip_name2")), ("CLIPLoader", ("clip_name",))):
        for name in names:
            info[loader]["input"]["required"][name][0] = encoders
    info["UpscaleModelLoader"]["input"]["required"]["model_name"][0] = [UPSCALER]
    info["LoadImage"]["input"]["required"]["image"][0] = uploads
    return info


def undeclared_inputs(graph: dict, info: dict) -> list[str]:
    """Inputs the server's node does not declare (check_graph lets ComfyUI ignore them; we do not)."""
    out = []
    for node_id, node in graph.items():
        declared = {**info[node["class_type"]]["input"].get("required", {}), **info[node["class_type"]]["input"].get("optional", {})}
        out += [f"{node_id} {node['class_type']}.{name}" for name in node["inputs"] if name not in declared]
    return out


@pytest.mark.parametrize("family", list(FILES))
@pytest.mark.parametrize("stage", STAGES)
def test_every_family_graph_uses_only_nodes_and_inputs_the_server_has(make_book, capsys, family, stage):
    book = family_book(make_book, family)
    shown = graph_json(capsys, book, 1, stage)
    (job,) = shown["jobs"]
    uploads = [u["server_name"] for u in job["uploads"]]
    info = server_listing(recorded("object_info.json"), family, uploads)
    workflow = job["workflow"]
    assert check_graph(workflow, info, family_template(family, stage)) == []
    assert undeclared_inputs(workflow, info) == []
    classes = [n["class_type"] for n in workflow.values()]
    assert "CheckpointLoaderSimple" not in classes and "UNETLoader" in classes and "VAELoader" in classes
    sampler = next(n["inputs"] for n in workflow.values() if n["class_type"] == "KSampler")
    assert shown["family"] == family
    if family.startswith("flux"):
        assert next(n for n in workflow.values() if n["class_type"] == "DualCLIPLoader")["inputs"]["type"] == "flux"
        assert sampler["cfg"] == 1.0 and "FluxGuidance" in classes and "ConditioningZeroOut" in classes
    else:
        assert next(n for n in workflow.values() if n["class_type"] == "CLIPLoader")["inputs"]["type"] == "qwen_image"
        assert sampler["cfg"] == 2.5 and "ModelSamplingAuraFlow" in classes
    if stage == "draft":
        assert "EmptySD3LatentImage" in classes
    refs = [u for u in job["uploads"] if u["param"].startswith("references")]
    takes_refs = family in ("flux_kontext", "qwen_image_edit") and stage in ("draft", "refine")
    assert [u["source"] for u in refs] == ([BEAR, WASH] if takes_refs else [])
    if family == "flux_kontext":
        assert classes.count("ReferenceLatent") == classes.count("FluxKontextImageScale") == len(refs)
    if family == "qwen_image_edit" and takes_refs:
        encoders = [n["inputs"] for n in workflow.values() if n["class_type"] == "TextEncodeQwenImageEditPlus"]
        linked = {workflow[e["image1"][0]]["inputs"]["image"] for e in encoders} | {workflow[e["image2"][0]]["inputs"]["image"] for e in encoders}
        assert linked == {u["server_name"] for u in refs} and all("image3" not in e for e in encoders)


def test_pins_a_family_needs_are_named_when_missing_and_pins_it_does_not_use_are_rejected(make_book, capsys):
    missing = family_book(make_book, "flux", models={"family": "flux", "diffusion_model": "flux1-dev.safetensors"})
    capsys.readouterr()
    assert main(["validate", str(missing)]) == 2
    out = capsys.readouterr().out
    assert "family flux needs models.diffusion_model" in out and "draft text_encoders" in out and "final vae" in out
    stray = family_book(make_book, "flux", models={**pins("flux"), "draft_checkpoint": "sd15.safetensors"})
    assert main(["validate", str(stray)]) == 2
    assert "family flux loads no checkpoint" in capsys.readouterr().out
    one_encoder = family_book(make_book, "flux", models={**pins("flux"), "text_encoders": ["t5xxl_fp8.safetensors"]})
    assert main(["validate", str(one_encoder)]) == 2
    assert "loads 2 text encoder(s)" in capsys.readouterr().out
    sd15 = family_book(make_book, "sd15", models={"family": "sd15", "vae": "ae.safetensors"})
    assert main(["validate", str(sd15)]) == 2
    assert "family sd15 loads a checkpoint" in capsys.readouterr().out


def test_per_tier_files_reach_their_stages(make_book, capsys):
    models = {**pins("qwen_image"), "draft_diffusion_model": "qwen_image_lightning.safetensors"}
    book = family_book(make_book, "qwen_image", models=models)
    unet = {stage: next(n["inputs"]["unet_name"] for n in graph_json(capsys, book, 1, stage)["jobs"][0]["workflow"].values()
                        if n["class_type"] == "UNETLoader") for stage in ("draft", "refine")}
    assert unet == {"draft": "qwen_image_lightning.safetensors", "refine": FILES["qwen_image"][0]}


def test_what_a_family_cannot_do_is_rejected_not_ignored(make_book, capsys):
    control = family_book(make_book, "qwen_image", models={**pins("qwen_image"), "controlnet": "canny.safetensors"})
    capsys.readouterr()
    assert main(["validate", str(control)]) == 2
    assert "family qwen_image has no ControlNet" in capsys.readouterr().out
    pack = yaml.safe_load(open("style_packs/watercolor_whimsy_v1/pack.yaml"))
    pack["loras"] = [{"file": "wash.safetensors", "strength": 0.6, "strength_clip": 0.3}]
    clip_strength = family_book(make_book, "flux", pack=pack)
    assert main(["validate", str(clip_strength)]) == 2
    assert "strength_clip" in capsys.readouterr().out
    pack["loras"] = [{"file": "wash.safetensors", "strength": 0.6}]
    pack["families"] = {"qwen_image": {"draft": {"guidance": 3.0}}}
    guidance = family_book(make_book, "qwen_image", pack=pack)
    assert main(["validate", str(guidance)]) == 2
    assert "qwen_image has no guidance setting" in capsys.readouterr().out


def test_flux_loras_load_on_the_model_only(make_book, capsys):
    pack = yaml.safe_load(open("style_packs/watercolor_whimsy_v1/pack.yaml"))
    pack["loras"] = [{"file": "wash.safetensors", "strength": 0.6}]
    book = family_book(make_book, "flux", pack=pack)
    workflow = graph_json(capsys, book, 1, "refine")["jobs"][0]["workflow"]
    loras = [n for n in workflow.values() if n["class_type"].startswith("LoraLoader")]
    assert [(n["class_type"], n["inputs"]["lora_name"]) for n in loras] == [("LoraLoaderModelOnly", "wash.safetensors")]
    sampler = next(n["inputs"] for n in workflow.values() if n["class_type"] == "KSampler")
    assert workflow[sampler["model"][0]]["class_type"] == "LoraLoaderModelOnly"


def test_style_pack_family_settings_are_used_and_shown_else_the_family_defaults(make_book, capsys):
    pack = yaml.safe_load(open("style_packs/watercolor_whimsy_v1/pack.yaml"))
    pack["families"] = {"flux": {"draft": {"steps": 8, "guidance": 4.0}}}
    book = family_book(make_book, "flux", pack=pack)
    draft, refine = graph_json(capsys, book, 1, "draft"), graph_json(capsys, book, 1, "refine")
    def settings(shown):
        wf = shown["jobs"][0]["workflow"]
        return (next(n["inputs"]["steps"] for n in wf.values() if n["class_type"] == "KSampler"),
                next(n["inputs"]["guidance"] for n in wf.values() if n["class_type"] == "FluxGuidance"))
    assert settings(draft) == (8, 4.0) and settings(refine) == (20, 3.5)
    assert "families.flux.draft" in draft["sampler_settings"] and "flux defaults" in refine["sampler_settings"]
    capsys.readouterr()
    assert main(["prompt", str(book), "1"]) == 0
    assert "families.flux.draft" in capsys.readouterr().out


def test_t5_and_qwen_families_get_sentences_and_flux_has_no_negative_prompt(make_book, capsys):
    spec = small_spec(1, constraints=["no text", "no scary teeth", "calm space at the top for the words"])
    book = family_book(make_book, "flux", specs={1: spec, 2: small_spec(2)})
    capsys.readouterr()
    assert main(["prompt", str(book), "1", "--json"]) == 0
    flux = json.loads(capsys.readouterr().out)
    assert flux["form"] == "sentences" and flux["negative"] == "" and flux["unused_negative"]
    assert "Bruno (a big brown bear with a red scarf) is sitting and looks calm." in flux["positive"]
    assert "no lettering" in flux["positive"] and "free of scary teeth" in flux["positive"]
    assert "calm and uncluttered" in flux["positive"] and "text," not in flux["positive"]
    assert main(["prompt", str(book), "1", "--family", "qwen_image", "--json"]) == 0
    qwen = json.loads(capsys.readouterr().out)
    assert "scary teeth" in qwen["negative"] and "free of" not in qwen["positive"]
    assert main(["prompt", str(book), "1", "--family", "sd15", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["form"] == "terms"
    workflow = graph_json(capsys, book, 1, "draft")["jobs"][0]["workflow"]
    texts = [n["inputs"]["text"] for n in workflow.values() if n["class_type"] == "CLIPTextEncode"]
    assert texts == [flux["positive"]]


def test_refs_use_narrows_and_reorders_and_must_name_the_pages_refs(make_book, capsys):
    spec = small_spec(1, characters=[{"id": "bear"}, {"id": "ginger"}], refs={"style": [WASH], "use": [WASH, GINGER]})
    book = family_book(make_book, "qwen_image_edit", specs={1: spec, 2: small_spec(2)})
    job = graph_json(capsys, book, 1, "draft")["jobs"][0]
    assert [u["source"] for u in job["uploads"]] == [WASH, GINGER]
    bad = family_book(make_book, "qwen_image_edit", specs={1: small_spec(1, refs={"use": [GINGER]}), 2: small_spec(2)})
    capsys.readouterr()
    assert main(["validate", str(bad)]) == 2
    assert "$.refs.use[0]" in capsys.readouterr().out


def test_a_family_without_reference_inputs_warns_once_per_book_that_refs_are_unused(make_book, capsys):
    book = family_book(make_book, "flux")
    capsys.readouterr()
    assert main(["validate", str(book)]) == 0
    out = capsys.readouterr().out
    assert out.count("the flux graphs take none") == 1
    kontext = family_book(make_book, "flux_kontext")
    assert main(["validate", str(kontext)]) == 0
    assert "take none" not in capsys.readouterr().out


def test_one_changed_sheet_redoes_only_the_pages_that_use_it_and_the_key_records_refs(make_book, tmp_path):
    book = family_book(make_book, "flux_kontext")
    run = ["render-book", str(book), "--renderer", "proof"]
    assert main(run) == 0
    def keys():
        return {page: json.loads((book / f"pages/000{page}/draft/stage.json").read_text()) for page in (1, 2)}
    before = keys()
    refs = before[1]["key_inputs"]["inputs"]["references"]
    assert [r["file"] for r in refs] == [BEAR, WASH]
    assert refs[0]["size"] == [96, 64] and refs[0]["scaled_to"] == [1248, 832]  # FluxKontextImageScale's pick for 3:2
    assert before[1]["params"]["references"] == [BEAR, WASH]
    (book / BEAR).write_bytes(png_bytes((96, 64), (10, 10, 10)))
    assert main(run) == 0
    after = keys()
    assert after[1]["cache_key"] != before[1]["cache_key"]
    assert after[2]["cache_key"] == before[2]["cache_key"]


def test_each_reference_is_uploaded_once_per_run_and_linked_into_every_graph_that_reads_it(make_book, double):
    specs = {1: small_spec(1), 2: small_spec(2, characters=[{"id": "bear"}, {"id": "ginger"}])}
    book = family_book(make_book, "qwen_image_edit", specs=specs)
    names = {rel: f"artfarm/{image_upload_name((book / rel).read_bytes())}" for rel in (BEAR, GINGER)}
    server = double(object_info=server_listing(recorded("object_info.json"), "qwen_image_edit", []))
    run = ["render-book", str(book), "--renderer", "comfyui", "--comfyui-url", server.url, "--reviewer", "agent"]
    main(run)  # both pages' drafts, then each stops for a person's choice
    uploads = [e.split()[2] for e in server.events if e.startswith("POST /upload/image")]
    assert sorted(uploads) == sorted(names.values())  # the bear's sheet once, though both pages read it
    for page, expected in ((1, [BEAR]), (2, [BEAR, GINGER])):
        workflow = json.loads((book / f"pages/000{page}/draft/workflow.json").read_text())
        encoder = next(n["inputs"] for n in workflow.values() if n["class_type"] == "TextEncodeQwenImageEditPlus")
        linked = [workflow[encoder[f"image{i}"][0]]["inputs"]["image"] for i in range(1, len(expected) + 1)]
        assert linked == [names[rel] for rel in expected]
