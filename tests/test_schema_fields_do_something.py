"""Every field of book.yaml, characters.yaml, pack.yaml and a RenderSpec does what its name says.

The test walks the models' fields. Each field has a mutation here and the part of artfarm that
must see it change: what a render stage would send (``render``), what a reviewer looks at
(``review``), the layout (``layout``), the run's settings (``settings``), a stage's cache key
only (``keys``: for fields whose meaning is "render again"), or ``validate`` (a value that
must agree with something else, so a change is an error). A field without a mutation fails
the walk: a new field must come with the code that reads it, or be rejected by `validate`.
Fields for people alone are listed in ``FOR_PEOPLE`` with the reason.
"""

from __future__ import annotations

import json
import shutil
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from pydantic import BaseModel
from pypdf import PdfReader

from artfarm.book.loader import load_book
from artfarm.book.validation import validate_book
from artfarm.errors import ArtfarmError
from artfarm.layout.export import export_pdf
from artfarm.models.book import Book
from artfarm.models.characters import CharacterBible
from artfarm.models.renderspec import RenderSpec
from artfarm.models.stylepack import StylePack
from artfarm.pipeline.context import relative_params
from artfarm.pipeline.engine import Engine
from artfarm.pipeline.records import read_record
from artfarm.pipeline.stage import RenderStage
from artfarm.pipeline.stages import STAGES
from artfarm.pipeline.stages.review import ReviewStage
from artfarm.registry import reviewers
from artfarm.render.proof import ProofRenderer
from artfarm.review.heuristic import HeuristicReviewer
from artfarm.review.vlm_prompts import brief
from artfarm.settings import resolve_settings
from tests.bookbuilder import png_bytes
from tests.pipeline_helpers import run

ROOT = Path(__file__).resolve().parents[1]
FILES = {"book": "book.yaml", "characters": "bible/characters.yaml", "pack": "style_packs/localpack/pack.yaml",
         "spec": "pages/0001/renderspec.json", "spec2": "pages/0002/renderspec.json"}
MODELS = {"book": Book, "characters": CharacterBible, "pack": StylePack, "spec": RenderSpec}
FOR_PEOPLE = {
    ("spec", "$schema"): "tells an editor which JSON Schema to check the file with",
    ("pack", "description"): "describes the pack to the people choosing one",
}


# -- the book every mutation starts from -------------------------------------------------------

def base_pack() -> dict:
    pack = yaml.safe_load((ROOT / "style_packs/watercolor_whimsy_v1/pack.yaml").read_text())
    pack["name"] = "localpack"
    pack["loras"] = [{"file": "storybook.safetensors", "strength": 0.7, "trigger_words": ["sbstyle"]}]
    pack["tiers"]["draft"].update(width=128, height=128)
    return pack


BASE_BOOK = {
    "title": "Fields", "subtitle": "A test", "author": "F. Ield", "language": "en", "style_pack": "localpack",
    "layout": {"trim": "3x3", "bleed_in": 0.125, "typography": {"size_pt": 9, "leading_pt": 11, "min_size_pt": 6,
                                                                  "fallback_fonts": ["NotoSansHebrew"]}},
    "models": {"draft_checkpoint": "d.safetensors", "final_checkpoint": "f.safetensors", "upscale_model": "x2.pth",
               "controlnet": "cn.safetensors"},
    "render": {"control": {"stages": ["refine"]}},
    "cover": {"back_text": "The back.", "spine_text": "Fields"},
    "pages": [{"page": 1, "text": "One bear.", "placement": "top", "art": "framed"},
              {"page": 2, "text": "Two bears (שלום) and a long sentence that has to shrink to fit its box."}],
}
BASE_CHARACTERS = {"characters": [
    {"id": "bear", "name": "Bruno", "look": "big brown bear", "refs": ["bible/character_refs/bear/front.png"],
     "lora": {"file": "bruno.safetensors", "strength": 0.8, "trigger_words": ["brunobear"]}},
    {"id": "ginger", "name": "Ginger", "look": "gingerbread boy", "refs": ["bible/character_refs/ginger/front.png"]},
]}


