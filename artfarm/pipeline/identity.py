"""What carries the book's identity into a render stage's graph: LoRAs, the ControlNet guide, the family.

Each render stage adds these to its parameters, so they are in its cache key by themselves
(a LoRA strength change redoes the stages that load it). Only what is set is added: a book
without LoRAs, ControlNet or SDXL keys and renders exactly as before.
"""

from __future__ import annotations

from typing import Any

from artfarm.models.book import ControlSettings
from artfarm.pipeline.context import PageContext


def identity_params(ctx: PageContext, stage: str) -> dict[str, Any]:
    """``loras`` (the pack's, then each cast character's, in order), ``control`` on the stages it lists, ``family``."""
    out: dict[str, Any] = {}
    loras = [lora.load() for lora in ctx.pack.pack.loras]
    people = ctx.book.characters.by_id()
    cast = dict.fromkeys(c.id for c in ctx.spec.characters)  # a character listed twice loads once
    loras += [people[who].lora.load() for who in cast if who in people and people[who].lora is not None]
    if loras:
        out["loras"] = loras
    models, control = ctx.book.book.models, ctx.book.book.render.control
    if models.controlnet:
        control = control or ControlSettings()  # a pinned ControlNet with the default settings
        if stage in control.stages:
            out["control"] = {"model": models.controlnet, "preprocessor": control.preprocessor,
                              "strength": control.strength, "start": control.start, "end": control.end}
    if models.family != "sd15":
        out["family"] = models.family
    return out
