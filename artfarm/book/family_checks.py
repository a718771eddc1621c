"""What a book asks of its model family that the family's graphs cannot do: checked, never ignored.

A LoRA's text-encoder strength where LoRAs load on the diffusion model alone (flux, qwen);
``refs.use`` naming a picture that is not one of the page's references; more references than
the family takes (the first ones are used: a warning naming them); reference pictures in a book
whose family takes none (one warning per book: the graphs do not read them).
"""

from __future__ import annotations

from artfarm.book.paths import page_dir_name
from artfarm.families import family_info
from artfarm.findings import Finding
from artfarm.models.book import Book
from artfarm.models.characters import CharacterBible
from artfarm.models.renderspec import RenderSpec
from artfarm.references import page_references, reference_pool
from artfarm.stylepacks import LoadedStylePack


def family_book_findings(book: Book, bible: CharacterBible, packs: dict[str, LoadedStylePack],
                         specs: dict[int, RenderSpec]) -> list[Finding]:
    info = family_info(book.models.family)
    out: list[Finding] = []
    if info.lora == "model_only":
        used = {book.style_pack, *(s.style_pack for s in specs.values())}
        for name in sorted(used & set(packs)):
            for i, lora in enumerate(packs[name].pack.loras):
                if lora.strength_clip is not None:
                    out.append(_clip_strength(f"style pack {name} (pack.yaml)", f"$.loras[{i}].strength_clip", info.name))
        for i, person in enumerate(bible.characters):
            if person.lora is not None and person.lora.strength_clip is not None:
                out.append(_clip_strength("bible/characters.yaml", f"$.characters[{i}].lora.strength_clip", info.name))
    with_refs = [page for page, spec in sorted(specs.items()) if reference_pool(spec, bible)]
    if with_refs and not info.max_refs:
        out.append(Finding(severity="warning", file="book.yaml", path="$.models.family",
                           message=f"pages {_pages(with_refs)} name reference pictures, but the {info.name} graphs take "
                                   "none (only the vlm reviewer looks at character sheets)",
                           fix="use family flux_kontext or qwen_image_edit to condition on them (README: Model families)"))
    return out


def family_page_findings(book: Book, bible: CharacterBible, page: int, spec: RenderSpec) -> list[Finding]:
    """``refs.use`` against the page's references (an error), and the family's limit (a warning)."""
    info = family_info(book.models.family)
    rel = f"pages/{page_dir_name(page)}/renderspec.json"
    pool = reference_pool(spec, bible)
    out = [Finding(file=rel, path=f"$.refs.use[{i}]", message=f"refs.use names '{path}', which is not one of this page's "
                   "references", fix=f"use some of: {', '.join(pool) or 'none (add refs.characters or refs.style)'}")
           for i, path in enumerate(spec.refs.use or []) if path not in pool]
    wanted = spec.refs.use if spec.refs.use is not None else pool
    if info.max_refs and len(wanted) > info.max_refs:
        used = page_references(spec, bible, info.name)
        out.append(Finding(severity="warning", file=rel, path="$.refs", message=f"{len(wanted)} reference pictures, but "
                           f"{info.name} takes {info.max_refs}: only {', '.join(used)} are used",
                           fix="choose and order them with refs.use"))
    return out


def _clip_strength(file: str, path: str, family: str) -> Finding:
    return Finding(file=file, path=path, message=f"{family} loads LoRAs on the diffusion model only (LoraLoaderModelOnly), "
                   "so a text-encoder strength would do nothing", fix="remove strength_clip")


def _pages(pages: list[int]) -> str:
    return ", ".join(map(str, pages[:8])) + (f" and {len(pages) - 8} more" if len(pages) > 8 else "")
