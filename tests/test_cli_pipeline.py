"""The render commands as a user and an agent run them: render-book, render-page, status, review."""

from __future__ import annotations

from PIL import Image

from artfarm.cli.main import main
from artfarm.models.records import BookStatus, RunSummary, StageRecord
from artfarm.models.review import ReviewRecord
from artfarm.pipeline.lock import BookLock
from tests.pipeline_helpers import small_book_data, write_small_book


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_render_book_then_cached_rerun(make_book, books_dir, capsys, caplog):
    caplog.set_level("INFO", logger="artfarm.pipeline")
    write_small_book(make_book, pages=2)
    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir))
    assert code == 0 and "2 done, 0 cached, 0 failed" in out
    assert "page 1 draft: running (not run yet)" in caplog.text
    code, out, _ = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--json", "--jobs", "3")
    summary = RunSummary.model_validate_json(out)
    assert code == 0 and (summary.done, summary.cached, summary.exit_code) == (0, 2, 0)
    assert summary.pages[0].final == "pages/0001/final/final.png"


def test_render_page_from_a_stage(make_book, books_dir, capsys):
    write_small_book(make_book, pages=2)
    cli(capsys, "render-book", "testbook", "--books", str(books_dir))
    code, out, err = cli(capsys, "render-page", "testbook", "2", "--from", "upscale", "--books", str(books_dir), "--json")
    summary = RunSummary.model_validate_json(out)
    assert code == 0 and [p.page for p in summary.pages] == [2]
    assert [(o.stage, o.action) for o in summary.pages[0].stages if o.action == "ran"] == [("upscale", "ran"), ("final", "ran")]
    code, _, err = cli(capsys, "render-page", "testbook", "9", "--books", str(books_dir))
    assert code == 2 and "page 9 is not in the book" in err


def test_status_table_and_json(make_book, books_dir, capsys):
    write_small_book(make_book, pages=2)
    cli(capsys, "render-page", "testbook", "1", "--books", str(books_dir))
    code, out, _ = cli(capsys, "status", "testbook", "--books", str(books_dir))
    assert code == 0
    header, row1, row2 = out.splitlines()[:3]
    assert header.split() == ["page", "draft", "review", "refine", "inpaint", "loop", "upscale", "final"]
    assert row1.split() == ["1", "done", "done", "done", "-", "-", "done", "done"]  # heuristic: no loop
    assert row2.split() == ["2", "missing", "missing", "missing", "missing", "-", "missing", "missing"]
    code, out, _ = cli(capsys, "status", "testbook", "--books", str(books_dir), "--json")
    status = BookStatus.model_validate_json(out)
    assert status.pages[0].stages["final"] == "done" and status.pages[1].stages["draft"] == "missing"


def test_agent_review_round_trip(make_book, books_dir, capsys, caplog):
    caplog.set_level("INFO", logger="artfarm.pipeline")
    book = write_small_book(make_book, pages=2)
    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "agent")
    assert code == 0 and "2 waiting for review" in out
    assert "artfarm review testbook 1 --select N" in caplog.text
    sheet = book / "pages/0001/contact_sheet.png"
    with Image.open(sheet) as image:
        assert image.width >= 2 * 256  # three numbered candidates in a grid
    review = ReviewRecord.model_validate_json((book / "pages/0001/review.json").read_bytes())
    assert review.status == "waiting" and review.contact_sheet == "contact_sheet.png"
    assert len(review.candidates) == 3 and all("calm_space" in c.scores for c in review.candidates)
    _, out, _ = cli(capsys, "status", "testbook", "--books", str(books_dir), "--reviewer", "agent", "--json")
    assert BookStatus.model_validate_json(out).pages[0].stages["review"] == "waiting"

    code, out, _ = cli(capsys, "review", "testbook", "1", "--select", "2", "--reason", "calm sky for the words",
                       "--books", str(books_dir))
    assert code == 0 and "candidate 2 (draft_02.png) selected" in out
    code, _, _ = cli(capsys, "review", "testbook", "2", "--reject-all", "--reason", "bear is cut off", "--books", str(books_dir))
    assert code == 0
    code, _, err = cli(capsys, "review", "testbook", "1", "--select", "7", "--reason", "x", "--books", str(books_dir))
    assert code == 2 and "no candidate 7" in err

    code, out, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "agent", "--keep-going")
    assert code == 1 and "1 done" in out and "1 failed" in out
    assert "every draft candidate was rejected" in out
    selected = StageRecord.model_validate_json((book / "pages/0001/selected/stage.json").read_bytes())
    assert selected.seeds == [1003]  # candidate 2 of the burst seed 1001, 1002, 1003
    refine = StageRecord.model_validate_json((book / "pages/0001/refine/stage.json").read_bytes())
    assert refine.params["seed"] == 1003
    assert "calm sky for the words" in selected.notes[0]


