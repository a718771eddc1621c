"""Text in any script: each character's font (the main font, then the fallbacks), bidi order, HarfBuzz shaping.

A line is split into runs of one bidi level and one font, each run is shaped by HarfBuzz
(uharfbuzz: Arabic joins, marks sit on their letters, ligatures form) and the runs are put in
visual order by the Unicode bidi algorithm (python-bidi). The shaped runs are ReportLab
``ShapedStr`` objects, which ReportLab's canvas draws glyph by glyph with HarfBuzz's positions.
Widths for text-fit and placement come from the same shaping, so what is measured is what is drawn.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import uharfbuzz
from bidi import algorithm as bidi
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import ShapeData, ShapedStr

from artfarm.layout.fonts import FontFace, face_named

RTL_LANGUAGES = frozenset({"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks", "ps", "sd", "syr", "ug", "ur", "yi"})
RTL_SCRIPTS = frozenset({"Arab", "Hebr", "Syrc", "Thaa", "Nkoo", "Adlm", "Rohg", "Samr", "Mand"})
_STAY_WITH_RUN = ("Z", "P", "M", "C", "N")  # spaces, punctuation, marks, controls, digits keep the run's font
_SHAPE_UNIT = 1000.0  # shaped widths are kept per 1000 pt and scaled


def is_rtl(language: str) -> bool:
    """A BCP 47 tag's direction: a script subtag decides (ar-Latn is LTR), else the language."""
    parts = language.split("-")
    if len(parts) > 1 and len(parts[1]) == 4:
        return parts[1].title() in RTL_SCRIPTS
    return parts[0].lower() in RTL_LANGUAGES


def needs_glyph(char: str) -> bool:
    """Whether a character is drawn: controls, format characters, variation selectors and line breaks are not."""
    code = ord(char)
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return False
    return unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp") and char not in "\n\r\t"


def missing_chars(text: str, faces: tuple[FontFace, ...]) -> list[str]:
    """The distinct characters of ``text`` that no face has a glyph for, in order of first use."""
    out: list[str] = []
    for char in text:
        if char not in out and needs_glyph(char) and not any(face.has(char) for face in faces):
            out.append(char)
    return out


def describe_chars(chars: list[str]) -> str:
    """'你 (U+4F60), 好 (U+597D)' - the characters as themselves and as code points."""
    return ", ".join(f"{c} (U+{ord(c):04X})" for c in chars)


@dataclass(frozen=True)
class Run:
    """One font's glyphs in visual order, ready for canvas.drawString."""

    font: str
    glyphs: ShapedStr
    width: float  # per 1000 pt of size


@dataclass(frozen=True)
class Typeset:
    """The faces a text is set in (main first, then the fallbacks it uses) and its direction."""

    faces: tuple[FontFace, ...]
    rtl: bool = False

    @property
    def name(self) -> str:
        return self.faces[0].name

    @property
    def names(self) -> list[str]:
        return [face.name for face in self.faces]

    @property
    def ascent(self) -> float:
        return max(face.ascent for face in self.faces)

    @property
    def descent(self) -> float:
        return max(face.descent for face in self.faces)

    def width(self, text: str, size: float) -> float:
        return sum(run.width for run in self.runs(text)) * size / _SHAPE_UNIT

    def runs(self, line: str) -> tuple[Run, ...]:
        return _shape_line(tuple(self.names), self.rtl, line)


def typeset(faces: tuple[FontFace, ...], rtl: bool, text: str) -> Typeset:
    """The main face and the fallbacks ``text`` needs (so unused fallbacks do not change the line height)."""
    used = {_face_for(c, faces, None).name for c in text if needs_glyph(c)}
    return Typeset(faces=(faces[0], *(f for f in faces[1:] if f.name in used)), rtl=rtl)


def from_names(names: list[str], rtl: bool) -> Typeset:
    """A plan's recorded fonts back as a Typeset (the drawing side)."""
    return Typeset(faces=tuple(face_named(n) for n in names), rtl=rtl)


def _face_for(char: str, faces: tuple[FontFace, ...], previous: FontFace | None) -> FontFace:
    if previous is not None and unicodedata.category(char)[0] in _STAY_WITH_RUN and (previous.has(char) or not needs_glyph(char)):
        return previous
    return next((face for face in faces if face.has(char)), previous or faces[0])