def base_spec(page: int) -> dict:
    return {
        "book_id": "testbook", "page": page, "intent": "illustration", "scene": f"page {page}: the bear in the woods",
        "characters": [{"id": "bear", "pose": "sitting", "emotion": "calm"}, {"id": "ginger", "pose": "", "emotion": ""}],
        "camera": {"shot": "wide", "angle": "eye-level", "lens": "35mm"},
        "environment": {"time": "afternoon", "weather": "clear sky", "location": "pine forest"},
        "constraints": ["no text"], "style_pack": "localpack", "seed": 100 + page,
        "refs": {"style": ["bible/style_refs/wash.png"], "characters": {"bear": ["bible/character_refs/bear/side.png"]}},
        "overrides": {"draft": {"count": 2, "width": 128, "height": 128}} if page == 1 else {},
    }


KONTEXT_MODELS = {"family": "flux_kontext", "diffusion_model": "kontext.safetensors",
                  "text_encoders": ["clip_l.safetensors", "t5xxl.safetensors"], "vae": "ae.safetensors"}


def kontext_base(book: dict, pack: dict, specs: dict) -> None:
    """The same book for a family that takes reference pictures (its pins, sampler settings, refs.use)."""
    book["models"] = {**KONTEXT_MODELS, "upscale_model": "x2.pth"}
    book["render"] = {}
    pack["loras"] = [{k: v for k, v in pack["loras"][0].items() if k != "strength_clip"}]
    pack["families"] = {"flux_kontext": {"draft": {"steps": 4, "guidance": 2.5, "width": 256, "height": 256},
                                         "final": {"steps": 6, "denoise": 0.4, "cfg": 1.0}}}
    for spec in specs.values():
        spec["refs"]["use"] = ["bible/character_refs/bear/side.png", "bible/style_refs/wash.png"]


def _render_base(root: Path, variant: Callable[[dict, dict, dict], None] | None = None) -> Path:
    from tests.bookbuilder import write_book

    book, pack, specs = json.loads(json.dumps(BASE_BOOK)), base_pack(), {1: base_spec(1), 2: base_spec(2)}
    if variant:
        variant(book, pack, specs)
    characters = json.loads(json.dumps(BASE_CHARACTERS))
    if variant:
        characters["characters"][0].pop("lora")
    files = {FILES["pack"]: yaml.safe_dump(pack), "pages/0001/masks/hat.png": png_bytes((16, 16), (255, 255, 255)),
             "fonts/Alt.ttf": (ROOT / "fonts/andika/Andika-Bold.ttf").read_bytes(),
             **{f"bible/{rel}": png_bytes((32, 32), (40 * i, 90, 160)) for i, rel in enumerate(
                 ["style_refs/wash.png", "style_refs/dots.png", "character_refs/bear/front.png",
                  "character_refs/bear/side.png", "character_refs/ginger/front.png", "character_refs/ginger/back.png"])}}
    book_dir = write_book(root, book=book, characters=characters, specs=specs, files=files)
    summary, _ = run(book_dir)
    assert all(p.status == "done" for p in summary.pages), summary
    return book_dir


@pytest.fixture(scope="module")
def rendered_books(tmp_path_factory) -> dict[str, Path]:
    """The base books, rendered once by the proof renderer (so every stage has a record to plan from):
    ``sd`` (a checkpoint family) and ``kontext`` (a family with its own model files and reference pictures)."""
    return {"sd": _render_base(tmp_path_factory.mktemp("fields")),
            "kontext": _render_base(tmp_path_factory.mktemp("kontext"), kontext_base)}


# -- what each part of artfarm sees ------------------------------------------------------------

def render_inputs(book_dir: Path) -> Any:
    """Per page and render stage: the parameters and prompts it would send (repaints included)."""
    book = load_book(book_dir)
    engine = Engine(book, ProofRenderer(book), HeuristicReviewer())
    out = {}
    for page in sorted(book.specs):
        ctx = engine.context(page)
        ctx.review = ReviewStage().read_review(ctx)
        for stage in STAGES:
            if not stage.needed(ctx)[0]:
                continue
            if isinstance(stage, RenderStage):
                plan = stage.plan(ctx)
                out[f"{page} {stage.name}"] = [relative_params(ctx, plan.params), plan.key_inputs.get("fixes")]
            record, _ = read_record(ctx.stage_dir(stage.dir_name), quiet=True)
            if record is None:
                break
            ctx.done[stage.name] = record
    return out


