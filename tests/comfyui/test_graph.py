"""The graph builder and the insertions: structure, deterministic ids, and graphs the server's nodes accept."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
from PIL import Image

from artfarm.comfyui.client import image_upload_name
from artfarm.comfyui.graph import Graph, Output
from artfarm.comfyui.prepare import build_graph, prepare_job
from artfarm.comfyui.templates import TEMPLATE_NAMES, load_template
from artfarm.comfyui.validate import check_graph
from artfarm.errors import BadInputError
from artfarm.render.modelparams import ModelParams
from tests.comfyui.double import recorded

CKPT = "tiny-sd15-taesd.safetensors"
LORAS = [{"file": "style.safetensors", "strength": 0.7, "strength_clip": 0.5},
         {"file": "bear.safetensors", "strength": 1.0, "strength_clip": 1.0}]
CONTROL = {"model": "tiny-controlnet.safetensors", "preprocessor": "canny", "strength": 0.8, "start": 0.0, "end": 0.9}


def server_info() -> dict:
    """The recorded /object_info, with the model files these tests name on the server's lists."""
    info = copy.deepcopy(recorded("object_info.json"))
    info["LoraLoader"]["input"]["required"]["lora_name"][0] = [lora["file"] for lora in LORAS]
    info["ControlNetLoader"]["input"]["required"]["control_net_name"][0] = [CONTROL["model"]]
    return info


def values_for(name: str) -> dict:
    values = {"prompt": "a bear", "negative": "text", "seed": 7, "checkpoint": CKPT}
    template = load_template(name)
    for param, decl in template.decl.parameters.items():
        if decl.kind in ("image", "mask"):
            values[param] = "artfarm/af-input.png"
    if "upscale_model" in template.decl.parameters:
        values.update(upscale_model="tiny-esrgan-x2.safetensors", width=1024, height=1024)
    return values


def test_from_api_copies_and_to_api_returns_copies():
    api = {"1": {"class_type": "A", "inputs": {"x": [1, 2]}}}
    graph = Graph.from_api(api)
    graph.set("1", x=[3])
    out = graph.to_api()
    out["1"]["inputs"]["x"].append(4)
    assert api == {"1": {"class_type": "A", "inputs": {"x": [1, 2]}}}
    assert graph.to_api()["1"]["inputs"]["x"] == [3]


def test_new_nodes_are_numbered_after_the_largest_id_in_order():
    graph = Graph.from_api({"4": {"class_type": "A", "inputs": {}}, "12": {"class_type": "B", "inputs": {}},
                            "out": {"class_type": "C", "inputs": {}}})
    first = graph.add("X", a=graph.node("4").out(1))
    second = graph.add("Y", b=first.out(0), v=0.5)
    assert (first.id, second.id) == ("13", "14")
    assert graph.to_api()["14"] == {"class_type": "Y", "inputs": {"b": ["13", 0], "v": 0.5}}
    with pytest.raises(BadInputError, match="no node 99"):
        graph.add("Z", a=Output("99", 0))


