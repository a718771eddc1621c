"""LoRAs, the ControlNet guide and the family reach each render stage's parameters (so its key), only where they apply."""

from __future__ import annotations

from pathlib import Path

import yaml

from artfarm.book.loader import load_book
from artfarm.cli.main import main
from artfarm.models.records import OutputFile, StageRecord
from artfarm.pipeline.engine import Engine
from artfarm.pipeline.stages import STAGE_BY_NAME
from artfarm.review.heuristic import HeuristicReviewer
from tests.bookbuilder import default_characters
from tests.pipeline_helpers import RecordingRenderer, run, small_book_data, small_spec, write_small_book

RENDER_STAGES = ("draft", "refine", "inpaint", "upscale")
PACK = yaml.safe_load((Path(__file__).parent.parent / "style_packs/watercolor_whimsy_v1/pack.yaml").read_text())
SELECTED = OutputFile(file="selected.png", sha256="5" * 64, phash="0" * 16, width=128, height=128, seed=7)


def pack_with(loras: list[dict]) -> str:
    return yaml.safe_dump({**PACK, "name": "lorapack", "loras": loras})


def characters_with_bear_lora(**lora) -> dict:
    chars = default_characters()
    chars["characters"][0]["lora"] = {"file": "bruno.safetensors", "strength": 0.9, "trigger_words": ["brunobear"], **lora}
    return chars


def book_with(make_book, *, book_changes: dict | None = None, loras: list[dict] | None = None, characters=None):
    book = small_book_data(2)
    book.update(book_changes or {})
    specs = {1: small_spec(1, style_pack="lorapack"),
             2: small_spec(2, style_pack="lorapack", characters=[{"id": "ginger", "pose": "running", "emotion": "happy"}])}
    return write_small_book(make_book, pages=2, book=book, specs=specs, characters=characters or default_characters(),
                            files={"style_packs/lorapack/pack.yaml": pack_with(loras or [])})


def stage_params(book_dir: Path, page: int) -> dict[str, dict]:
    """Each render stage's parameters for a page, after a fixed selection (nothing rendered)."""
    book = load_book(book_dir)
    ctx = Engine(book, RecordingRenderer(book), HeuristicReviewer()).context(page)
    ctx.done["review"] = StageRecord(stage="review", page=page, cache_key="-", key_inputs={}, seeds=[7],
                                     outputs=[SELECTED], started="-", finished="-", seconds=0.0)
    return {name: STAGE_BY_NAME[name].params(ctx) for name in RENDER_STAGES}


def plan_keys(book_dir: Path, page: int) -> dict[str, str]:
    book = load_book(book_dir)
    ctx = Engine(book, RecordingRenderer(book), HeuristicReviewer()).context(page)
    ctx.done["review"] = StageRecord(stage="review", page=page, cache_key="-", key_inputs={}, seeds=[7],
                                     outputs=[SELECTED], started="-", finished="-", seconds=0.0)
    return {name: STAGE_BY_NAME[name].plan(ctx).cache_key for name in ("draft", "refine")}


def test_without_loras_controlnet_or_family_no_stage_gets_model_params(make_book):
    params = stage_params(book_with(make_book), 1)
    assert all(not {"loras", "control", "family"} & set(p) for p in params.values())


def test_pack_loras_then_the_cast_characters_load_on_every_render_stage(make_book):
    pack_loras = [{"file": "wash.safetensors", "strength": 0.6, "trigger_words": ["washy"]},
                  {"file": "ink.safetensors", "strength": 0.5, "strength_clip": 0.25}]
    book = book_with(make_book, loras=pack_loras, characters=characters_with_bear_lora())
    with_bear, without_bear = stage_params(book, 1), stage_params(book, 2)
    expected_pack = [{"file": "wash.safetensors", "strength": 0.6, "strength_clip": 0.6},
                     {"file": "ink.safetensors", "strength": 0.5, "strength_clip": 0.25}]
    for stage in RENDER_STAGES:
        assert with_bear[stage]["loras"] == expected_pack + [{"file": "bruno.safetensors", "strength": 0.9, "strength_clip": 0.9}]
        assert without_bear[stage]["loras"] == expected_pack


def test_character_trigger_words_join_that_characters_fragment(make_book):
    book = load_book(book_with(make_book, characters=characters_with_bear_lora()))
    one, two = (Engine(book, RecordingRenderer(book), HeuristicReviewer()).context(p).prompt for p in (1, 2))
    assert "Bruno, a big brown bear with a red scarf, brunobear, sitting, calm" in one.positive_terms
    assert "brunobear" not in two.positive


def test_a_lora_strength_change_redoes_the_stages_that_load_it(make_book):
    book = book_with(make_book, characters=characters_with_bear_lora())
    before = {p: plan_keys(book, p) for p in (1, 2)}
    (book / "bible/characters.yaml").write_text(yaml.safe_dump(characters_with_bear_lora(strength=0.4)))
    after = {p: plan_keys(book, p) for p in (1, 2)}
    assert after[1]["draft"] != before[1]["draft"] and after[1]["refine"] != before[1]["refine"]
    assert after[2] == before[2]  # the page without the bear loads no bear LoRA


def test_controlnet_reaches_only_the_stages_render_control_lists(make_book):
    models = {"controlnet": "canny.safetensors"}
    default = stage_params(book_with(make_book, book_changes={"models": models}), 1)
    assert [s for s in RENDER_STAGES if "control" in default[s]] == ["refine", "upscale"]
    assert default["refine"]["control"] == {"model": "canny.safetensors", "preprocessor": "canny", "strength": 0.6,
                                            "start": 0.0, "end": 1.0}
    control = {"preprocessor": "none", "strength": 0.9, "start": 0.1, "end": 0.7, "stages": ["upscale"]}
    chosen = stage_params(book_with(make_book, book_changes={"models": models, "render": {"control": control}}), 1)
    assert [s for s in RENDER_STAGES if "control" in chosen[s]] == ["upscale"]
    assert chosen["upscale"]["control"]["preprocessor"] == "none"


def test_the_sdxl_family_reaches_every_render_stage(make_book):
    params = stage_params(book_with(make_book, book_changes={"models": {"family": "sdxl"}}), 1)
    assert all(p["family"] == "sdxl" for p in params.values())


def test_render_control_without_a_controlnet_is_rejected(make_book, capsys):
    book = book_with(make_book, book_changes={"render": {"control": {"strength": 0.5}}})
    assert main(["validate", str(book)]) == 2
    assert "models.controlnet" in capsys.readouterr().out


def test_the_proof_renderer_names_the_loras_it_cannot_draw(make_book):
    book = book_with(make_book, characters=characters_with_bear_lora(), book_changes={"models": {"controlnet": "c.safetensors"}})
    summary, _ = run(book, pages=[1])
    record = StageRecord.model_validate_json((book / "pages/0001/refine/stage.json").read_text())
    assert [m.name for m in record.models][1:] == ["bruno.safetensors", "c.safetensors"]
