"""What carries the book's identity into a render stage's graph: LoRAs, the ControlNet guide, the family.

Each render stage adds these to its parameters, so they are in its cache key by themselves
(a LoRA strength change redoes the stages that load it). Only what is set is added: a book
without LoRAs, ControlNet or SDXL keys and renders exactly as before. ``model_files`` lists
the same files for the whole book, with the pages that load them (for ``doctor``).
"""

from __future__ import annotations

from typing import Any

from artfarm.book.loader import LoadedBook
from artfarm.comfyui.model_files import ModelFileUse
from artfarm.models.book import Book, ControlSettings
from artfarm.models.characters import CharacterBible
from artfarm.models.renderspec import RenderSpec
from artfarm.models.stylepack import StylePack
from artfarm.pipeline.context import PageContext
from artfarm.references import REFERENCE_STAGES, page_references

RENDER_STAGES = ("draft", "refine", "inpaint", "upscale")


def identity_params(ctx: PageContext, stage: str) -> dict[str, Any]:
    """``page_identity``, and the reference pictures the family's draft and refine graphs condition on
    (as paths, so the key holds their content; artfarm/references.py says which)."""
    out = page_identity(ctx.book.book, ctx.book.characters, ctx.pack.pack, ctx.spec, stage)
    if stage in REFERENCE_STAGES:
        refs = page_references(ctx.spec, ctx.book.characters, ctx.family)
        if refs:
            out["references"] = [ctx.book.resolve(rel, what="reference") for rel in refs]
    return out


def page_identity(book: Book, bible: CharacterBible, pack: StylePack, spec: RenderSpec, stage: str) -> dict[str, Any]:
    """``loras`` (the pack's, then each cast character's, in order), ``control`` on the stages it lists, ``family``
    and, for the families that load separate files, the tier's ``diffusion_model``, ``text_encoders`` and ``vae``."""
    out: dict[str, Any] = {}
    loras = [lora.load() for lora in pack.loras]
    people = bible.by_id()
    cast = dict.fromkeys(c.id for c in spec.characters)  # a character listed twice loads once
    loras += [people[who].lora.load() for who in cast if who in people and people[who].lora is not None]
    if loras:
        out["loras"] = loras
    if book.models.controlnet:
        control = book.render.control or ControlSettings()  # a pinned ControlNet with the default settings
        if stage in control.stages:
            out["control"] = {"model": book.models.controlnet, "preprocessor": control.preprocessor,
                              "strength": control.strength, "start": control.start, "end": control.end}
    if book.models.family != "sd15":
        out["family"] = book.models.family
    out.update(book.models.family_files("draft" if stage == "draft" else "final"))
    return out


def model_files(book: LoadedBook) -> list[ModelFileUse]:
    """Every LoRA and ControlNet file the book's pages load, each with those pages (pages without a valid spec are left out)."""
    pages: dict[tuple[str, str], list[int]] = {}
    for page in book.art_pages():
        spec = book.specs.get(page)
        pack = book.style_packs.get(spec.style_pack) if spec is not None else None
        if spec is None or pack is None:
            continue
        for stage in RENDER_STAGES:
            params = page_identity(book.book, book.characters, pack.pack, spec, stage)
            used = [("lora", lora["file"]) for lora in params.get("loras", [])]
            used += [("controlnet", params["control"]["model"])] if "control" in params else []
            for key in used:
                if page not in pages.setdefault(key, []):
                    pages[key].append(page)
    return [ModelFileUse(kind=kind, file=file, pages=found) for (kind, file), found in pages.items()]  # type: ignore[arg-type]