def bidi_levels(line: str, rtl: bool) -> list[int]:
    """The resolved embedding level of each character (Unicode bidi algorithm, rules up to I2)."""
    storage = bidi.get_empty_storage()
    storage["base_level"] = 1 if rtl else 0
    storage["base_dir"] = "R" if rtl else "L"
    bidi.get_embedding_levels(line, storage)
    for index, char in enumerate(storage["chars"]):
        char["index"] = index
    bidi.explicit_embed_and_overrides(storage, False)
    bidi.resolve_weak_types(storage, False)
    bidi.resolve_neutral_types(storage, False)
    bidi.resolve_implicit_levels(storage, False)
    levels: list[int | None] = [None] * len(line)
    for char in storage["chars"]:
        levels[char["index"]] = char["level"]
    out, last = [], storage["base_level"]  # characters rule X9 removed (joiners) take their neighbour's level
    for level in levels:
        last = level if level is not None else last
        out.append(last)
    return out


@lru_cache(maxsize=4096)
def _shape_line(names: tuple[str, ...], rtl: bool, line: str) -> tuple[Run, ...]:
    faces = tuple(face_named(n) for n in names)
    levels = bidi_levels(line, rtl)
    logical: list[tuple[int, FontFace, str]] = []
    face = None
    for char, level in zip(line, levels):
        face = _face_for(char, faces, face)
        if logical and logical[-1][0] == level and logical[-1][1] is face:
            logical[-1] = (level, face, logical[-1][2] + char)
        else:
            logical.append((level, face, char))
    shaped = [(level, _shape(face.name, text, level % 2 == 1)) for level, face, text in logical]
    return tuple(run for _, run in _visual_order(shaped))


def _visual_order(runs: list[tuple[int, Run]]) -> list[tuple[int, Run]]:
    """Rule L2: from the highest level down to the lowest odd one, reverse each sequence at that level or higher."""
    if not runs:
        return runs
    runs = list(runs)
    lowest_odd = min(level for level, _ in runs) | 1
    for level in range(max(level for level, _ in runs), lowest_odd - 1, -1):
        i = 0
        while i < len(runs):
            if runs[i][0] >= level:
                j = i
                while j < len(runs) and runs[j][0] >= level:
                    j += 1
                runs[i:j] = runs[i:j][::-1]
                i = j
            else:
                i += 1
    return runs


def _shape(font_name: str, text: str, rtl: bool) -> Run:
    """HarfBuzz glyphs for one run, as ReportLab's ShapedStr; glyphs without a character get a private code."""
    font = pdfmetrics.getFont(font_name)
    hb_font = font.hbFont(_SHAPE_UNIT)
    buf = uharfbuzz.Buffer()
    buf.cluster_level = uharfbuzz.BufferClusterLevel.MONOTONE_CHARACTERS
    buf.add_str(text)
    buf.direction = "rtl" if rtl else "ltr"
    buf.guess_segment_properties()
    uharfbuzz.shape(hb_font, buf, {"kern": True, "liga": True})
    starts = sorted({info.cluster for info in buf.glyph_infos} | {len(text)})
    chars, data, width = [], [], 0.0
    for info, pos in zip(buf.glyph_infos, buf.glyph_positions):
        advance = font.pdfScale(pos.x_advance)
        to_char = font.face.glyphToChar.get(info.codepoint)
        if to_char:
            code = to_char[0]
        else:
            code = font.hbAddPrivate(hb_font.glyph_to_string(info.codepoint), info.codepoint, advance)
            end = next(s for s in starts if s > info.cluster)
            font.actual_text.setdefault(code, text[info.cluster:end])
        chars.append(chr(code))
        data.append(ShapeData(info.cluster, advance, font.pdfScale(pos.y_advance), font.pdfScale(pos.x_offset),
                              font.pdfScale(pos.y_offset), font.face.charWidths.get(code, advance)))
        width += advance
    return Run(font=font_name, glyphs=ShapedStr("".join(chars), shapeData=data), width=width)


def draw_line(canvas, typeset_: Typeset, x: float, y: float, line: str, size: float) -> None:
    """Draw one line's runs left to right from ``x`` on baseline ``y``."""
    for run in typeset_.runs(line):
        canvas.setFont(run.font, size)
        canvas.drawString(x, y, run.glyphs)
        x += run.width * size / _SHAPE_UNIT
