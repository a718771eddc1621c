import pytest

from artfarm.layout.art import ArtPlacement, ArtSource, crop_to_fill, split_crop
from artfarm.layout.geometry import Rect


@pytest.mark.parametrize("size, target", [((3072, 4096), (621, 630)), ((4000, 1000), (300, 600)), ((1000, 1000), (1242, 630))])
def test_crop_keeps_the_target_aspect_and_stays_inside_the_image(size, target):
    left, top, right, bottom = crop_to_fill(*size, *target)
    assert (right - left) / (bottom - top) == pytest.approx(target[0] / target[1])
    assert left >= 0 and top >= 0 and right <= size[0] + 1e-9 and bottom <= size[1] + 1e-9
    assert right - left == pytest.approx(size[0]) or bottom - top == pytest.approx(size[1])  # as large as possible


def test_crop_follows_the_focal_point_until_the_edge():
    centred = crop_to_fill(3000, 1000, 1, 1)
    assert centred == pytest.approx((1000, 0, 2000, 1000))
    assert crop_to_fill(3000, 1000, 1, 1, (0.8, 0.5)) == pytest.approx((1900, 0, 2900, 1000))
    assert crop_to_fill(3000, 1000, 1, 1, (1.0, 0.5)) == pytest.approx((2000, 0, 3000, 1000))
    assert crop_to_fill(3000, 1000, 1, 1, (0.0, 0.5)) == pytest.approx((0, 0, 1000, 1000))


def test_a_spread_splits_at_the_middle():
    left, right = split_crop((100, 0, 2100, 1000), 0.5)
    assert left == (100, 0, 1100, 1000) and right == (1100, 0, 2100, 1000)


def test_effective_ppi_and_clipping_to_the_trim():
    source = ArtSource(file="x.png", width=2000, height=2000)
    placement = ArtPlacement(source=source, crop=(0, 0, 2000, 2000), rect=Rect(x=0, y=0, w=720, h=720))
    assert placement.ppi == pytest.approx(200)
    inner = placement.clipped_to(Rect(x=72, y=0, w=648, h=648))
    assert inner.rect == Rect(x=72, y=0, w=648, h=648)
    assert inner.crop == pytest.approx((200, 200, 2000, 2000))
    assert inner.ppi == pytest.approx(200)