def test_rewire_moves_every_consumer_except_the_excluded():
    graph = Graph.from_api(load_template("draft").graph)
    model = Output("4", 0)
    loader = graph.add("LoraLoader", model=model)
    moved = graph.rewire(model, loader.out(0), exclude={loader.id})
    assert [(c.node, c.input) for c in moved] == [("3", "model")]
    assert graph.consumers(model)[0].node == loader.id
    assert [c.node for c in graph.consumers(Output("4", 1))] == ["6", "7"]


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_without_model_params_the_graph_is_the_template_graph(name):
    template = load_template(name)
    values = values_for(name)
    built = build_graph(template, values, ModelParams(), where="t")
    assert json.dumps(built) == json.dumps(template.instantiate(values))


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_lora_chain_sits_between_the_checkpoint_and_every_model_and_clip_user(name):
    template = load_template(name)
    graph = build_graph(template, values_for(name), ModelParams.model_validate({"loras": LORAS}), where="t")
    loaders = [i for i, n in graph.items() if n["class_type"] == "LoraLoader"]
    first, second = (graph[i]["inputs"] for i in loaders)
    assert (first["model"], first["clip"], first["lora_name"]) == (["4", 0], ["4", 1], "style.safetensors")
    assert (first["strength_model"], first["strength_clip"]) == (0.7, 0.5)
    assert (second["model"], second["clip"], second["lora_name"]) == ([loaders[0], 0], [loaders[0], 1], "bear.safetensors")
    users = [(i, k) for i, n in graph.items() if i not in loaders for k, v in n["inputs"].items() if v in (["4", 0], ["4", 1])]
    assert users == []
    assert graph["3"]["inputs"]["model"] == [loaders[1], 0]
    assert graph["6"]["inputs"]["clip"] == graph["7"]["inputs"]["clip"] == [loaders[1], 1]
    assert check_graph(graph, server_info(), template, unset={"image", "mask"}) == []


@pytest.mark.parametrize("preprocessor", ["canny", "none"])
def test_controlnet_conditions_the_samplers_on_the_guide_image(preprocessor):
    template = load_template("refine")
    control = {**CONTROL, "preprocessor": preprocessor}
    graph = build_graph(template, values_for("refine"), ModelParams.model_validate({"control": control}), where="t")
    apply_id = next(i for i, n in graph.items() if n["class_type"] == "ControlNetApplyAdvanced")
    apply = graph[apply_id]["inputs"]
    assert graph["3"]["inputs"]["positive"] == [apply_id, 0] and graph["3"]["inputs"]["negative"] == [apply_id, 1]
    assert (apply["positive"], apply["negative"]) == (["6", 0], ["7", 0])
    assert (apply["strength"], apply["start_percent"], apply["end_percent"]) == (0.8, 0.0, 0.9)
    hint = graph[apply["image"][0]]
    if preprocessor == "canny":
        assert hint["class_type"] == "Canny" and hint["inputs"]["image"] == ["12", 0]
    else:
        assert apply["image"] == ["12", 0]
    assert graph[apply["control_net"][0]]["inputs"]["control_net_name"] == CONTROL["model"]
    assert check_graph(graph, server_info(), template, unset={"image"}) == []


def test_controlnet_on_a_template_without_a_guide_image_is_refused():
    with pytest.raises(BadInputError, match="no guide image"):
        build_graph(load_template("draft"), values_for("draft"), ModelParams.model_validate({"control": CONTROL}), where="t")


def test_sdxl_text_conditioning_at_the_stage_size():
    template = load_template("draft")
    values = {**values_for("draft"), "width": 832, "height": 1216}
    graph = build_graph(template, values, ModelParams(family="sdxl", loras=LORAS), where="t")
    for node_id, text in (("6", "a bear"), ("7", "text")):
        node = graph[node_id]
        assert node["class_type"] == "CLIPTextEncodeSDXL"
        assert node["inputs"]["text_g"] == node["inputs"]["text_l"] == text
        assert [node["inputs"][k] for k in ("width", "height", "crop_w", "crop_h", "target_width", "target_height")] \
            == [832, 1216, 0, 0, 832, 1216]
        assert graph[node["inputs"]["clip"][0]]["class_type"] == "LoraLoader"
    assert check_graph(graph, server_info(), template) == []


def test_sdxl_inpaint_reads_its_size_from_the_image_in_the_graph():
    template = load_template("inpaint")
    graph = build_graph(template, values_for("inpaint"), ModelParams(family="sdxl"), where="t")
    width = graph["6"]["inputs"]["width"]
    assert graph[width[0]] == {"class_type": "GetImageSize", "inputs": {"image": ["10", 0]}}
    assert graph["6"]["inputs"]["target_height"] == [width[0], 1]
    assert check_graph(graph, server_info(), template, unset={"image", "mask"}) == []