def review_inputs(book_dir: Path) -> Any:
    """What the reviewers read: the words' placement, the palette, the vlm's brief, model and reference pictures."""
    book = load_book(book_dir)
    vlm = reviewers.create("vlm", resolve_settings(book.book), book)
    engine = Engine(book, ProofRenderer(book), HeuristicReviewer())
    out: dict[str, Any] = {"vlm_model": vlm.model}
    for page in sorted(book.specs):
        ctx = engine.context(page).review_context()
        out[str(page)] = [ctx.text_placement, ctx.pack.pack.palette, brief(ctx), vlm.reference_paths(ctx)]
    return out


def layout_inputs(book_dir: Path) -> Any:
    """Every layout decision (layout.json), the PDF's metadata, and the cover of a thick book (spine text)."""
    from artfarm.layout.coverplan import plan_cover
    from tests.layout.conftest import plan_context

    try:
        report = export_pdf(book_dir, placeholders=True, force=True)
    except ArtfarmError as failed:  # text that no longer fits, preflight errors: the layout read the change
        return {"failed": str(failed)}
    record = json.loads((book_dir / "layout/layout.json").read_text())
    meta = PdfReader(book_dir / report.outputs[-1].file).metadata
    ctx = plan_context(book_dir, load_book(book_dir).book.layout.printer)
    thick = plan_cover(ctx, 200).model_dump(mode="json")
    return {"pages": record["pages"], "cover": record["cover"], "palette": ctx.palette, "thick_cover": thick,
            "meta": {k: str(v) for k, v in (meta or {}).items() if k != "/CreationDate" and k != "/ModDate"},
            "lang": PdfReader(book_dir / report.outputs[-1].file).trailer["/Root"].get("/Lang")}


def settings_of(book_dir: Path) -> Any:
    return resolve_settings(load_book(book_dir).book).model_dump(mode="json")


def key_of(book_dir: Path) -> Any:
    book = load_book(book_dir)
    ctx = Engine(book, ProofRenderer(book), HeuristicReviewer()).context(1)
    return STAGES[0].plan(ctx).cache_key


def validate_errors(book_dir: Path) -> Any:
    return sorted(f.message for f in validate_book(book_dir).findings if f.severity == "error")


OBSERVERS: dict[str, Callable[[Path], Any]] = {"render": render_inputs, "review": review_inputs, "layout": layout_inputs,
                                               "settings": settings_of, "keys": key_of, "validate": validate_errors}


# -- the mutations ----------------------------------------------------------------------------

def at(path: str, value: Any) -> Callable[[dict], None]:
    """Set a dotted path (``a.b``, ``list[0].c``) in parsed data."""
    def apply(data: dict) -> None:
        parts = path.replace("]", "").replace("[", ".").split(".")
        target = data
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
        last = parts[-1]
        if last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return apply


KONTEXT_MUTATIONS: dict[tuple[str, str], tuple[str, str, Callable[[dict], None]]] = {
    ("book", "models.diffusion_model"): ("book", "render", at("models.diffusion_model", "kontext-dev.safetensors")),
    ("book", "models.text_encoders"): ("book", "render", at("models.text_encoders", ["clip_l.safetensors", "t5xxl_fp8.safetensors"])),
    ("book", "models.vae"): ("book", "render", at("models.vae", "ae2.safetensors")),
    **{("book", f"models.{tier}_{pin}"): ("book", "render", at(f"models.{tier}_{pin}", value))
       for tier in ("draft", "final") for pin, value in (("diffusion_model", "other.safetensors"), ("vae", "other-ae.safetensors"),
                                                         ("text_encoders", ["a.safetensors", "b.safetensors"]))},
    **{("pack", f"families.draft.{k}"): ("pack", "render", at(f"families.flux_kontext.draft.{k}", v))
       for k, v in {"steps": 5, "cfg": 1.5, "sampler": "dpmpp_2m", "scheduler": "beta", "guidance": 4.0, "width": 320,
                    "height": 320}.items()},
    **{("pack", f"families.final.{k}"): ("pack", "render", at(f"families.flux_kontext.final.{k}", v))
       for k, v in {"steps": 7, "cfg": 1.5, "sampler": "dpmpp_2m", "scheduler": "beta", "guidance": 4.0, "denoise": 0.6}.items()},
    # qwen families only: a flux book that sets it is told so
    ("pack", "families.draft.shift"): ("pack", "validate", at("families.flux_kontext.draft.shift", 3.0)),
    ("pack", "families.final.shift"): ("pack", "validate", at("families.flux_kontext.final.shift", 3.0)),
    ("spec", "refs.use"): ("spec", "render", at("refs.use", ["bible/style_refs/wash.png"])),
}

