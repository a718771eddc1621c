"""Finals reach the print size (trim + bleed at 300 ppi); drafts come in the page's shape."""

from __future__ import annotations

from PIL import Image

from artfarm.models.book import Book
from artfarm.pipeline.sizes import draft_size, half_print, print_px
from tests.pipeline_helpers import run, small_book_data, small_spec, write_small_book


def test_print_size_is_trim_plus_bleed_at_300_ppi():
    book = Book(title="t", author="a", style_pack="p", layout={"trim": "8.5x8.5", "bleed_in": 0.125},
                pages=[{"page": 1}, {"page": 2, "spread": True}, {"page": 3}])
    assert print_px(book, 1) == (2625, 2625)
    assert print_px(book, 2) == (5175, 2625)  # a spread is two trims wide
    assert half_print((2625, 2625)) == (1320, 1320)  # a 2x upscale of this reaches 2640 >= 2625


def test_draft_size_keeps_the_tier_area_in_the_page_shape():
    assert draft_size(768, 768, (2625, 2625), None, None) == (768, 768)
    width, height = draft_size(768, 768, (5175, 2625), None, None)
    assert width % 8 == height % 8 == 0 and abs(width / height - 5175 / 2625) < 0.05
    assert abs(width * height - 768 * 768) / (768 * 768) < 0.05
    assert draft_size(768, 768, (2625, 2625), 512, None) == (512, 512)


def test_finals_of_cover_pages_and_spreads_reach_print_size(make_book):
    book_data = small_book_data(3)
    book_data["pages"][1]["spread"] = True  # pages 2-3 are one picture
    spread = small_spec(2)
    del spread["overrides"]
    book = write_small_book(make_book, book=book_data, specs={0: small_spec(0, intent="cover"), 1: small_spec(1), 2: spread})
    summary, _ = run(book)
    assert [p.page for p in summary.pages] == [0, 1, 2] and summary.done == 3
    sizes = {n: Image.open(book / f"pages/{n:04d}/final/final.png").size for n in (0, 1, 2)}
    assert sizes[0][0] >= 450 and sizes[0][1] >= 450 and sizes[1][0] >= 450
    assert sizes[2][0] >= 900 and sizes[2][1] >= 450
    with Image.open(book / "pages/0002/draft/draft_00.png") as draft:
        assert abs(draft.width / draft.height - 2.0) < 0.05
