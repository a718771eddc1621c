"""Fit a page's text into its box: wrap at word boundaries, shrink from the set size to the minimum.

Widths are those of the shaped text in its fonts (shaping.Typeset), so Arabic joined forms,
ligatures and fallback fonts are measured as they will be drawn.

The leading shrinks with the size so the typography keeps its proportions. When even the
minimum size does not fit, the error names the page and how much is left over.
"""

from __future__ import annotations

from dataclasses import dataclass

from artfarm.layout.shaping import Typeset
from artfarm.layout.geometry import inches
from artfarm.models.base import StrictModel

SIZE_STEP_PT = 0.5


class FittedText(StrictModel):
    lines: list[str]
    size_pt: float
    leading_pt: float
    width_pt: float   # widest line
    height_pt: float  # ascent of the first line to descent of the last


@dataclass(frozen=True)
class Overflow:
    """Why text did not fit at the minimum size, in the units a person can act on."""

    extra_height_in: float
    widest_word: str | None
    lines: int
    box_lines: int

    def describe(self) -> str:
        if self.widest_word is not None:
            return f"the word {self.widest_word!r} is wider than the text box"
        return (f"it needs {self.extra_height_in:.2f} in more height ({self.lines} lines at the minimum size, "
                f"the box holds {self.box_lines})")


def wrap(text: str, face: Typeset, size: float, width: float) -> tuple[list[str], str | None]:
    """Greedy word wrap; paragraphs (newlines) are kept. Returns the lines and a word too wide for any line."""
    lines: list[str] = []
    too_wide = None
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            if face.width(word, size) > width and too_wide is None:
                too_wide = word
            trial = f"{current} {word}" if current else word
            if current and face.width(trial, size) > width:
                lines.append(current)
                current = word
            else:
                current = trial
        lines.append(current)
    while lines and not lines[-1]:
        lines.pop()
    return lines, too_wide


def block_height(face: Typeset, size: float, leading: float, n_lines: int) -> float:
    return 0.0 if n_lines == 0 else face.ascent * size + (n_lines - 1) * leading + face.descent * size


def fit_text(text: str, face: Typeset, box_w: float, box_h: float, *, size_pt: float, leading_pt: float,
             min_size_pt: float) -> FittedText | Overflow:
    """The largest size from ``size_pt`` down to ``min_size_pt`` at which the text fits the box."""
    size = size_pt
    while True:
        leading = leading_pt * size / size_pt
        lines, too_wide = wrap(text, face, size, box_w)
        height = block_height(face, size, leading, len(lines))
        if too_wide is None and height <= box_h:
            return FittedText(lines=lines, size_pt=size, leading_pt=leading, height_pt=height,
                              width_pt=max((face.width(line, size) for line in lines), default=0.0))
        if size <= min_size_pt + 1e-9:
            fits = max(0, int((box_h - (face.ascent + face.descent) * size) // leading) + 1) if box_h > 0 else 0
            return Overflow(extra_height_in=max(0.0, inches(height - box_h)), widest_word=too_wide,
                            lines=len(lines), box_lines=fits)
        size = max(min_size_pt, size - SIZE_STEP_PT)
