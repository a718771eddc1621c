"""Workflow templates: declarations, structural setting of values, validation against /object_info."""

from __future__ import annotations

import copy
import json
import re
import shutil

import pytest

from artfarm.comfyui.errors import WorkflowRejected
from artfarm.comfyui.runner import run_job
from artfarm.comfyui.templates import STAGE_TEMPLATES, TEMPLATE_NAMES, load_template, template_for_stage
from artfarm.comfyui.validate import check_graph, combo_options
from artfarm.errors import BadInputError
from artfarm.render import base
from tests.comfyui.double import recorded

OBJECT_INFO = recorded("object_info.json")
CKPT = "tiny-sd15-taesd.safetensors"


def seam_parameters() -> dict[str, set[str]]:
    """Parameter names per stage, read from the Renderer seam's docstring (the contract)."""
    names = {}
    for line in base.__doc__.splitlines():
        match = re.match(r"^\s{4}(draft|refine|inpaint|upscale)\s+(.+)$", line)
        if match:
            names[match[1]] = set(match[2].split())
    return names


def required_unset(template):
    return {n for n, d in template.decl.parameters.items() if d.required}


@pytest.mark.parametrize("stage", sorted(STAGE_TEMPLATES))
def test_each_template_declares_the_seam_parameters_for_its_stage(stage):
    template = template_for_stage(stage)
    declared = set(template.decl.parameters)
    assert template.decl.stage == stage
    assert seam_parameters()[stage] <= declared, f"{template.file} misses {seam_parameters()[stage] - declared}"
    extra = declared - seam_parameters()[stage]
    assert extra <= {"filename_prefix", "width", "height"}, extra


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_templates_validate_against_the_recorded_server(name):
    template = load_template(name)
    assert check_graph(template.graph, OBJECT_INFO, template, unset=required_unset(template)) == []
    assert template.graph[template.decl.output_node]["class_type"] == "PreviewImage", "artfarm reads it back; the final is its own"


def test_values_are_set_on_a_copy_of_the_parsed_graph():
    template = load_template("draft")
    before = copy.deepcopy(template.graph)
    tricky = 'a "quoted" {{SEED}} \\ back\\slash, {"json": 1}'
    graph = template.instantiate({"prompt": tricky, "seed": 123, "checkpoint": CKPT, "batch": 2})
    assert graph["6"]["inputs"]["text"] == tricky
    assert graph["3"]["inputs"]["seed"] == 123 and graph["5"]["inputs"]["batch_size"] == 2
    assert graph["6"]["inputs"]["clip"] == ["4", 1], "links are untouched"
    assert template.graph == before
    assert json.loads(json.dumps(graph)) == graph


def test_unknown_and_missing_parameters_are_bad_input():
    template = load_template("refine")
    with pytest.raises(BadInputError) as info:
        template.instantiate({"checkpoint": CKPT, "image": "x.png", "sed": 1})
    assert "sed" in str(info.value) and "seed" in str(info.value)
    with pytest.raises(BadInputError) as info:
        template.instantiate({"checkpoint": CKPT})
    assert "image" in str(info.value)


def test_both_combo_formats_are_read():
    assert combo_options(OBJECT_INFO["KSampler"]["input"]["required"]["scheduler"])[0] == "simple"
    assert combo_options(OBJECT_INFO["UpscaleModelLoader"]["input"]["required"]["model_name"]) == ["tiny-esrgan-x2.safetensors"]
    assert combo_options(["INT", {"min": 1}]) is None


def problems_of(name, values, object_info=OBJECT_INFO, mutate=None):
    template = load_template(name)
    graph = template.instantiate(values)
    if mutate:
        mutate(graph)
    return {(p.node_id, p.input, p.param, p.type) for p in check_graph(graph, object_info, template)}


def test_bad_enum_in_a_legacy_combo_names_the_parameter():
    assert problems_of("draft", {"checkpoint": CKPT, "sampler": "nope"}) == {("3", "sampler_name", "sampler", "value_not_in_list")}


def test_bad_enum_in_a_v3_combo_names_the_parameter():
    values = {"checkpoint": CKPT, "image": "a.png", "upscale_model": "4x-missing.pth", "width": 256, "height": 256}
    assert problems_of("upscale_print", values) == {("14", "model_name", "upscale_model", "value_not_in_list")}


def test_numbers_out_of_range_and_of_the_wrong_type():
    found = problems_of("draft", {"checkpoint": CKPT, "steps": 0, "cfg": 101.0, "width": 8, "batch": "4"})
    assert found == {("3", "steps", "steps", "value_smaller_than_min"), ("3", "cfg", "cfg", "value_bigger_than_max"),
                     ("5", "width", "width", "value_smaller_than_min"), ("5", "batch_size", "batch", "invalid_input_type")}


