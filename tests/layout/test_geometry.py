import pytest

from artfarm.layout.geometry import cover, gutter_in, interior_page, spine_width_in


@pytest.mark.parametrize("pages, expected", [(24, 0.375), (150, 0.375), (151, 0.5), (300, 0.5), (301, 0.625), (700, 0.75), (701, 0.875)])
def test_gutter_grows_with_page_count(pages, expected):
    assert gutter_in(pages) == expected


def test_right_hand_page_bleeds_right_and_keeps_the_gutter_on_the_left():
    geo = interior_page(8.5, 8.5, 0.125, position=1, page_count=32)
    assert geo.side == "right"
    assert (geo.media.w / 72, geo.media.h / 72) == pytest.approx((8.625, 8.75))
    assert geo.trim.pdf_box() == pytest.approx((0, 9, 612, 621))
    assert geo.safe.x - geo.trim.x == pytest.approx(0.375 * 72)  # gutter, inside edge
    assert geo.trim.x1 - geo.safe.x1 == pytest.approx(0.375 * 72)


def test_left_hand_page_bleeds_left_and_a_thick_book_widens_the_gutter():
    geo = interior_page(8, 10, 0.125, position=2, page_count=400)
    assert geo.side == "left"
    assert geo.trim.pdf_box() == pytest.approx((9, 9, 9 + 576, 9 + 720))
    assert geo.trim.x1 - geo.safe.x1 == pytest.approx(0.625 * 72)  # inside edge is on the right
    assert geo.safe.x - geo.trim.x == pytest.approx(0.375 * 72)


@pytest.mark.parametrize("pages, paper, per_page", [(24, "white", 0.002252), (32, "cream", 0.0025),
                                                     (120, "premium-color", 0.002347), (500, "white", 0.002252)])
def test_cover_is_bleed_back_spine_front_bleed(pages, paper, per_page):
    geo = cover(8.5, 11, 0.125, pages, paper)
    spine = pages * per_page
    assert spine_width_in(pages, paper) == pytest.approx(spine)
    assert geo.media.w / 72 == pytest.approx(0.125 + 8.5 + spine + 8.5 + 0.125, abs=1e-9)
    assert geo.media.h / 72 == pytest.approx(11.25)
    assert geo.spine.w / 72 == pytest.approx(spine)
    assert geo.front.x1 / 72 == pytest.approx(geo.media.w / 72 - 0.125)
    assert geo.back_safe.contains(geo.barcode)
