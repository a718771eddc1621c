import pytest

from artfarm.layout.coverplan import plan_cover
from tests.layout.conftest import plan_context


def cover_plan(book_dir, pages, printer="generic"):
    return plan_cover(plan_context(book_dir, printer), pages)


@pytest.mark.parametrize("pages, paper, has_text", [(24, "white", False), (96, "cream", False), (200, "white", True),
                                                     (160, "premium-color", True)])
def test_spine_text_only_when_the_spine_is_wide_enough(layout_book, pages, paper, has_text):
    book_dir = layout_book(pages=2, art=False, layout={"paper": paper}, cover={"back_text": "A long story. " * 12})
    plan = cover_plan(book_dir, pages)
    assert (plan.spine_text is not None) is has_text
    if has_text:
        block, spine = plan.spine_text.block, plan.spine
        assert block.x - spine.x >= 0.0625 * 72 - 1e-6 and spine.x1 - block.x1 >= 0.0625 * 72 - 1e-6
        assert spine.contains(block)
    else:
        assert "too narrow" in plan.spine_note
    assert plan.width_in == pytest.approx(2 * 0.125 + 2 * 4 + plan.spine_width_in)
    overlap = plan.back_text.block.intersect(plan.barcode)
    assert overlap.w * overlap.h == 0  # the barcode area stays clear
    assert plan.back.contains(plan.barcode)


@pytest.mark.parametrize("printer, pages, note", [("kdp", 60, "kdp prints spine text only from 79 pages"),
                                                  ("ingramspark", 40, "only from 48 pages")])
def test_a_printer_draws_spine_text_only_from_its_page_count(layout_book, printer, pages, note):
    book_dir = layout_book(pages=2, art=False, layout={"trim": "6x6"})
    plan = cover_plan(book_dir, pages, printer)
    assert plan.spine_text is None and note in plan.spine_note
    assert cover_plan(book_dir, 200, printer).spine_text is not None


def test_ingramspark_keeps_half_an_inch_from_the_trim(layout_book):
    book_dir = layout_book(pages=2, art=False, layout={"trim": "6x6"}, cover={"back_text": "A tale. " * 8})
    plan = cover_plan(book_dir, 24, "ingramspark")
    assert plan.back.inset(36, 36, 36, 36).contains(plan.back_text.block)
    front_inner = plan.front.inset(36, 36, 36, 36)
    assert front_inner.contains(plan.title.block) and front_inner.contains(plan.author.block)