def test_same_inputs_give_byte_identical_graphs():
    template = load_template("upscale_print")
    params = ModelParams.model_validate({"loras": LORAS, "control": CONTROL, "family": "sdxl"})
    one = build_graph(template, values_for("upscale_print"), params, where="t")
    two = build_graph(template, values_for("upscale_print"), params, where="t")
    assert json.dumps(one).encode() == json.dumps(two).encode()


def test_prepare_names_uploads_by_content_and_puts_the_names_in_the_graph(tmp_path):
    image, mask = tmp_path / "in.png", tmp_path / "mask.png"
    Image.new("RGB", (64, 48), "red").save(image)
    Image.new("L", (32, 24), 255).save(mask)
    params = {**values_for("inpaint"), "image": image, "mask": mask, "loras": LORAS[:1]}
    job = prepare_job(load_template("inpaint"), params, where="t")
    shown = [u.describe() for u in job.uploads]
    assert [(u["param"], u["kind"], u["onto"]) for u in shown] == [("image", "image", None), ("mask", "mask", "image")]
    assert job.uploads[0].filename == image_upload_name(image.read_bytes(), ".png")
    assert job.graph["10"]["inputs"]["image"] == job.uploads[1].server_name
    assert job.models == [CKPT, "style.safetensors"]
    assert job.placeholders == []


def test_prepare_marks_inputs_that_do_not_exist_yet(tmp_path):
    params = {**values_for("refine"), "image": tmp_path / "refine" / "nope.png"}
    with pytest.raises(BadInputError, match="does not exist"):
        prepare_job(load_template("refine"), params, where="t")
    job = prepare_job(load_template("refine"), params, where="t", missing_ok=True)
    assert job.uploads[0].missing and "PLACEHOLDER" in job.graph["10"]["inputs"]["image"]
    assert "does not exist yet" in job.placeholders[0]


def test_anchors_must_name_nodes_of_the_graph(tmp_path):
    root = tmp_path / "workflows"
    shutil.copytree(load_template("draft").path.parent, root)
    decl = json.loads((root / "refine.params.json").read_text())
    decl["anchors"]["positive"] = "66"
    (root / "refine.params.json").write_text(json.dumps(decl))
    with pytest.raises(BadInputError) as info:
        load_template("refine", root)
    assert "refine.params.json $.anchors.positive" in str(info.value)


def test_tiled_upscale_with_a_controlnet_guides_each_tile_by_its_part_of_the_hint(tmp_path):
    image = tmp_path / "in.png"
    Image.new("RGB", (200, 160), "red").save(image)
    params = {**values_for("upscale_print"), "image": image, "width": 400, "height": 320, "polish": "tiled",
              "tile": 256, "overlap": 32, "control": CONTROL}
    graph = prepare_job(load_template("upscale_print"), params, where="t").graph
    samplers = [n["inputs"] for n in graph.values() if n["class_type"] == "KSampler"]
    assert len(samplers) == 4
    canny = next(i for i, n in graph.items() if n["class_type"] == "Canny")
    crops = []
    for sampler in samplers:
        apply = graph[sampler["positive"][0]]
        assert apply["class_type"] == "ControlNetApplyAdvanced" and sampler["negative"] == [sampler["positive"][0], 1]
        crop = graph[apply["inputs"]["image"][0]]
        assert crop["class_type"] == "ImageCrop" and crop["inputs"]["image"] == [canny, 0]
        crops.append((crop["inputs"]["x"], crop["inputs"]["y"], crop["inputs"]["width"], crop["inputs"]["height"]))
    tile_crops = sorted((n["inputs"]["x"], n["inputs"]["y"], n["inputs"]["width"], n["inputs"]["height"])
                        for n in graph.values() if n["class_type"] == "ImageCrop" and n["inputs"]["image"] != [canny, 0])
    assert sorted(crops) == tile_crops  # each tile's guide is exactly its own rectangle
    assert check_graph(graph, server_info(), load_template("upscale_print"), unset={"image"}) == []
