"""The print upscale's polish: in tiles at the model's native size, whole, or none.

Sampling far above a model's native size is slow (attention grows with the square of the
pixels) and makes SDXL-class models invent repeated details; tiles at the native size are
faster and cleaner. Each tile is cropped from the upscaled image (``ImageCrop``), encoded,
sampled at low denoise, decoded and pasted back (``ImageCompositeMasked``) through a mask
that fades in linearly over its overlap with the tiles already placed (``SolidMask`` +
``FeatherMask``), so no seam shows. Core nodes only. Tiles are placed row by row; each
tile's seed is the page's seed plus its index.

``none`` is the model upscale alone. A model that makes exactly the target size (a 2x model
on the 2x upscale) skips the resize; any other is resized once (lanczos) before the polish.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from artfarm.comfyui.graph import Graph, Output
from artfarm.comfyui.templates import Anchors
from artfarm.errors import BadInputError
from artfarm.families import FAMILIES
from artfarm.models.book import UpscalePolish
from artfarm.render.modelparams import params_model

POLISH_PARAMS = ("polish", "tile", "overlap")
NATIVE_TILE = {name: info.native for name, info in FAMILIES.items()}   # what each family was trained at (sd15 768)
MAX_TILES = 256   # 16 x 16; the default tiles need 16 for a 2640-pixel page, a spread twice that
WHERE = "book.yaml render.upscale"
SCALE_IN_NAME = re.compile(r"(?:^|[^0-9a-z])(?:x([1-8])(?![0-9])|([1-8])x(?![0-9a-z]))", re.I)


class Polish(UpscalePolish):
    """The request's ``polish``, ``tile`` and ``overlap`` parameters (book.yaml render.upscale)."""

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Polish:
        return params_model(cls, params, POLISH_PARAMS, fix="see render.upscale in book.yaml (README: Print upscale)")

    def tile_side(self, family: str) -> int:
        return self.tile or NATIVE_TILE.get(family, NATIVE_TILE["sd15"])

    def overlap_px(self, family: str) -> int:
        return self.overlap if self.overlap is not None else self.tile_side(family) // 8


@dataclass(frozen=True)
class Tile:
    x: int
    y: int
    width: int
    height: int
    left: int   # pixels this tile shares with the tile to its left (its mask fades in over them)
    top: int    # ... with the row above


def tile_grid(width: int, height: int, tile: int, overlap: int) -> list[Tile]:
    """Tiles of at most ``tile`` pixels (multiples of 8, as the VAE needs) covering every pixel,
    spread evenly so neighbours share at least ``overlap`` pixels. An overlap above half the tile,
    or more than ``MAX_TILES`` tiles, is bad input: thousands of samplers in one graph."""
    if overlap > tile // 2:
        raise BadInputError(f"the polish overlap ({overlap} px) is more than half the tile ({tile} px)", where=WHERE,
                            fix=f"set render.upscale.overlap to at most {tile // 2}, or a larger render.upscale.tile")
    xs, tw = _axis(width, tile, overlap)
    ys, th = _axis(height, tile, overlap)
    if len(xs) * len(ys) > MAX_TILES:
        raise BadInputError(f"a {width}x{height} polish in {tile} px tiles overlapping by {overlap} px needs "
                            f"{len(xs) * len(ys)} tiles (at most {MAX_TILES})", where=WHERE,
                            fix="raise render.upscale.tile or lower render.upscale.overlap, or use polish: whole or none")
    return [Tile(x=x, y=y, width=tw, height=th, left=(xs[i - 1] + tw - x) if i else 0,
                 top=(ys[j - 1] + th - y) if j else 0)
            for j, y in enumerate(ys) for i, x in enumerate(xs)]


def _axis(length: int, tile: int, overlap: int) -> tuple[list[int], int]:
    side = min(tile, length - length % 8) if length >= 8 else length
    if side >= length:
        return [0], side
    step = max(8, side - overlap)
    count = math.ceil((length - side) / step) + 1
    return [round(i * (length - side) / (count - 1)) for i in range(count)], side


def model_scale(upscale_model: str) -> int | None:
    """The factor an upscale model's file name states (``4x-UltraSharp``, ``RealESRGAN_x2plus``), else None."""
    match = SCALE_IN_NAME.search(upscale_model.rsplit("/", 1)[-1])
    return int(match.group(1) or match.group(2)) if match else None


