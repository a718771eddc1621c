"""Shared fixtures for the reviewer tests: a scripted Ollama double and a page's ReviewContext."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from artfarm.book.loader import load_book
from artfarm.fsio import sha256_file
from artfarm.ollama.client import OllamaClient, OllamaTimeouts
from artfarm.prompts.compile import compile_prompt
from artfarm.review.base import Candidate, ReviewContext
from tests.bookbuilder import png_bytes
from tests.doubles.ollama_server import OllamaDouble

MODEL = "qwen2.5vl:7b"
FAST = OllamaTimeouts(connect=2.0, quick=2.0, chat=0.5)


@pytest.fixture
def ollama():
    """A running Ollama double with the book's default vision model pulled."""
    with OllamaDouble() as fake:
        fake.pull(MODEL)
        yield fake


@pytest.fixture
def client(ollama):
    with OllamaClient(ollama.url, timeouts=FAST) as c:
        yield c


def make_context(book_dir: Path, page: int = 1, placement: str = "top") -> ReviewContext:
    book = load_book(book_dir)
    spec = book.require_spec(page)
    pack = book.style_packs[spec.style_pack]
    return ReviewContext(book=book, page=page, spec=spec, pack=pack,
                         prompt=compile_prompt(spec, book.characters, pack.pack), text_placement=placement,
                         page_dir=book.page_dir(page))


def write_candidates(ctx: ReviewContext, colours: list[tuple[int, int, int]], size=(1536, 1024)) -> list[Candidate]:
    out = []
    for i, colour in enumerate(colours):
        path = ctx.page_dir / "draft" / f"draft_{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, colour).save(path)
        out.append(Candidate(index=i, path=path, seed=500 + i, sha256=sha256_file(path)))
    return out


@pytest.fixture
def page_ctx(make_book):
    """Page 1 of a book whose bear has a reference picture in the bible."""
    characters = {"characters": [{"id": "bear", "name": "Bruno", "look": "a big brown bear with a red scarf",
                                  "refs": ["bible/character_refs/bear/front.png"]}]}
    book_dir = make_book(characters=characters,
                         files={"bible/character_refs/bear/front.png": png_bytes((800, 600), (120, 80, 40))})
    return make_context(book_dir)
