import pytest

from artfarm.book.loader import load_book
from artfarm.layout.export import _art_sources, _palette
from artfarm.layout.fonts import load_fonts
from artfarm.layout.coverplan import plan_cover
from artfarm.layout.plan import PlanContext


@pytest.mark.parametrize("pages, paper, has_text", [(24, "white", False), (96, "cream", False), (200, "white", True),
                                                     (160, "premium-color", True)])
def test_spine_text_only_when_the_spine_is_wide_enough(layout_book, pages, paper, has_text):
    book_dir = layout_book(pages=2, art=False, layout={"paper": paper}, cover={"back_text": "A long story. " * 12})
    loaded = load_book(book_dir)
    ctx = PlanContext(book=loaded.book, book_dir=loaded.root, fonts=load_fonts("Andika", loaded.root),
                      palette=_palette(loaded), sources=_art_sources(loaded, placeholders=True))
    plan = plan_cover(ctx, pages)
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