MUTATIONS: dict[tuple[str, str], tuple[str, str, Callable[[dict], None]]] = {
    # (model, field path): (file to edit, observer, edit)
    ("book", "title"): ("book", "layout", at("title", "Other")),
    ("book", "subtitle"): ("book", "layout", at("subtitle", "Another")),
    ("book", "author"): ("book", "layout", at("author", "A. Nother")),
    ("book", "language"): ("book", "layout", at("language", "fr")),
    ("book", "style_pack"): ("book", "layout", at("style_pack", "watercolor_whimsy_v1")),
    ("book", "layout.trim.width_in"): ("book", "layout", at("layout.trim", {"width_in": 2.5, "height_in": 2})),
    ("book", "layout.trim.height_in"): ("book", "layout", at("layout.trim", {"width_in": 2, "height_in": 2.5})),
    ("book", "layout.bleed_in"): ("book", "layout", at("layout.bleed_in", 0.25)),
    ("book", "layout.paper"): ("book", "layout", at("layout.paper", "cream")),
    ("book", "layout.default_art"): ("book", "layout", at("layout.default_art", "framed")),
    ("book", "layout.default_placement"): ("book", "layout", at("layout.default_placement", "bottom")),
    ("book", "layout.typography.font"): ("book", "layout", at("layout.typography.font", "fonts/Alt.ttf")),
    ("book", "layout.typography.size_pt"): ("book", "layout", at("layout.typography.size_pt", 8)),
    ("book", "layout.typography.leading_pt"): ("book", "layout", at("layout.typography.leading_pt", 14)),
    ("book", "layout.typography.min_size_pt"): ("book", "layout", at("layout.typography.min_size_pt", 9)),
    ("book", "layout.typography.colour"): ("book", "layout", at("layout.typography.colour", "#102030")),
    ("book", "models.draft_checkpoint"): ("book", "render", at("models.draft_checkpoint", "other.safetensors")),
    ("book", "models.final_checkpoint"): ("book", "render", at("models.final_checkpoint", "other.safetensors")),
    ("book", "models.upscale_model"): ("book", "render", at("models.upscale_model", "4x.pth")),
    ("book", "models.vlm"): ("book", "review", at("models.vlm", "llava:13b")),
    ("book", "models.controlnet"): ("book", "render", at("models.controlnet", "other-cn.safetensors")),
    ("book", "models.family"): ("book", "render", at("models.family", "sdxl")),
    ("book", "render.control.preprocessor"): ("book", "render", at("render.control.preprocessor", "none")),
    ("book", "render.control.strength"): ("book", "render", at("render.control.strength", 0.9)),
    ("book", "render.control.start"): ("book", "render", at("render.control.start", 0.2)),
    ("book", "render.control.end"): ("book", "render", at("render.control.end", 0.8)),
    ("book", "render.control.stages"): ("book", "render", at("render.control.stages", ["upscale"])),
    ("book", "layout.printer"): ("book", "layout", at("layout.printer", "kdp")),
    # page 2's Hebrew needs the fallback font: without it, validate names the missing glyphs
    ("book", "layout.typography.fallback_fonts"): ("book", "validate", at("layout.typography.fallback_fonts", [])),
    ("book", "pages.page"): ("book", "validate", at("pages[1].page", 3)),
    ("book", "pages.text"): ("book", "layout", at("pages[0].text", "Three bears.")),
    ("book", "pages.placement"): ("book", "layout", at("pages[0].placement", "bottom")),
    ("book", "pages.art"): ("book", "layout", at("pages[0].art", "full-bleed")),
    ("book", "pages.focal"): ("book", "layout", at("pages[0].focal", [0.1, 0.1])),
    ("book", "pages.spread"): ("book", "validate", at("pages[0].spread", True)),
    ("book", "cover.back_text"): ("book", "layout", at("cover.back_text", "Another back.")),
    ("book", "cover.spine_text"): ("book", "layout", at("cover.spine_text", "Spine")),
    ("book", "render.renderer"): ("book", "settings", at("render.renderer", "comfyui")),
    ("book", "render.reviewer"): ("book", "settings", at("render.reviewer", "agent")),
    ("book", "render.comfyui_url"): ("book", "settings", at("render.comfyui_url", "http://127.0.0.1:9999")),
    ("book", "render.comfyui_urls"): ("book", "settings", at("render.comfyui_urls", ["http://127.0.0.1:9998"])),
    ("book", "render.ollama_url"): ("book", "settings", at("render.ollama_url", "http://127.0.0.1:9997")),
    ("book", "render.jobs"): ("book", "settings", at("render.jobs", 5)),
    ("book", "render.draft_count"): ("book", "render", at("render.draft_count", 3)),
    ("book", "render.review.iterations_per_loop"): ("book", "settings", at("render.review.iterations_per_loop", 1)),
    ("book", "render.review.max_loops"): ("book", "settings", at("render.review.max_loops", 2)),
    ("book", "render.review.fallback"): ("book", "settings", at("render.review.fallback", "heuristic")),
    ("book", "render.upscale.polish"): ("book", "render", at("render.upscale.polish", "none")),
    ("book", "render.upscale.tile"): ("book", "render", at("render.upscale.tile", 512)),
    ("book", "render.upscale.overlap"): ("book", "render", at("render.upscale.overlap", 32)),
    ("book", "render.upscale.steps"): ("book", "render", at("render.upscale.steps", 3)),
    ("book", "render.upscale.denoise"): ("book", "render", at("render.upscale.denoise", 0.5)),
    ("characters", "characters.id"): ("characters", "validate", at("characters[0].id", "bruno")),
    ("characters", "characters.name"): ("characters", "render", at("characters[0].name", "Barnaby")),
    ("characters", "characters.look"): ("characters", "render", at("characters[0].look", "small black bear")),
    ("characters", "characters.lora.file"): ("characters", "render", at("characters[0].lora.file", "b2.safetensors")),
    ("characters", "characters.lora.strength"): ("characters", "render", at("characters[0].lora.strength", 0.3)),
    ("characters", "characters.lora.strength_clip"): ("characters", "render", at("characters[0].lora.strength_clip", 0.1)),
    ("characters", "characters.lora.trigger_words"): ("characters", "render", at("characters[0].lora.trigger_words", ["b2"])),
    ("characters", "characters.refs"): ("characters", "review", at("characters[1].refs", ["bible/character_refs/ginger/back.png"])),
    ("pack", "name"): ("pack", "validate", at("name", "otherpack")),
    ("pack", "version"): ("pack", "keys", at("version", 2)),
    ("pack", "positive"): ("pack", "render", at("positive", ["gouache"])),
    ("pack", "negative"): ("pack", "render", at("negative", ["sepia"])),
    ("pack", "palette"): ("pack", "review", at("palette", {"ink": "#000000"})),
    ("pack", "loras.file"): ("pack", "render", at("loras[0].file", "other.safetensors")),
    ("pack", "loras.strength"): ("pack", "render", at("loras[0].strength", 0.2)),
    ("pack", "loras.strength_clip"): ("pack", "render", at("loras[0].strength_clip", 0.2)),
    ("pack", "loras.trigger_words"): ("pack", "render", at("loras[0].trigger_words", ["otherstyle"])),
    **{("pack", f"tiers.draft.{k}"): ("pack", "render", at(f"tiers.draft.{k}", v))
       for k, v in {"steps": 3, "cfg": 2.5, "sampler": "dpmpp_2m", "scheduler": "karras", "width": 512, "height": 512}.items()},
    **{("pack", f"tiers.final.{k}"): ("pack", "render", at(f"tiers.final.{k}", v))
       for k, v in {"steps": 9, "cfg": 3.5, "sampler": "euler", "scheduler": "simple", "width": 768, "height": 768,
                    "denoise": 0.5}.items()},
    ("spec", "book_id"): ("spec", "validate", at("book_id", "otherbook")),
    ("spec", "page"): ("spec", "validate", at("page", 7)),
    ("spec", "intent"): ("spec", "render", at("intent", "spot")),
    ("spec", "scene"): ("spec", "render", at("scene", "the bear naps")),
    ("spec", "seed"): ("spec", "render", at("seed", 77)),
    ("spec", "style_pack"): ("spec", "render", at("style_pack", "watercolor_whimsy_v1")),
    ("spec", "constraints"): ("spec", "render", at("constraints", ["no trees"])),
    ("spec", "characters.id"): ("spec", "render", at("characters[1].id", "bear")),
    ("spec", "characters.pose"): ("spec", "render", at("characters[0].pose", "dancing")),
    ("spec", "characters.emotion"): ("spec", "render", at("characters[0].emotion", "joyful")),
    ("spec", "camera.shot"): ("spec", "render", at("camera.shot", "close-up")),
    ("spec", "camera.angle"): ("spec", "render", at("camera.angle", "low")),
    ("spec", "camera.lens"): ("spec", "render", at("camera.lens", "85mm")),
    ("spec", "environment.time"): ("spec", "render", at("environment.time", "night")),
    ("spec", "environment.weather"): ("spec", "render", at("environment.weather", "snow")),
    ("spec", "environment.location"): ("spec", "render", at("environment.location", "meadow")),
    ("spec", "refs.style"): ("spec", "review", at("refs.style", ["bible/style_refs/dots.png"])),
    ("spec", "refs.characters"): ("spec", "review", at("refs.characters", {"bear": ["bible/character_refs/bear/front.png"]})),
    **{("spec", f"overrides.draft.{k}"): ("spec", "render", at(f"overrides.draft.{k}", v))
       for k, v in {"count": 3, "steps": 2, "cfg": 9.0, "sampler": "dpmpp_2m", "scheduler": "karras", "width": 136,
                    "height": 136}.items()},
    **{("spec", f"overrides.refine.{k}"): ("spec", "render", at(f"overrides.refine.{k}", v))
       for k, v in {"steps": 4, "cfg": 2.0, "denoise": 0.6}.items()},
    **{("spec", f"overrides.inpaint.{k}"): ("spec", "render", at(f"overrides.inpaint.{k}", v))
       for k, v in {"steps": 4, "denoise": 0.3}.items()},
    **{("spec", f"overrides.upscale.{k}"): ("spec", "render", at(f"overrides.upscale.{k}", v))
       for k, v in {"steps": 4, "denoise": 0.3}.items()},
}


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def field_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        inner = _models_in(info.annotation)
        out |= set().union(*(field_paths(m, key + ".") for m in inner)) if inner else {key}
    return out


