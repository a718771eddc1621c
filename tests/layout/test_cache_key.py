"""Every input that shapes the PDFs changes the export's cache key."""

import pytest

from artfarm.fsio import sha256_json
from artfarm.layout.art import ArtSource, PlaceholderSpec
from artfarm.layout.export import layout_key_inputs
from artfarm.layout.printers import load_profile
from artfarm.models.book import Book

BOOK = {"title": "T", "author": "A", "style_pack": "watercolor_whimsy_v1", "pages": [{"page": 1, "text": "Hi."}]}
SOURCES = {0: ArtSource(file="pages/0000/final/final.png", sha256="a" * 64, width=10, height=10),
           1: ArtSource(file="pages/0001/final/final.png", sha256="b" * 64, width=10, height=10)}


def key(book=None, palette=("#F2C14E",), fonts=("f" * 64, "g" * 64), sources=None, printer="generic"):
    return sha256_json(layout_key_inputs(Book.model_validate(book or BOOK), list(palette), list(fonts), sources or SOURCES,
                                         load_profile(printer)))


@pytest.mark.parametrize("change", [
    {"title": "T2"}, {"subtitle": "S"}, {"author": "B"}, {"language": "fr"},
    {"layout": {"trim": "8x10"}}, {"layout": {"bleed_in": 0.25}}, {"layout": {"paper": "cream"}},
    {"layout": {"typography": {"size_pt": 22}}}, {"layout": {"typography": {"colour": "#000000"}}},
    {"layout": {"default_placement": "top"}}, {"layout": {"printer": "kdp"}}, {"layout": {"default_art": "framed"}},
    {"cover": {"back_text": "Blurb"}}, {"pages": [{"page": 1, "text": "Hello."}]},
    {"pages": [{"page": 1, "text": "Hi.", "focal": [0.2, 0.5]}]},
])
def test_book_settings_change_the_key(change):
    assert key({**BOOK, **change}) != key()


def test_render_settings_do_not_change_the_key():
    assert key({**BOOK, "render": {"renderer": "comfyui"}}) == key()


def test_palette_fonts_and_art_change_the_key():
    assert key(palette=("#000000",)) != key()
    assert key(fonts=("e" * 64, "g" * 64)) != key()
    changed = {**SOURCES, 1: SOURCES[1].model_copy(update={"sha256": "c" * 64})}
    assert key(sources=changed) != key()
    placeholder = {**SOURCES, 1: ArtSource(placeholder=PlaceholderSpec(label="page 1", width=10, height=10, seed=1),
                                            width=10, height=10)}
    assert key(sources=placeholder) != key()


@pytest.mark.parametrize("printer", ["kdp", "ingramspark"])
def test_the_printer_flag_changes_the_key(printer):
    assert key(printer=printer) != key()