def test_a_held_lock_is_a_clear_error(make_book, books_dir, capsys):
    book = write_small_book(make_book, pages=1)
    with BookLock(book, command="artfarm render-book testbook"):
        code, _, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir))
    assert code == 1 and "book is being rendered by another run" in err and "fix:" in err


def test_bad_flags_are_bad_input(make_book, books_dir, capsys):
    write_small_book(make_book, pages=1)
    code, _, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--jobs", "0")
    assert code == 2
    code, _, err = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--renderer", "crayons")
    assert code == 2


def test_settings_come_from_flags_then_book(make_book, books_dir, capsys):
    book_data = small_book_data(1)
    book_data["render"] = {"reviewer": "agent"}
    write_small_book(make_book, pages=1, book=book_data)
    _, out, _ = cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--json")
    assert RunSummary.model_validate_json(out).reviewer == "agent"
    _, out, _ = cli(capsys, "status", "testbook", "--books", str(books_dir), "--json", "--reviewer", "heuristic")
    assert BookStatus.model_validate_json(out).reviewer == "heuristic"


def test_a_persons_choice_outlasts_a_change_of_reviewer(make_book, books_dir, capsys):
    book = write_small_book(make_book, pages=1)
    cli(capsys, "render-book", "testbook", "--books", str(books_dir), "--reviewer", "agent")
    cli(capsys, "review", "testbook", "1", "--select", "1", "--reason", "the person likes it", "--books", str(books_dir))
    code, _, _ = cli(capsys, "render-book", "testbook", "--books", str(books_dir))  # default reviewer: heuristic
    assert code == 0
    review = ReviewRecord.model_validate_json((book / "pages/0001/review.json").read_bytes())
    assert review.selection.index == 1 and review.selection.decided_by == "person"
    assert StageRecord.model_validate_json((book / "pages/0001/selected/stage.json").read_bytes()).seeds == [1002]


def test_a_finished_page_chosen_by_a_person_stays_done_under_another_reviewer(make_book, books_dir, capsys):
    write_small_book(make_book, pages=1)
    books = ["--books", str(books_dir)]
    cli(capsys, "render-book", "testbook", *books, "--reviewer", "agent")
    cli(capsys, "review", "testbook", "1", "--select", "2", "--reason", "calmest sky", *books)
    code, out, _ = cli(capsys, "render-book", "testbook", *books, "--reviewer", "agent")
    assert code == 0 and "1 done" in out
    _, out, _ = cli(capsys, "status", "testbook", *books, "--json")  # the book's default reviewer: heuristic
    page = BookStatus.model_validate_json(out).pages[0]
    assert page.stages["review"] == "done" and page.stages["final"] == "done"
    code, out, _ = cli(capsys, "render-book", "testbook", *books)
    assert code == 0 and "0 done, 1 cached" in out


def test_a_page_waiting_for_an_agent_shows_waiting_under_the_books_reviewer(make_book, books_dir, capsys):
    book = write_small_book(make_book, pages=2)
    books = ["--books", str(books_dir)]
    cli(capsys, "render-book", "testbook", *books, "--reviewer", "agent")
    _, out, _ = cli(capsys, "status", "testbook", *books, "--json")  # the book's reviewer: heuristic
    pages = BookStatus.model_validate_json(out).pages
    assert [p.stages["review"] for p in pages] == ["waiting", "waiting"]
    assert "artfarm review testbook 1 --select N" in pages[0].reason["review"]
    assert pages[0].stages["refine"] == "missing"
    (book / "pages/0002/draft/draft_00.png").unlink()  # drafts no longer those under review (an edit would be kept)
    _, out, _ = cli(capsys, "status", "testbook", *books, "--json")
    assert [p.stages["draft"] for p in BookStatus.model_validate_json(out).pages] == ["done", "stale"]
    assert BookStatus.model_validate_json(out).pages[1].stages["review"] != "waiting"


def test_a_pending_agent_review_holds_for_a_run_as_status_says_until_asked_again(make_book, books_dir, capsys):
    book = write_small_book(make_book, pages=1)
    books = ["--books", str(books_dir)]
    cli(capsys, "render-book", "testbook", *books, "--reviewer", "agent")
    code, out, _ = cli(capsys, "render-book", "testbook", *books)  # the book's reviewer: heuristic
    assert code == 0 and "1 waiting for review" in out
    assert not (book / "pages/0001/refine").exists()
    code, out, _ = cli(capsys, "render-page", "testbook", "1", *books, "--from", "review")
    assert code == 0 and "1 done" in out
    review = ReviewRecord.model_validate_json((book / "pages/0001/review.json").read_bytes())
    assert review.reviewer.kind == "heuristic" and review.status == "selected"
