"""Caching: what a rerun skips, what it redoes, and the reason it logs."""

from __future__ import annotations

import json
import logging

import yaml
from PIL import Image

from artfarm.fsio import sha256_file
from artfarm.models.records import RECORD_SCHEMA_VERSION, StageRecord
from tests.pipeline_helpers import RecordingRenderer, actions, run, small_spec, write_small_book

PACK = {
    "name": "testpack", "version": 1, "positive": ["flat colour test art"], "negative": ["blurry"],
    "palette": {"honey": "#F2C14E", "forest": "#4F7A5A", "sky": "#A7C7E7"},
    "tiers": {"draft": {"steps": 4, "cfg": 4.0, "width": 128, "height": 128},
              "final": {"steps": 6, "cfg": 5.0, "width": 256, "height": 256, "denoise": 0.4}},
}


def _log(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def test_unchanged_rerun_submits_nothing(make_book, caplog):
    book = write_small_book(make_book)
    first, _ = run(book)
    assert (first.done, first.cached, first.failed) == (2, 0, 0)
    caplog.clear()
    caplog.set_level(logging.INFO, logger="artfarm.pipeline")
    second, renderer = run(book)
    assert renderer.calls == []
    assert (second.done, second.cached, second.exit_code) == (0, 2, 0)
    assert "page 1 draft: skipped (cached)" in _log(caplog)
    assert "page 2 final: skipped (cached)" in _log(caplog)


def test_editing_one_renderspec_redoes_that_page_only(make_book, caplog):
    book = write_small_book(make_book)
    run(book)
    spec = small_spec(2, scene="the bear reads a map under a lantern")
    (book / "pages/0002/renderspec.json").write_text(json.dumps(spec))
    caplog.set_level(logging.INFO, logger="artfarm.pipeline")
    summary, renderer = run(book)
    assert {page for page, _ in renderer.calls} == {2}
    assert actions(summary, 1) == {s: "cached" for s in ("draft", "review", "refine", "upscale", "final")} | {"inpaint": "not-needed", "loop": "not-needed", "loop": "not-needed"}
    assert actions(summary, 2)["draft"] == "ran"
    assert "page 2 draft: running (renderspec changed" in _log(caplog)


def test_changing_a_style_pack_redoes_the_pages_that_use_it(make_book, caplog):
    book = write_small_book(make_book, specs={1: small_spec(1), 2: small_spec(2, style_pack="testpack")},
                            files={"style_packs/testpack/pack.yaml": yaml.safe_dump(PACK)})
    run(book)
    changed = {**PACK, "positive": [*PACK.get("positive", []), "gouache texture"]}
    (book / "style_packs/testpack/pack.yaml").write_text(yaml.safe_dump(changed))
    caplog.set_level(logging.INFO, logger="artfarm.pipeline")
    summary, renderer = run(book)
    assert {page for page, _ in renderer.calls} == {2}
    assert summary.pages[0].status == "cached"
    assert "page 2 draft: running (style pack changed (positive)" in _log(caplog)


def test_changing_refine_settings_redoes_refine_onward_and_keeps_drafts(make_book):
    book = write_small_book(make_book)
    run(book)
    drafts = {p.name: (p.stat().st_mtime_ns, sha256_file(p)) for p in (book / "pages/0001/draft").glob("*.png")}
    spec = small_spec(1)
    spec["overrides"]["refine"] = {"denoise": 0.7}
    (book / "pages/0001/renderspec.json").write_text(json.dumps(spec))
    summary, renderer = run(book)
    assert renderer.calls == [(1, "refine"), (1, "upscale")]
    assert actions(summary, 1) == {"draft": "cached", "review": "cached", "refine": "ran", "inpaint": "not-needed", "loop": "not-needed",
                                   "upscale": "ran", "final": "ran"}
    assert drafts == {p.name: (p.stat().st_mtime_ns, sha256_file(p)) for p in (book / "pages/0001/draft").glob("*.png")}


def test_a_new_workflow_template_is_named_as_the_reason(make_book, caplog):
    book = write_small_book(make_book, pages=1)
    run(book)
    caplog.set_level(logging.INFO, logger="artfarm.pipeline")
    summary, renderer = run(book, renderer=lambda b: RecordingRenderer(b, identity_extra={"template_sha256": "abc"}))
    assert actions(summary, 1)["draft"] == "ran"
    assert "page 1 draft: running (workflow template changed)" in _log(caplog)


def test_a_corrupt_record_is_a_logged_miss(make_book, caplog):
    book = write_small_book(make_book, pages=1)
    run(book)
    (book / "pages/0001/refine/stage.json").write_text('{"stage": "refine", "cache_key": 12')
    caplog.set_level(logging.INFO, logger="artfarm.pipeline")
    summary, renderer = run(book)
    assert summary.exit_code == 0
    assert renderer.calls == [(1, "refine")]  # same bytes again, so upscale and final stay cached
    assert "record unreadable, treating as a cache miss" in _log(caplog)
    assert "page 1 refine: running (record unreadable)" in _log(caplog)


def test_a_record_of_another_schema_version_is_a_miss(make_book):
    book = write_small_book(make_book, pages=1)
    run(book)
    path = book / "pages/0001/draft/stage.json"
    data = json.loads(path.read_text())
    data["unexpected"] = True
    path.write_text(json.dumps(data))
    summary, renderer = run(book)
    assert (1, "draft") in renderer.calls


def test_a_modified_output_is_a_persons_edit_and_kept(make_book, caplog):
    book = write_small_book(make_book, pages=1)
    run(book)
    final = book / "pages/0001/final/final.png"
    edited = final.read_bytes() + b"\0"
    final.write_bytes(edited)
    caplog.set_level(logging.INFO, logger="artfarm.pipeline")
    summary, renderer = run(book)
    assert renderer.calls == [] and final.read_bytes() == edited
    assert actions(summary, 1)["final"] == "edited" and summary.exit_code == 0
    assert "page 1 final: final.png edited by hand; kept" in _log(caplog)


def test_stage_records_hold_what_design_md_promises(make_book):
    book = write_small_book(make_book, pages=1)
    run(book)
    page = book / "pages/0001"
    records = {d.name: StageRecord.model_validate_json((d / "stage.json").read_bytes())
               for d in page.iterdir() if (d / "stage.json").is_file()}
    assert set(records) == {"draft", "selected", "refine", "upscale", "final"}
    for folder, record in records.items():
        assert record.schema_version == RECORD_SCHEMA_VERSION and record.status == "done"
        assert record.key_inputs["schema_version"] == RECORD_SCHEMA_VERSION
        for out in record.outputs:
            assert sha256_file(page / folder / out.file) == out.sha256
            assert len(out.phash) == 16
    draft = records["draft"]
    assert draft.seeds == [1001, 1002, 1003]  # burst: seed, seed+1, ...
    assert [o.seed for o in draft.outputs] == draft.seeds
    assert draft.prompts.positive and "text" in draft.prompts.negative
    assert draft.params["batch"] == 3 and draft.params["width"] == 128
    review = json.loads((page / "review.json").read_text())
    chosen = review["selection"]["seed"]
    assert records["selected"].seeds == [chosen]
    assert records["refine"].params["seed"] == chosen == records["upscale"].params["seed"]  # seed locked once selected
    assert records["refine"].params["image"] == "pages/0001/selected/selected.png"
    assert records["upscale"].params["image"] == "pages/0001/refine/refine_00.png"
    final = records["final"].outputs[0]
    assert final.file == "final.png" and final.width >= 450 and final.height >= 450  # 1.5in at 300 ppi
    assert records["upscale"].outputs[0].width == 2 * records["refine"].outputs[0].width


def test_a_supplied_mask_runs_inpaint_and_upscale_uses_its_output(make_book):
    from tests.bookbuilder import png_bytes

    book = write_small_book(make_book, pages=1, files={"pages/0001/masks/hand.png": png_bytes((16, 16), (255, 255, 255))})
    summary, renderer = run(book)
    assert (1, "inpaint") in renderer.calls
    upscale = StageRecord.model_validate_json((book / "pages/0001/upscale/stage.json").read_bytes())
    assert upscale.params["image"] == "pages/0001/inpaint/inpaint_00.png"
    inpaint = StageRecord.model_validate_json((book / "pages/0001/inpaint/stage.json").read_bytes())
    [fix] = inpaint.fixes
    assert fix.source == "mask_file" and fix.mask_file == "masks/hand.png" and fix.mask == "mask_00.png"
    assert inpaint.key_inputs["fixes"][0]["mask_sha256"] == sha256_file(book / "pages/0001/inpaint/mask_00.png")
    assert sha256_file(book / "pages/0001/inpaint" / fix.result) == fix.result_sha256
    # the heuristic cannot see whether a repaint fixed anything, so a person's mask is honoured
    assert fix.outcome == "kept" and "does not see content" in fix.reason and fix.review == "fix_00_review.json"
    assert sha256_file(book / "pages/0001/inpaint/inpaint_00.png") == fix.result_sha256
    assert fix.result_sha256 != sha256_file(book / "pages/0001/refine/refine_00.png")


class FlatInpaint(RecordingRenderer):
    """The proof renderer, except that every inpaint comes back as one flat colour (as a broken sampler's would)."""

    def render(self, request, progress=None):
        result = super().render(request, progress)
        if request.stage == "inpaint":
            for image in result.images:
                with Image.open(image.path) as art:
                    Image.new("RGB", art.size, (128, 128, 128)).save(image.path)
        return result


def test_a_hand_mask_whose_repaint_comes_back_flat_is_reverted_and_logged(make_book, caplog):
    from tests.bookbuilder import png_bytes

    caplog.set_level(logging.INFO, logger="artfarm.pipeline")
    book = write_small_book(make_book, pages=1, files={"pages/0001/masks/hat.png": png_bytes((16, 16), (255, 255, 255))})
    run(book, renderer=lambda b: FlatInpaint(b))
    inpaint = StageRecord.model_validate_json((book / "pages/0001/inpaint/stage.json").read_bytes())
    [fix] = inpaint.fixes
    assert fix.outcome == "reverted" and "flat image" in fix.reason
    assert "page 1 inpaint: fix 0 (mask hat) reverted: the fix fails a hard criterion (flat image" in _log(caplog)
    assert sha256_file(book / "pages/0001/inpaint/inpaint_00.png") == sha256_file(book / "pages/0001/refine/refine_00.png")
    assert any(note.startswith("fix 0 (hat) reverted") for note in inpaint.notes)


def test_a_hand_mask_is_kept_when_a_person_chose_the_draft(make_book):
    from artfarm.book.loader import load_book
    from artfarm.review.agent import AgentReviewer, record_decision
    from tests.bookbuilder import png_bytes

    book = write_small_book(make_book, pages=1, files={"pages/0001/masks/hat.png": png_bytes((16, 16), (255, 255, 255))})
    run(book, reviewer=AgentReviewer())
    record_decision(load_book(book), 1, select=1, reason="the bear looks kind")
    run(book, reviewer=AgentReviewer())
    [fix] = StageRecord.model_validate_json((book / "pages/0001/inpaint/stage.json").read_bytes()).fixes
    assert fix.outcome == "kept"
    assert sha256_file(book / "pages/0001/inpaint/inpaint_00.png") == fix.result_sha256


def test_stage_records_match_the_published_schema(make_book):
    import jsonschema

    from artfarm.schemas import schema_text

    book = write_small_book(make_book, pages=1)
    run(book)
    schema = json.loads(schema_text("stage"))
    for path in (book / "pages/0001").rglob("stage.json"):
        jsonschema.validate(json.loads(path.read_text()), schema)
    from pathlib import Path
    published = Path(__file__).resolve().parent.parent / "schemas/stage.schema.json"
    assert json.loads(published.read_text()) == schema