def apply_polish(graph: Graph, anchors: Anchors, output_node: str, polish: Polish, *, family: str,
                 size: tuple[int, int], exact_from_model: bool) -> None:
    """Rebuild the upscale template's tail (after the model upscale) as ``polish`` says.

    ``anchors.guide_image`` is the resized image the template polishes and ``samplers[0]`` its
    whole-image sampler, whose settings (and LoRA-rewired model) each tile sampler copies."""
    if anchors.guide_image is None:
        raise BadInputError("the upscale template declares no guide_image anchor (the image it polishes)",
                            where="workflows/upscale_print.params.json $.anchors", fix="restore the shipped template")
    image = Output(*anchors.guide_image)
    if exact_from_model and graph.node(image.node).class_type == "ImageScale":
        image = graph.inputs(image.node)["image"]   # the model already made the target size: no resize
    if polish.polish == "whole":
        if image != Output(*anchors.guide_image):
            graph.rewire(Output(*anchors.guide_image), image)
        graph.keep_reachable([output_node])
        return
    if polish.polish == "none":
        graph.set(output_node, images=image)
        graph.keep_reachable([output_node])
        return
    sampler = graph.inputs(anchors.samplers[0])
    vae = Output(*anchors.vae)
    masks: dict[tuple[int, int, int, int], Output] = {}
    result = image
    for index, tile in enumerate(tile_grid(*size, polish.tile_side(family), polish.overlap_px(family))):
        crop = graph.add("ImageCrop", image=image, width=tile.width, height=tile.height, x=tile.x, y=tile.y)
        latent = graph.add("VAEEncode", pixels=crop.out(), vae=vae)
        positive, negative = _tile_conditioning(graph, sampler, tile)
        sampled = graph.add("KSampler", model=sampler["model"], seed=sampler["seed"] + index, steps=sampler["steps"],
                            cfg=sampler["cfg"], sampler_name=sampler["sampler_name"], scheduler=sampler["scheduler"],
                            positive=positive, negative=negative, latent_image=latent.out(),
                            denoise=sampler["denoise"])
        decoded = graph.add("VAEDecode", samples=sampled.out(), vae=vae)
        key = (tile.width, tile.height, tile.left, tile.top)
        if key not in masks:
            solid = graph.add("SolidMask", value=1.0, width=tile.width, height=tile.height)
            masks[key] = graph.add("FeatherMask", mask=solid.out(), left=tile.left, top=tile.top, right=0, bottom=0).out()
        result = graph.add("ImageCompositeMasked", destination=result, source=decoded.out(), x=tile.x, y=tile.y,
                           resize_source=False, mask=masks[key]).out()
    graph.set(output_node, images=result)
    graph.keep_reachable([output_node])


def _tile_conditioning(graph: Graph, sampler: dict[str, Any], tile: Tile) -> tuple[Any, Any]:
    """A ControlNet on the whole-image conditioning (artfarm/comfyui/insert/controlnet.py) follows, in each
    tile, that tile's part of its guide, not the whole guide squeezed into the tile."""
    positive = sampler["positive"]
    if not (isinstance(positive, Output) and graph.node(positive.node).class_type == "ControlNetApplyAdvanced"):
        return sampler["positive"], sampler["negative"]
    apply = graph.inputs(positive.node)
    hint = graph.add("ImageCrop", image=apply["image"], width=tile.width, height=tile.height, x=tile.x, y=tile.y)
    tiled = graph.add("ControlNetApplyAdvanced", **{**apply, "image": hint.out()})
    return tiled.out(0), tiled.out(1)


def sampled_pixel_steps(polish: Polish, *, family: str, size: tuple[int, int], steps: int) -> dict[str, float]:
    """What the polish puts through the sampler: pixels x steps, and attention pairs x steps
    ((latent tokens)^2, the part that grows with the square of a piece's size)."""
    if polish.polish == "none":
        return {"pixel_steps": 0.0, "attention_steps": 0.0, "pieces": 0}
    pieces = ([(size[0], size[1])] if polish.polish == "whole" else
              [(t.width, t.height) for t in tile_grid(*size, polish.tile_side(family), polish.overlap_px(family))])
    return {"pixel_steps": float(sum(w * h for w, h in pieces) * steps),
            "attention_steps": float(sum((w * h / 64) ** 2 for w, h in pieces) * steps), "pieces": len(pieces)}
