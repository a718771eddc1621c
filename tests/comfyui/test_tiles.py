"""The print upscale's polish: the tile grid, the graph it builds, and its place in the key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from artfarm.comfyui.insert.tiles import Polish, model_scale, sampled_pixel_steps, tile_grid
from artfarm.comfyui.prepare import prepare_job
from artfarm.comfyui.templates import load_template
from artfarm.errors import BadInputError
from tests.bookbuilder import png_bytes

BASE = {"checkpoint": "tiny-sd15-taesd.safetensors", "upscale_model": "tiny-esrgan-x2.safetensors", "seed": 5,
        "steps": 3, "denoise": 0.25}


@pytest.mark.parametrize("size, tile, overlap", [((2640, 2640), 1024, 128), ((400, 320), 256, 32), ((1000, 260), 256, 64),
                                                 ((300, 300), 768, 96), ((517, 263), 256, 32)])
def test_tiles_cover_every_pixel_with_at_least_the_overlap(size, tile, overlap):
    tiles = tile_grid(*size, tile, overlap)
    covered = np.zeros(size[::-1], bool)
    for t in tiles:
        assert t.width % 8 == 0 and t.height % 8 == 0 and t.width <= tile and t.height <= tile
        assert t.x + t.width <= size[0] and t.y + t.height <= size[1]
        covered[t.y:t.y + t.height, t.x:t.x + t.width] = True
        assert t.left == 0 or t.left >= overlap
        assert t.top == 0 or t.top >= overlap
    assert covered.all()


def test_model_scale_from_the_file_name():
    assert model_scale("4x-UltraSharp.pth") == 4
    assert model_scale("RealESRGAN_x2plus.pth") == 2
    assert model_scale("tiny-esrgan-x2.safetensors") == 2
    assert model_scale("upscalers/2x_NMKD.pth") == 2
    assert model_scale("mystery.pth") is None


def upscale_job(tmp_path: Path, size=(200, 160), **params):
    image = tmp_path / "in.png"
    image.write_bytes(png_bytes(size=size))
    values = {**BASE, "image": str(image), "width": size[0] * 2, "height": size[1] * 2, **params}
    return prepare_job(load_template("upscale_print"), values, where="page 1 upscale")


def classes(graph) -> list[str]:
    return [node["class_type"] for node in graph.values()]


def test_tiled_polish_builds_one_sampler_per_tile_and_composites_them(tmp_path):
    job = upscale_job(tmp_path, polish="tiled", tile=256, overlap=32)
    graph = job.graph
    assert classes(graph).count("KSampler") == 4 == classes(graph).count("ImageCompositeMasked")
    assert "VAEEncodeTiled" not in classes(graph), "the whole-image polish is gone"
    assert "ImageScale" not in classes(graph), "a 2x model makes the 2x size: no resize"
    seeds = sorted(n["inputs"]["seed"] for n in graph.values() if n["class_type"] == "KSampler")
    assert seeds == [5, 6, 7, 8]
    feathers = [n["inputs"] for n in graph.values() if n["class_type"] == "FeatherMask"]
    assert {(f["left"], f["top"]) for f in feathers} == {(0, 0), (112, 0), (0, 192), (112, 192)}
    assert json.dumps(graph) == json.dumps(upscale_job(tmp_path, polish="tiled", tile=256, overlap=32).graph)


def test_none_is_the_model_upscale_alone_and_a_4x_model_is_resized_once(tmp_path):
    graph = upscale_job(tmp_path, polish="none").graph
    assert sorted(classes(graph)) == ["ImageUpscaleWithModel", "LoadImage", "PreviewImage", "UpscaleModelLoader"]
    four = upscale_job(tmp_path, polish="none", upscale_model="4x-UltraSharp.pth").graph
    assert classes(four).count("ImageScale") == 1
    whole = upscale_job(tmp_path, polish="whole").graph
    assert classes(whole).count("KSampler") == 1 and "ImageScale" not in classes(whole)


def test_a_bad_polish_is_bad_input(tmp_path):
    with pytest.raises(BadInputError):
        upscale_job(tmp_path, polish="sideways")


def test_tiles_at_native_size_put_less_attention_work_through_the_sampler():
    whole = sampled_pixel_steps(Polish(polish="whole"), family="sdxl", size=(2640, 2640), steps=15)
    tiled = sampled_pixel_steps(Polish(polish="tiled"), family="sdxl", size=(2640, 2640), steps=15)
    assert tiled["pieces"] == 9 and tiled["pixel_steps"] > whole["pixel_steps"]  # overlaps are sampled twice
    assert tiled["attention_steps"] < whole["attention_steps"] / 3
