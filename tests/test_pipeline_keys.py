"""Every input that shapes a stage changes that stage's key (and no earlier one); the draft and
refine keys of a fixed book are pinned, so an accidental change to what a real stage hashes fails here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import pytest
import yaml

from artfarm.book.loader import load_book
from artfarm.pipeline.engine import Engine
from artfarm.models.records import OutputFile, StageRecord
from artfarm.pipeline.context import Plan
from artfarm.pipeline.stages import STAGE_BY_NAME, STAGES
from artfarm.review.heuristic import HeuristicReviewer
from tests.bookbuilder import png_bytes
from tests.pipeline_helpers import RecordingRenderer, run, small_book_data, small_spec, write_small_book


class OtherHeuristic(HeuristicReviewer):
    def identity(self):
        return {**super().identity(), "version": 99}


class RefLooker(HeuristicReviewer):
    """A reviewer that looks at one reference picture, as the vlm reviewer looks at character sheets."""

    def __init__(self, rel: str):
        self.rel = rel

    def reference_paths(self, ctx):
        return [("bear", self.rel)]


def stage_keys(book_dir: Path, renderer=None, reviewer=None) -> dict[str, str]:
    """Keys stage by stage, as far as the records still match (the first miss ends the walk)."""
    book = load_book(book_dir)
    engine = Engine(book, renderer(book) if renderer else RecordingRenderer(book), reviewer or HeuristicReviewer())
    ctx = engine.context(1)
    keys = {}
    for stage in STAGES:
        if not stage.needed(ctx)[0]:
            continue
        plan = stage.plan(ctx)
        keys[stage.name] = plan.cache_key
        verdict = stage.check(ctx, plan)
        if verdict.state != "hit":
            break
        ctx.done[stage.name] = verdict.record
    return keys


def edit_spec(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(book: Path) -> None:
        path = book / "pages/0001/renderspec.json"
        spec = json.loads(path.read_text())
        change(spec)
        path.write_text(json.dumps(spec))
    return apply


def edit_yaml(rel: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(book: Path) -> None:
        data = yaml.safe_load((book / rel).read_text())
        change(data)
        (book / rel).write_text(yaml.safe_dump(data))
    return apply


def add_style_ref(book: Path) -> None:
    (book / "bible/style_refs").mkdir(parents=True, exist_ok=True)
    (book / "bible/style_refs/look.png").write_bytes(png_bytes())
    edit_spec(lambda s: s.setdefault("refs", {}).update(style=["bible/style_refs/look.png"]))(book)


def repaint_style_ref(book: Path, colour=(10, 200, 30)) -> None:
    (book / "bible/style_refs/look.png").write_bytes(png_bytes(colour=colour))


def edit_override(stage: str, **values) -> Callable[[Path], None]:
    return edit_spec(lambda s: s.setdefault("overrides", {}).setdefault(stage, {}).update(values))


MUTATIONS = {
    "scene": ("draft", edit_spec(lambda s: s.update(scene="the bear naps under a pine"))),
    "draft width": ("draft", edit_override("draft", width=136)),
    "draft height": ("draft", edit_override("draft", height=136)),
    "draft cfg": ("draft", edit_override("draft", cfg=9.5)),
    "draft sampler": ("draft", edit_override("draft", sampler="dpmpp_2m")),
    "refine steps": ("refine", edit_override("refine", steps=9)),
    "refine cfg": ("refine", edit_override("refine", cfg=3.5)),
    "inpaint denoise": ("inpaint", edit_override("inpaint", denoise=0.3)),
    "inpaint steps": ("inpaint", edit_override("inpaint", steps=5)),
    "hand mask": ("inpaint", lambda book: (book / "pages/0001/masks/cloud.png").write_bytes(png_bytes((8, 8), (255, 255, 255)))),
    "character name": ("draft", edit_yaml("bible/characters.yaml", lambda d: d["characters"][0].update(name="Barnaby"))),
    "intent": ("draft", edit_spec(lambda s: s.update(intent="spot"))),
    "character pose": ("draft", edit_spec(lambda s: s["characters"][0].update(pose="dancing"))),
    "camera shot": ("draft", edit_spec(lambda s: s["camera"].update(shot="close-up"))),
    "camera angle": ("draft", edit_spec(lambda s: s["camera"].update(angle="low"))),
    "time of day": ("draft", edit_spec(lambda s: s["environment"].update(time="night"))),
    "constraints": ("draft", edit_spec(lambda s: s["constraints"].append("exactly one character"))),
    "seed": ("draft", edit_spec(lambda s: s.update(seed=77))),
    "draft steps": ("draft", edit_spec(lambda s: s["overrides"]["draft"].update(steps=3))),
    "draft count": ("draft", edit_spec(lambda s: s["overrides"]["draft"].update(count=2))),
    "character look": ("draft", edit_yaml("bible/characters.yaml",
                                          lambda d: d["characters"][0].update(look="a bear in a blue coat"))),
    "draft checkpoint": ("draft", edit_yaml("book.yaml", lambda d: d.setdefault("models", {}).update(draft_checkpoint="sd15.safetensors"))),
    # the draft's size is pinned by its overrides here, so the print size first shapes refine (half print)
    "print size": ("refine", edit_yaml("book.yaml", lambda d: d["layout"].update(trim="1.5x2"))),
    "text placement": ("review", edit_yaml("book.yaml", lambda d: d["pages"][0].update(placement="left"))),
    "refine denoise": ("refine", edit_spec(lambda s: s["overrides"].update(refine={"denoise": 0.9}))),
    "final checkpoint": ("refine", edit_yaml("book.yaml", lambda d: d.setdefault("models", {}).update(final_checkpoint="xl.safetensors"))),
    "upscale denoise": ("upscale", edit_spec(lambda s: s["overrides"].update(upscale={"denoise": 0.5}))),
    "upscale model": ("upscale", edit_yaml("book.yaml", lambda d: d.setdefault("models", {}).update(upscale_model="4x.pth"))),
    "upscale polish": ("upscale", edit_yaml("book.yaml", lambda d: d.setdefault("render", {}).update(upscale={"polish": "none"}))),
    "upscale tile": ("upscale", edit_yaml("book.yaml", lambda d: d.setdefault("render", {}).update(upscale={"tile": 512}))),
    "upscale steps (book)": ("upscale", edit_yaml("book.yaml", lambda d: d.setdefault("render", {}).update(upscale={"steps": 9}))),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_key_input_changes_the_key_of_the_stage_that_reads_it(make_book, name):
    stage, mutate = MUTATIONS[name]
    # a hand mask, so the inpaint stage runs and its key is compared too
    book = write_small_book(make_book, pages=1, files={"pages/0001/masks/hat.png": png_bytes((16, 16), (255, 255, 255))})
    run(book)
    before = stage_keys(book)
    mutate(book)
    after = stage_keys(book)
    first_changed = next(s for s in before if before[s] != after.get(s))
    assert first_changed == stage, f"{name} should first change {stage}, changed {first_changed}"


def _local_pack_book(make_book, edit=None) -> tuple[Path, Path]:
    pack = yaml.safe_load((Path(__file__).parent.parent / "style_packs/watercolor_whimsy_v1/pack.yaml").read_text())
    pack["name"] = "localpack"
    if edit:
        edit(pack)
    book = write_small_book(make_book, pages=1, specs={1: small_spec(1, style_pack="localpack")},
                            files={"style_packs/localpack/pack.yaml": yaml.safe_dump(pack)})
    return book, book / "style_packs/localpack/pack.yaml"


def test_style_pack_is_keyed_by_what_the_stages_read_not_its_bytes(make_book):
    book, pack_file = _local_pack_book(make_book)
    run(book)
    before = stage_keys(book)
    (pack_file.parent / "notes.txt").write_text("a file no stage reads")
    pack_file.write_text("# a comment\n" + pack_file.read_text().replace(": ", ":  "))
    data = yaml.safe_load(pack_file.read_text())
    data["description"] = "reworded"
    pack_file.write_text(yaml.safe_dump(data))
    assert stage_keys(book) == before  # comments, spacing, description and stray files redo nothing
    data["palette"]["honey"] = "#000000"  # only the reviewer reads the palette
    pack_file.write_text(yaml.safe_dump(data))
    after = stage_keys(book)
    assert after["draft"] == before["draft"] and after["review"] != before["review"]
    data["positive"].append("gouache")
    pack_file.write_text(yaml.safe_dump(data))
    assert stage_keys(book)["draft"] != before["draft"]


def test_reference_pictures_are_in_the_keys_of_the_stages_that_look_at_them(make_book):
    book = write_small_book(make_book, pages=1)
    add_style_ref(book)
    run(book)
    before = stage_keys(book)
    repaint_style_ref(book)
    assert stage_keys(book) == before  # no graph and no heuristic check reads it
    looking = stage_keys(book, reviewer=RefLooker("bible/style_refs/look.png"))
    repaint_style_ref(book, colour=(200, 10, 30))
    again = stage_keys(book, reviewer=RefLooker("bible/style_refs/look.png"))
    assert again["draft"] == looking["draft"] and again["review"] != looking["review"]


def test_renderer_and_reviewer_identity_are_in_the_keys(make_book):
    book = write_small_book(make_book, pages=1)
    run(book)
    before = stage_keys(book)
    assert stage_keys(book, renderer=lambda b: RecordingRenderer(b, identity_extra={"template_sha256": "new"}))["draft"] != before["draft"]
    other = stage_keys(book, reviewer=OtherHeuristic())
    assert other["draft"] == before["draft"] and other["review"] != before["review"]


def test_keys_are_stable_across_runs_and_machines(make_book, tmp_path):
    book = write_small_book(make_book, pages=1)
    run(book)
    keys = stage_keys(book)
    assert set(keys) == {"draft", "review", "refine", "upscale", "final"} and keys == stage_keys(book)
    elsewhere = shutil.copytree(book, tmp_path / "another" / "machine" / "testbook")
    assert stage_keys(elsewhere) == keys  # no absolute path, time or host in any key


# A fixed book, written out in full here (not from the test builders), with its own style pack.
PINNED_PACK_YAML = """\
name: pinnedpack
version: 1
positive: [soft watercolor]
negative: [blurry, text]
palette: {honey: '#F2C14E', forest: '#4F7A5A'}
tiers:
  draft: {steps: 4, cfg: 4.0, sampler: euler, scheduler: normal, width: 128, height: 128}
  final: {steps: 6, cfg: 5.0, sampler: dpmpp_2m, scheduler: karras, width: 256, height: 256, denoise: 0.4}
