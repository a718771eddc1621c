import numpy as np
import pytest

from artfarm.layout import autoplace


def test_wcag_contrast_of_black_on_white_is_21():
    black, white = autoplace.relative_luminance(np.array([0, 0, 0])), autoplace.relative_luminance(np.array([255, 255, 255]))
    assert autoplace.contrast_ratio(black, white) == pytest.approx(21.0)
    grey = autoplace.relative_luminance(np.array([0x76, 0x76, 0x76]))
    assert autoplace.contrast_ratio(grey, white) == pytest.approx(4.54, abs=0.01)  # the WCAG AA reference grey


def test_detail_ranks_a_checkerboard_above_a_gradient():
    y, x = np.mgrid[0:64, 0:64]
    gradient = np.stack([x * 2, y * 2, np.full_like(x, 100)], axis=-1).astype(np.uint8)
    checks = np.where((((x // 4) + (y // 4)) % 2)[..., None] == 1, 0, 255).repeat(3, axis=2).astype(np.uint8)
    assert autoplace.detail(checks) > 10 * autoplace.detail(gradient)


def test_worst_contrast_counts_the_dark_part_of_a_mixed_background():
    half = np.zeros((10, 10, 3), np.uint8)
    half[:, :5] = 255
    assert autoplace.worst_contrast("#222222", half) < 1.5


def test_panel_from_the_palette_reaches_readable_contrast_over_dark_art():
    dark = np.full((8, 8, 3), 40, np.uint8)
    panel = autoplace.choose_panel("#222222", dark, ["#F2C14E", "#3B5BA5"])
    assert panel.contrast >= autoplace.MIN_CONTRAST
    r, g, b = autoplace.hex_to_rgb(panel.colour)
    assert r > g > b  # a tint of the warm palette colour, not plain white
