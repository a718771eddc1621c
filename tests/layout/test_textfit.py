from pathlib import Path

import pytest

from artfarm.layout.fonts import load_fonts
from artfarm.layout.textfit import FittedText, Overflow, fit_text


@pytest.fixture(scope="module")
def face():
    return load_fonts("Andika", Path(".")).regular


def test_text_keeps_its_size_when_it_fits(face):
    fitted = fit_text("The bear slept.", face, 400, 100, size_pt=20, leading_pt=26, min_size_pt=14)
    assert isinstance(fitted, FittedText)
    assert fitted.size_pt == 20 and fitted.lines == ["The bear slept."]
    assert fitted.width_pt <= 400 and fitted.height_pt <= 100


def test_text_shrinks_and_wraps_with_proportional_leading(face):
    text = "Bruno the bear woke up early and looked for his friend in the snowy forest."
    fitted = fit_text(text, face, 200, 90, size_pt=20, leading_pt=26, min_size_pt=10)
    assert isinstance(fitted, FittedText)
    assert 10 <= fitted.size_pt < 20
    assert fitted.leading_pt == pytest.approx(26 * fitted.size_pt / 20)
    assert " ".join(fitted.lines) == text
    assert all(face.width(line, fitted.size_pt) <= 200 for line in fitted.lines)
    assert fitted.height_pt <= 90


def test_overflow_says_how_much_height_is_missing(face):
    result = fit_text("word " * 200, face, 200, 60, size_pt=20, leading_pt=26, min_size_pt=14)
    assert isinstance(result, Overflow)
    assert result.extra_height_in > 1
    assert "more height" in result.describe() and f"{result.extra_height_in:.2f} in" in result.describe()


def test_a_word_wider_than_the_box_is_named(face):
    result = fit_text("Supercalifragilistic", face, 40, 200, size_pt=20, leading_pt=26, min_size_pt=14)
    assert isinstance(result, Overflow)
    assert "Supercalifragilistic" in result.describe()