ALL_MUTATIONS = {**{f: ("sd", *m) for f, m in MUTATIONS.items()}, **{f: ("kontext", *m) for f, m in KONTEXT_MUTATIONS.items()}}


def test_every_field_has_a_mutation_or_a_reason():
    walked = {(kind, path) for kind, model in MODELS.items() for path in field_paths(model)}
    missing = sorted(walked - set(ALL_MUTATIONS) - set(FOR_PEOPLE))
    assert not missing, (f"fields no test shows being read: {missing}; make a stage, the layout or the settings "
                         "read each (and add its mutation here), or have `validate` reject it")
    assert not (set(ALL_MUTATIONS) | set(FOR_PEOPLE)) - walked, "mutations of fields that no longer exist"


@lru_cache(maxsize=None)
def _before(book: Path, observer: str) -> str:
    return json.dumps(OBSERVERS[observer](book), sort_keys=True, default=str)


@pytest.mark.parametrize("field", sorted(ALL_MUTATIONS), ids=lambda f: f"{f[0]}:{f[1]}")
def test_changing_a_field_changes_what_reads_it(rendered_books, tmp_path, field):
    base, file_kind, observer, edit = ALL_MUTATIONS[field]
    rendered_book = rendered_books[base]
    copy = shutil.copytree(rendered_book, tmp_path / "testbook")
    path = copy / FILES[file_kind]
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))
    else:
        data = yaml.safe_load(path.read_text())
        edit(data)
        path.write_text(yaml.safe_dump(data))
    if observer != "validate":
        assert validate_errors(copy) == [], "the mutation itself must be valid"
    before = _before(rendered_book, observer)
    after = json.dumps(OBSERVERS[observer](copy), sort_keys=True, default=str)
    assert after != before, f"{field[0]} {field[1]}: changing it changed nothing that the {observer} reads"