"""
PINNED_BOOK = {"title": "Pinned", "author": "P. Inned", "style_pack": "pinnedpack",
               "layout": {"trim": "1.5x1.5", "bleed_in": 0}, "pages": [{"page": 1, "text": "One bear."}]}
PINNED_CHARACTERS = {"characters": [{"id": "bear", "name": "Bruno", "look": "a big brown bear with a red scarf"}]}
PINNED_SPEC = {
    "book_id": "testbook", "page": 1, "intent": "illustration", "scene": "the bear sits under a pine",
    "characters": [{"id": "bear", "pose": "sitting", "emotion": "calm"}],
    "camera": {"shot": "wide", "angle": "eye-level", "lens": "35mm"},
    "environment": {"time": "afternoon", "weather": "clear sky", "location": "pine forest"},
    "constraints": ["no text"], "style_pack": "pinnedpack", "seed": 1001,
    "overrides": {"draft": {"count": 3}},
}
PINNED_PROOF_VERSION = 2  # the proof renderer's identity is pinned at this version, whatever PROOF_VERSION is now
SELECTED = OutputFile(file="selected.png", sha256="5" * 64, phash="0" * 16, width=128, height=128, seed=1002)


def planned(book_dir: Path) -> dict[str, Plan]:
    """The draft plan, and the refine plan after a fixed selection (its picture named by hash): no rendering."""
    book = load_book(book_dir)
    renderer = RecordingRenderer(book, identity_extra={"version": PINNED_PROOF_VERSION})
    ctx = Engine(book, renderer, HeuristicReviewer()).context(1)
    plans = {"draft": STAGE_BY_NAME["draft"].plan(ctx)}
    ctx.done["review"] = StageRecord(stage="review", page=1, cache_key="-", key_inputs={}, seeds=[SELECTED.seed],
                                     outputs=[SELECTED], started="-", finished="-", seconds=0.0)
    plans["refine"] = STAGE_BY_NAME["refine"].plan(ctx)
    return plans


def planned_keys(book_dir: Path) -> dict[str, str]:
    return {stage: plan.cache_key for stage, plan in planned(book_dir).items()}


def test_draft_and_refine_keys_of_a_fixed_book_are_pinned(make_book):
    book = make_book(book=PINNED_BOOK, characters=PINNED_CHARACTERS, specs={1: PINNED_SPEC},
                     files={"style_packs/pinnedpack/pack.yaml": PINNED_PACK_YAML})
    assert planned_keys(book) == {
        "draft": "38ab05a96370bb1798bb3548d0254d82f0c80f55e5bb56777dfd766c30cadb8b",
        "refine": "e4b7ac2ca7b06333f2a82d72aabc1a2e26a7292b87dec8f6028132f7fdece47b",
    }


@pytest.mark.parametrize("change", [{"sampler": "euler_a"}, {"scheduler": "simple"}, {"steps": 7}, {"cfg": 6.0},
                                    {"denoise": 0.5}])
def test_the_final_tier_of_the_style_pack_shapes_the_refine_key(make_book, change):
    """Refine's sampler, scheduler, steps, cfg and denoise come from the pack's final tier unless the spec overrides them."""
    book = make_book(book=PINNED_BOOK, characters=PINNED_CHARACTERS, specs={1: PINNED_SPEC},
                     files={"style_packs/pinnedpack/pack.yaml": PINNED_PACK_YAML})
    before = planned(book)["refine"].key_inputs
    data = yaml.safe_load(PINNED_PACK_YAML)
    data["tiers"]["final"].update(change)
    (book / "style_packs/pinnedpack/pack.yaml").write_text(yaml.safe_dump(data, sort_keys=True))
    after = planned(book)["refine"].key_inputs
    assert after["params"] != before["params"]  # in the refine parameters, not only through the pack's hash




def test_a_character_sheet_does_not_reask_the_reviewer(make_book):
    """The review's choice does not read the sheets (only its consistency block, measured when it ran, does;
    `status --consistency` measures the current art against the current sheets)."""
    sheet = "bible/character_refs/bear/sheet.png"
    book = write_small_book(make_book, pages=1, files={sheet: png_bytes((32, 32), (120, 80, 40))})
    run(book)
    before = stage_keys(book)
    (book / sheet).write_bytes(png_bytes((32, 32), (20, 80, 200)))
    assert stage_keys(book) == before


def test_an_upscale_without_polish_is_keyed_on_what_its_graph_reads(make_book):
    """polish: none is the upscale model alone: sampler settings, prompts and the checkpoint do not reach it."""
    data = small_book_data(1)
    data["render"] = {"upscale": {"polish": "none"}}
    book = write_small_book(make_book, pages=1, book=data)
    run(book)
    before = stage_keys(book)
    edit_yaml("book.yaml", lambda d: d["render"]["upscale"].update(denoise=0.3, steps=3))(book)
    assert stage_keys(book) == before
    edit_yaml("book.yaml", lambda d: d.setdefault("models", {}).update(upscale_model="4x.pth"))(book)
    assert stage_keys(book)["upscale"] != before["upscale"]
