"""Which reference pictures a page's draft and refine graphs condition on, in which order, at what size.

The pool is the page's character sheets (each character in the RenderSpec's cast order: its
``refs.characters`` entry, else the bible's refs for it), then its style refs. ``refs.use``
narrows or reorders the pool; the family's limit (Kontext 4, Qwen-Image-Edit-2509 3) keeps the
first ones. ``scaled_size`` is the size the family's own node gives a picture before encoding
it (FluxKontextImageScale: the preferred Kontext size nearest its aspect ratio;
TextEncodeQwenImageEditPlus: about one megapixel in multiples of 8), recorded in the key.
"""

from __future__ import annotations

import math
from pathlib import Path

from artfarm.errors import ImageFileError
from artfarm.families import family_info
from artfarm.images import image_size
from artfarm.models.characters import CharacterBible
from artfarm.models.renderspec import RenderSpec

REFERENCE_STAGES = ("draft", "refine")
# comfy_extras/nodes_flux.py PREFERED_KONTEXT_RESOLUTIONS (ComfyUI 0.3.75), which FluxKontextImageScale picks from
KONTEXT_SIZES = [(672, 1568), (688, 1504), (720, 1456), (752, 1392), (800, 1328), (832, 1248), (880, 1184),
                 (944, 1104), (1024, 1024), (1104, 944), (1184, 880), (1248, 832), (1328, 800), (1392, 752),
                 (1456, 720), (1504, 688), (1568, 672)]


def reference_pool(spec: RenderSpec, bible: CharacterBible) -> list[str]:
    """Every reference picture the page names or its cast has, characters first, without repeats."""
    people = bible.by_id()
    pool: list[str] = []
    for cast in spec.characters:
        sheets = spec.refs.characters.get(cast.id)
        if sheets is None and cast.id in people:
            sheets = people[cast.id].refs
        pool += sheets or []
    pool += spec.refs.style
    return list(dict.fromkeys(pool))


def page_references(spec: RenderSpec, bible: CharacterBible, family: str) -> list[str]:
    """The book-relative paths the family's graphs read, in order ([] for families that take none)."""
    limit = family_info(family).max_refs
    if not limit:
        return []
    pool = reference_pool(spec, bible)
    chosen = [p for p in spec.refs.use if p in pool] if spec.refs.use is not None else pool
    return chosen[:limit]


def scaled_size(family: str, size: tuple[int, int]) -> tuple[int, int]:
    width, height = size
    if family == "flux_kontext":
        _, w, h = min((abs(width / height - w / h), w, h) for w, h in KONTEXT_SIZES)
        return w, h
    scale = math.sqrt(1024 * 1024 / (width * height))
    return round(width * scale / 8) * 8, round(height * scale / 8) * 8


def picture_size(path: Path) -> tuple[int, int] | None:
    """A picture's pixel size, None when it is missing or unreadable (validate reports those files)."""
    try:
        return image_size(path, what="reference")
    except ImageFileError:
        return None
