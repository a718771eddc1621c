"""Every input that shapes a stage changes that stage's key (and no earlier one); one key is pinned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest
import yaml

from artfarm.book.loader import load_book
from artfarm.pipeline.engine import Engine
from artfarm.pipeline.keys import cache_key
from artfarm.pipeline.stages import STAGES
from artfarm.review.heuristic import HeuristicReviewer
from tests.bookbuilder import png_bytes
from tests.pipeline_helpers import RecordingRenderer, run, small_spec, write_small_book


class OtherHeuristic(HeuristicReviewer):
    def identity(self):
        return {**super().identity(), "version": 99}


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


def repaint_style_ref(book: Path) -> None:
    (book / "bible/style_refs/look.png").write_bytes(png_bytes(colour=(10, 200, 30)))


MUTATIONS = {
    "scene": ("draft", edit_spec(lambda s: s.update(scene="the bear naps under a pine"))),
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
    "print size": ("draft", edit_yaml("book.yaml", lambda d: d["layout"].update(trim="1.5x2"))),
    "text placement": ("review", edit_yaml("book.yaml", lambda d: d["pages"][0].update(placement="left"))),
    "refine denoise": ("refine", edit_spec(lambda s: s["overrides"].update(refine={"denoise": 0.9}))),
    "final checkpoint": ("refine", edit_yaml("book.yaml", lambda d: d.setdefault("models", {}).update(final_checkpoint="xl.safetensors"))),
    "upscale denoise": ("upscale", edit_spec(lambda s: s["overrides"].update(upscale={"denoise": 0.5}))),
    "upscale model": ("upscale", edit_yaml("book.yaml", lambda d: d.setdefault("models", {}).update(upscale_model="4x.pth"))),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_key_input_changes_the_key_of_the_stage_that_reads_it(make_book, name):
    stage, mutate = MUTATIONS[name]
    book = write_small_book(make_book, pages=1)
    run(book)
    before = stage_keys(book)
    mutate(book)
    after = stage_keys(book)
    first_changed = next(s for s in before if before[s] != after.get(s))
    assert first_changed == stage, f"{name} should first change {stage}, changed {first_changed}"


def test_style_pack_content_changes_the_draft_key(make_book):
    pack = yaml.safe_load((Path(__file__).parent.parent / "style_packs/watercolor_whimsy_v1/pack.yaml").read_text())
    pack["name"] = "localpack"
    book = write_small_book(make_book, pages=1, specs={1: small_spec(1, style_pack="localpack")},
                            files={"style_packs/localpack/pack.yaml": yaml.safe_dump(pack)})
    run(book)
    before = stage_keys(book)
    (book / "style_packs/localpack/notes.txt").write_text("any file of the pack counts")
    assert stage_keys(book)["draft"] != before["draft"]


def test_reference_image_content_changes_the_draft_key(make_book):
    book = write_small_book(make_book, pages=1)
    add_style_ref(book)
    run(book)
    before = stage_keys(book)
    repaint_style_ref(book)
    assert stage_keys(book)["draft"] != before["draft"]


def test_renderer_and_reviewer_identity_are_in_the_keys(make_book):
    book = write_small_book(make_book, pages=1)
    run(book)
    before = stage_keys(book)
    assert stage_keys(book, renderer=lambda b: RecordingRenderer(b, identity_extra={"template_sha256": "new"}))["draft"] != before["draft"]
    other = stage_keys(book, reviewer=OtherHeuristic())
    assert other["draft"] == before["draft"] and other["review"] != before["review"]


def test_keys_are_stable_across_runs_and_machines(make_book):
    book = write_small_book(make_book, pages=1)
    run(book)
    assert stage_keys(book) == stage_keys(book)
    # sha256 of canonical JSON (sorted keys, no spaces) with the record schema version: pinned.
    assert cache_key({"stage": "draft", "spec": {"seed": 1, "scene": "a bear"}}) == \
        "605b4551f6e3ec9e60ef2d6b0deda3cdb6506eba46df923aae0c0b4f6e7e05e2"
