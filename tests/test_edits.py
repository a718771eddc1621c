"""A person's edits to stage outputs are never lost: kept and reported, adopted, or moved to history/ by --force."""

from __future__ import annotations

import json

import pytest

from artfarm.book.loader import load_book
from artfarm.cli.main import main
from artfarm.errors import BadInputError
from artfarm.fsio import sha256_file
from artfarm.models.records import StageRecord
from artfarm.pipeline.engine import adopt_edits, book_status
from artfarm.render.proof import ProofRenderer
from artfarm.review.agent import AgentReviewer, record_decision
from artfarm.review.heuristic import HeuristicReviewer
from artfarm.settings import resolve_settings
from tests.bookbuilder import png_bytes
from tests.pipeline_helpers import RecordingRenderer, actions, run, write_small_book

RETOUCHED = png_bytes((450, 450), (12, 200, 40))


def rendered_book(make_book, pages: int = 2):
    book = write_small_book(make_book, pages=pages)
    summary, _ = run(book)
    assert summary.exit_code == 0
    return book


def adopt(book, page, stage=None):
    loaded = load_book(book)
    return adopt_edits(loaded, resolve_settings(loaded.book, {}), page, stage, renderer=ProofRenderer(loaded),
                       reviewer=HeuristicReviewer())


def test_a_retouched_final_is_kept_reported_and_the_other_pages_carry_on(make_book, capsys):
    book = rendered_book(make_book)
    final = book / "pages/0001/final/final.png"
    final.write_bytes(RETOUCHED)
    (book / "pages/0002/renderspec.json").write_text(
        (book / "pages/0002/renderspec.json").read_text().replace('"seed": 1002', '"seed": 77'))

    summary, renderer = run(book)
    assert final.read_bytes() == RETOUCHED
    assert summary.exit_code == 0 and summary.edited == 1
    assert {p.page: p.status for p in summary.pages} == {1: "edited", 2: "done"}
    assert actions(summary, 1)["final"] == "edited" and all(page == 2 for page, _ in renderer.calls)

    loaded = load_book(book)
    status = book_status(loaded, resolve_settings(loaded.book, {}), renderer=ProofRenderer(loaded),
                         reviewer=HeuristicReviewer())
    row = status.pages[0]
    assert row.stages["final"] == "edited" and f"artfarm adopt {loaded.id} 1 --stage final" in row.reason["final"]
    assert main(["status", str(book), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pages"][0]["stages"]["final"] == "edited"


def test_an_edit_is_kept_even_when_the_inputs_changed_too(make_book):
    book = rendered_book(make_book, pages=1)
    selected = book / "pages/0001/selected/selected.png"
    selected.write_bytes(png_bytes((128, 128), (1, 2, 3)))
    spec = book / "pages/0001/renderspec.json"
    spec.write_text(spec.read_text().replace("pine forest", "birch forest"))
    summary, _ = run(book)
    assert summary.pages[0].status == "edited" and actions(summary, 1)["review"] == "edited"
    assert selected.read_bytes() == png_bytes((128, 128), (1, 2, 3))


def test_adopting_a_retouched_final_makes_it_done(make_book):
    book = rendered_book(make_book, pages=1)
    final = book / "pages/0001/final/final.png"
    final.write_bytes(RETOUCHED)
    report = adopt(book, 1)
    assert [(a.stage, a.files) for a in report.adopted] == [("final", ["final.png"])]
    record = StageRecord.model_validate_json((book / "pages/0001/final/stage.json").read_bytes())
    assert record.outputs[0].sha256 == sha256_file(final) and any("adopted" in n for n in record.notes)
    summary, renderer = run(book)
    assert renderer.calls == [] and summary.pages[0].status == "cached" and final.read_bytes() == RETOUCHED


def test_adopting_an_upscale_reruns_the_stages_after_it_from_the_edit(make_book):
    book = rendered_book(make_book, pages=1)
    upscale = book / "pages/0001/upscale/upscale_00.png"
    edited = png_bytes((256, 256), (250, 10, 10))
    upscale.write_bytes(edited)
    assert adopt(book, 1, "upscale").adopted[0].stage == "upscale"
    summary, renderer = run(book)
    assert actions(summary, 1)["upscale"] == "cached" and actions(summary, 1)["final"] == "ran"
    assert upscale.read_bytes() == edited
    final = StageRecord.model_validate_json((book / "pages/0001/final/stage.json").read_bytes())
    assert final.key_inputs["inputs"]["image"] == sha256_file(upscale)


def test_force_moves_the_edit_to_history_then_rerenders(make_book):
    book = rendered_book(make_book, pages=1)
    final = book / "pages/0001/final/final.png"
    final.write_bytes(RETOUCHED)
    summary, _ = run(book, force=True)
    assert summary.exit_code == 0 and summary.pages[0].status == "done"
    kept = list((book / "pages/0001/history").iterdir())
    assert len(kept) == 1 and kept[0].name.startswith("final-") and kept[0].name.endswith("Z-final.png")
    assert kept[0].read_bytes() == RETOUCHED and final.read_bytes() != RETOUCHED
    final.write_bytes(RETOUCHED)
    run(book, force=True)
    assert len(list((book / "pages/0001/history").iterdir())) == 2  # history only grows


def test_adopt_command(make_book, capsys):
    book = rendered_book(make_book, pages=1)
    assert main(["adopt", str(book), "1"]) == 2  # nothing edited
    assert "nothing to adopt" in capsys.readouterr().err
    (book / "pages/0001/final/final.png").write_bytes(RETOUCHED)
    assert main(["adopt", str(book), "1", "--stage", "final", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["adopted"][0]["files"] == ["final.png"]


def test_an_adopted_final_is_moved_to_history_when_its_stage_reruns(make_book):
    book = rendered_book(make_book, pages=1)
    final = book / "pages/0001/final/final.png"
    final.write_bytes(RETOUCHED)
    adopt(book, 1, "final")
    record = StageRecord.model_validate_json((book / "pages/0001/final/stage.json").read_bytes())
    assert record.outputs[0].adopted
    spec = book / "pages/0001/renderspec.json"
    spec.write_text(spec.read_text().replace('"seed": 1001', '"seed": 55'))  # an upstream change: every stage reruns
    summary, _ = run(book)
    assert summary.exit_code == 0 and actions(summary, 1)["final"] == "ran"
    kept = [p for p in (book / "pages/0001/history").iterdir() if p.name.endswith("final.png")]
    assert [p.read_bytes() for p in kept] == [RETOUCHED] and final.read_bytes() != RETOUCHED


def test_adopt_refuses_when_the_stage_was_made_by_another_renderer(make_book):
    book = write_small_book(make_book, pages=1)
    other = lambda loaded: RecordingRenderer(loaded, identity_extra={"name": "elsewhere"})  # noqa: E731
    assert run(book, renderer=other)[0].exit_code == 0
    final = book / "pages/0001/final/final.png"
    final.write_bytes(RETOUCHED)
    with pytest.raises(BadInputError) as refused:
        adopt(book, 1, "final")  # these settings give the proof renderer; the page was made by "elsewhere"
    assert "made by the elsewhere renderer" in str(refused.value) and "--renderer elsewhere" in refused.value.fix
    assert final.read_bytes() == RETOUCHED
    record = StageRecord.model_validate_json((book / "pages/0001/final/stage.json").read_bytes())
    assert record.outputs[0].sha256 != sha256_file(final)  # nothing recorded


def test_the_suggested_fix_for_an_edit_keeps_a_persons_review_decision(make_book):
    book = write_small_book(make_book, pages=1)
    run(book, reviewer=AgentReviewer())
    record_decision(load_book(book), 1, select=1, reason="the bear looks kind")
    assert run(book, reviewer=AgentReviewer())[0].pages[0].status == "done"
    decision = (book / "pages/0001/review.json").read_bytes()
    final = book / "pages/0001/final/final.png"
    final.write_bytes(RETOUCHED)

    summary, _ = run(book, reviewer=AgentReviewer())
    hint = summary.pages[0].stages[-1].reason
    assert f"render-page {load_book(book).id} 1 --from final" in hint and "--force" not in hint
    summary, _ = run(book, reviewer=AgentReviewer(), pages=[1], from_stage="final")  # what the hint says
    assert summary.pages[0].status == "done" and actions(summary, 1)["review"] == "cached"
    assert (book / "pages/0001/review.json").read_bytes() == decision
    assert [p.read_bytes() for p in (book / "pages/0001/history").iterdir()] == [RETOUCHED]


def test_a_forced_review_copies_the_recorded_decision_to_history_first(make_book):
    book = write_small_book(make_book, pages=1)
    run(book, reviewer=AgentReviewer())
    record_decision(load_book(book), 1, select=1, reason="the bear looks kind")
    decision = (book / "pages/0001/review.json").read_bytes()
    summary, _ = run(book, reviewer=AgentReviewer(), pages=[1], from_stage="review")
    assert summary.pages[0].status == "waiting"  # the agent reviewer asks again ...
    kept = list((book / "pages/0001/history").iterdir())
    assert [p.read_bytes() for p in kept] == [decision] and kept[0].name.endswith("-review.json")  # ... the choice is kept
