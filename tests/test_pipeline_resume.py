"""A run killed at any stage boundary resumes from the last complete stage; failures are recorded."""

from __future__ import annotations

import pytest

from artfarm.fsio import sha256_file
from artfarm.models.records import StageRecord
from tests.bookbuilder import png_bytes
from tests.pipeline_helpers import Crash, CrashingReviewer, RecordingRenderer, actions, run, write_small_book

ORDER = ["draft", "review", "refine", "inpaint", "upscale", "final"]  # the loop is not needed with heuristic
FOLDER = {"review": "selected"}
MASK = {"pages/0001/masks/fix.png": png_bytes((8, 8), (255, 255, 255))}  # so inpaint runs too


def _snapshot(book) -> dict[str, tuple[int, str]]:
    return {p.relative_to(book).as_posix(): (p.stat().st_mtime_ns, sha256_file(p))
            for p in (book / "pages").rglob("*") if p.is_file()}


@pytest.mark.parametrize("crash_at", ["draft", "review", "refine", "inpaint", "upscale"])
def test_crash_during_a_stage_then_resume(make_book, crash_at):
    book = write_small_book(make_book, pages=1, files=MASK)
    if crash_at == "review":
        with pytest.raises(Crash):
            run(book, reviewer=CrashingReviewer())
    else:
        with pytest.raises(Crash):
            run(book, renderer=lambda b: RecordingRenderer(b, crash_at=crash_at))
    assert not list(book.rglob("*.tmp")), "a killed run leaves no half-written file"
    assert not (book / ".artfarm.lock").exists()
    summary, renderer = run(book)
    done = actions(summary, 1)
    before = ORDER[:ORDER.index(crash_at)]
    assert all(done[s] == "cached" for s in before)
    assert all(done[s] == "ran" for s in ORDER[ORDER.index(crash_at):])
    assert {stage for _, stage in renderer.calls} == {s for s in ORDER[ORDER.index(crash_at):] if s not in ("review", "final")}
    assert summary.pages[0].status == "done" and (book / "pages/0001/final/final.png").is_file()


@pytest.mark.parametrize("stage", ORDER)
def test_killed_before_the_record_was_written(make_book, stage):
    """Outputs without stage.json (the record is written last) are not trusted: the stage runs again."""
    book = write_small_book(make_book, pages=1, files=MASK)
    run(book)
    (book / "pages/0001" / FOLDER.get(stage, stage) / "stage.json").unlink()
    if stage == "review":
        (book / "pages/0001/review.json").unlink()
    summary, renderer = run(book)
    done = actions(summary, 1)
    assert done[stage] == "ran"
    assert all(done[s] == "cached" for s in ORDER[:ORDER.index(stage)])
    # the proof renderer is deterministic: the redone stage gives the same bytes, so later stages stay cached
    assert all(done[s] == "cached" for s in ORDER[ORDER.index(stage) + 1:])


def test_a_renderer_failure_is_recorded_and_earlier_stages_are_untouched(make_book):
    book = write_small_book(make_book, pages=1)
    run(book, renderer=lambda b: RecordingRenderer(b, fail_at="upscale"))
    record = StageRecord.model_validate_json((book / "pages/0001/upscale/stage.json").read_bytes())
    assert record.status == "failed" and "renderer refused the upscale job" in record.error
    assert record.cache_key and record.key_inputs["stage"] == "upscale"
    snapshot = _snapshot(book)
    summary, _ = run(book, renderer=lambda b: RecordingRenderer(b, fail_at="upscale"))
    assert summary.exit_code == 1 and summary.failed == 1
    assert actions(summary, 1) == {"draft": "cached", "review": "cached", "refine": "cached", "inpaint": "not-needed", "loop": "not-needed",
                                   "upscale": "failed", "final": "skipped"}
    after = _snapshot(book)
    assert {k: v for k, v in after.items() if "/upscale/" not in k} == {k: v for k, v in snapshot.items() if "/upscale/" not in k}
    summary, renderer = run(book)
    assert renderer.calls == [(1, "upscale")] and summary.done == 1


def test_an_unwritable_stage_folder_fails_the_page_clearly(make_book, caplog):
    book = write_small_book(make_book, pages=2)
    (book / "pages/0001/refine").write_text("a file where the refine folder belongs")
    summary, _ = run(book, keep_going=True)
    assert {p.page: p.status for p in summary.pages} == {1: "failed", 2: "done"}
    error = summary.pages[0].error
    assert "pages/0001/refine" in error and "Not a directory" in error and "fix:" in error
    assert (book / "pages/0001/selected/stage.json").is_file()  # earlier stages kept
    assert not list(book.rglob("*.tmp"))


def test_a_reviewer_failure_is_recorded_and_retried(make_book):
    from artfarm.errors import ServiceError
    from artfarm.review.heuristic import HeuristicReviewer

    class Unreachable(HeuristicReviewer):
        def review(self, candidates, ctx):
            raise ServiceError("reviewer unreachable", where="http://127.0.0.1:9", fix="start it")

    book = write_small_book(make_book, pages=1)
    summary, _ = run(book, reviewer=Unreachable())
    assert summary.exit_code == 3 and "reviewer unreachable" in summary.pages[0].error
    record = StageRecord.model_validate_json((book / "pages/0001/selected/stage.json").read_bytes())
    assert record.status == "failed" and record.stage == "review"
    summary, renderer = run(book)
    assert renderer.calls == [(1, "refine"), (1, "upscale")]  # drafts kept
    assert summary.pages[0].stages[1].reason.startswith("previous attempt failed")


def test_an_unreadable_mask_fails_the_page_with_its_name(make_book):
    book = write_small_book(make_book, pages=2, files={"pages/0001/masks/bad.png": b"not a png"})
    summary, _ = run(book, keep_going=True)
    assert {p.page: p.status for p in summary.pages} == {1: "failed", 2: "done"}
    assert "masks/bad.png" in summary.pages[0].error and "mask is not an image" in summary.pages[0].error
    assert summary.exit_code == 2