def test_structure_problems_unknown_class_missing_input_links():
    def break_graph(graph):
        graph["8"]["inputs"]["samples"] = ["4", 0]          # MODEL into a LATENT input
        graph["7"]["inputs"]["clip"] = ["99", 0]            # no such node
        del graph["5"]["inputs"]["height"]                  # required input gone
        graph["6"]["class_type"] = "NoSuchNode"
        graph["3"]["inputs"]["positive"] = ["4", 7]         # no such output
    found = problems_of("draft", {"checkpoint": CKPT}, mutate=break_graph)
    assert found == {("8", "samples", None, "return_type_mismatch"), ("7", "clip", None, "link_to_missing_node"),
                     ("5", "height", "height", "required_input_missing"), ("6", None, None, "missing_node_type"),
                     ("3", "positive", None, "link_to_missing_output")}


def test_a_graph_without_an_output_node_is_a_problem():
    found = problems_of("draft", {"checkpoint": CKPT}, mutate=lambda g: g.pop("9"))
    assert ("-", None, None, "prompt_no_outputs") in found


def test_a_node_class_missing_on_the_server_is_found():
    object_info = {k: v for k, v in OBJECT_INFO.items() if k != "VAEEncodeTiled"}
    template = load_template("upscale_print")
    problems = check_graph(template.graph, object_info, template, unset=required_unset(template))
    assert [(p.node_id, p.type) for p in problems] == [("11", "missing_node_type")]
    assert "VAEEncodeTiled" in problems[0].render()


def test_run_job_refuses_an_invalid_graph_before_submitting(double, client_for, tmp_path):
    server = double()
    with pytest.raises(WorkflowRejected) as info:
        run_job(client_for(server.url), load_template("draft"), {"checkpoint": "nope.safetensors", "sampler": "x"},
                out_dir=tmp_path, stem="d")
    assert info.value.source == "artfarm"
    assert {p.param for p in info.value.problems} == {"checkpoint", "sampler"}
    assert not any(e.startswith("POST /prompt") for e in server.events)


def test_tiled_decode_switch_is_structural():
    template = load_template("draft")
    graph = template.instantiate({"checkpoint": CKPT})
    tiled = template.with_tiled_decode(graph)
    assert tiled["8"]["class_type"] == "VAEDecodeTiled" and graph["8"]["class_type"] == "VAEDecode"
    assert tiled["8"]["inputs"]["samples"] == ["3", 0]
    assert check_graph(tiled, OBJECT_INFO, template) == []
    assert template.with_tiled_decode(tiled) is None
    assert load_template("upscale_print").with_tiled_decode(load_template("upscale_print").graph) is None


def test_a_declaration_pointing_at_a_missing_input_is_reported_with_its_file(tmp_path):
    root = tmp_path / "workflows"
    shutil.copytree(load_template("draft").path.parent, root)
    decl = json.loads((root / "draft.params.json").read_text())
    decl["parameters"]["seed"]["targets"] = [{"node": "3", "input": "sed"}]
    (root / "draft.params.json").write_text(json.dumps(decl))
    with pytest.raises(BadInputError) as info:
        load_template("draft", root)
    assert "draft.params.json $.parameters.seed.targets[0]" in str(info.value)
    (root / "draft.params.json").write_text("{")
    with pytest.raises(BadInputError) as info:
        load_template("draft", root)
    assert "line 1" in str(info.value)


def test_template_hash_follows_content(tmp_path):
    root = tmp_path / "workflows"
    shutil.copytree(load_template("draft").path.parent, root)
    original = load_template("draft", root).sha256
    graph = json.loads((root / "draft.json").read_text())
    graph["3"]["inputs"]["cfg"] = 3.0
    (root / "draft.json").write_text(json.dumps(graph))
    assert load_template("draft", root).sha256 != original
    assert load_template("draft").sha256 == original


@pytest.mark.parametrize("onto", [None, "checkpoint", "nope"])
def test_a_mask_must_name_the_image_it_is_uploaded_onto(tmp_path, onto):
    root = tmp_path / "workflows"
    shutil.copytree(load_template("inpaint").path.parent, root)
    decl = json.loads((root / "inpaint.params.json").read_text())
    decl["parameters"]["mask"]["onto"] = onto
    (root / "inpaint.params.json").write_text(json.dumps(decl))
    with pytest.raises(BadInputError) as info:
        load_template("inpaint", root)
    assert "inpaint.params.json $.parameters.mask.onto" in str(info.value)
    assert load_template("inpaint").decl.parameters["mask"].onto == "image"
