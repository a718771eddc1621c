"""A book laid out with symlinks: pages/ on another disk works; nothing outside the book is cleaned or read."""

from __future__ import annotations

import shutil

from artfarm.book.loader import inspect_book
from artfarm.models.records import StageRecord
from tests.bookbuilder import png_bytes
from tests.pipeline_helpers import actions, run, write_small_book


def test_pages_on_a_symlinked_folder_complete_a_run(make_book, tmp_path):
    book = write_small_book(make_book, pages=2)
    other_disk = tmp_path / "other_disk"
    other_disk.mkdir()
    shutil.move(str(book / "pages"), other_disk / "pages")
    (book / "pages").symlink_to(other_disk / "pages", target_is_directory=True)

    summary, _ = run(book)
    assert summary.exit_code == 0 and [p.status for p in summary.pages] == ["done", "done"]
    assert summary.pages[0].final == "pages/0001/final/final.png"
    assert (other_disk / "pages/0001/final/final.png").is_file()  # written through the user's link
    refine = StageRecord.model_validate_json((other_disk / "pages/0001/refine/stage.json").read_bytes())
    assert refine.params["image"] == "pages/0001/selected/selected.png"
    again, renderer = run(book)
    assert renderer.calls == [] and [p.status for p in again.pages] == ["cached", "cached"]


def test_a_whole_page_folder_on_another_disk_works(make_book, tmp_path):
    book = write_small_book(make_book, pages=1)
    shutil.move(str(book / "pages/0001"), tmp_path / "page1")
    (book / "pages/0001").symlink_to(tmp_path / "page1", target_is_directory=True)
    summary, _ = run(book)
    assert summary.exit_code == 0 and (tmp_path / "page1/final/final.png").is_file()


def test_a_symlinked_stage_folder_is_left_untouched_and_stops_only_its_page(make_book, tmp_path):
    book = write_small_book(make_book, pages=2)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "refine_00.png").write_bytes(png_bytes((16, 16), (1, 2, 3)))
    (victim / "stage.json").write_text("not artfarm's")
    (victim / "notes.txt").write_text("precious")
    before = {p.name: p.read_bytes() for p in victim.iterdir()}
    (book / "pages/0001/refine").symlink_to(victim, target_is_directory=True)

    summary, _ = run(book, keep_going=True)
    assert {p.page: p.status for p in summary.pages} == {1: "failed", 2: "done"}
    assert "pages/0001/refine" in summary.pages[0].error and "symlink" in summary.pages[0].error
    assert actions(summary, 1)["refine"] == "failed" and summary.exit_code == 2
    assert {p.name: p.read_bytes() for p in victim.iterdir()} == before


def test_a_mask_linked_from_outside_the_book_is_refused(make_book, tmp_path):
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(png_bytes((8, 8), (255, 255, 255)))
    book = write_small_book(make_book, pages=2)
    (book / "pages/0001/masks").mkdir()
    (book / "pages/0001/masks/hat.png").symlink_to(outside)

    _, findings = inspect_book(book)
    assert any(f.file == "pages/0001/masks/hat.png" and "outside" in f.message for f in findings)
    summary, renderer = run(book, keep_going=True)
    assert {p.page: p.status for p in summary.pages} == {1: "failed", 2: "done"}
    assert "hat.png" in summary.pages[0].error and "outside the book" in summary.pages[0].error
    assert all(page == 2 for page, _ in renderer.calls)
