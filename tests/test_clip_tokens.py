"""Prompt token counts as CLIP's tokenizer makes them, and the warning about the 75-token chunk.

The pinned counts were taken from the tokenizer ComfyUI runs (transformers' CLIPTokenizer on
ComfyUI 0.3.75's sd1_tokenizer); tests/comfyui/test_clip_tokens_real.py checks them live."""

from __future__ import annotations

import json

import pytest

from artfarm.prompts.clip_tokens import count_tokens, overflow
from artfarm.prompts.compile import chunk_warnings, compile_prompt
from tests.bookbuilder import default_book

SAMPLES = {
    "a tiny gingerbread boy tumbles out of a hollow log into the snow": 14,
    "Bruno's   red scarf, it's 1234 o'clock!!": 15,
    "café naïve résumé, über-cute fox": 13,
    "emoji 🐻🍪 and 中文 text 小熊在雪地里玩耍": 29,
    "watercolor_whimsy, soft edges; (masterpiece:1.2)": 15,
    "&amp; html &lt;tags&gt;": 11,
    "snake_case_words and CamelCaseWords, x2 4x-UltraSharp": 17,
    "a\nnew\tline": 3,
    "Ωμέγα ДОМ ß straße İstanbul": 23,
    "עברית ערבית مرحبا": 25,
    "ｆｕｌｌ ｗｉｄｔｈ ＡＢＣ １２３": 45,
    "e\u0301 combining": 2,
    "¿qué? ¡sí! — “quotes” ‘single’ …": 20,
}


@pytest.mark.parametrize("text", sorted(SAMPLES))
def test_counts_match_clips_tokenizer(text):
    assert count_tokens(text) == SAMPLES[text]


def test_overflow_names_the_terms_that_end_past_the_first_chunk():
    terms = ["cat"] * 40  # one token each, and one for each comma: 40 + 39 = 79 tokens
    total, past = overflow(terms)
    assert total == 79
    assert len(past) == 2  # the 38th term ends at token 75; the 39th and 40th spill over
    assert overflow(terms[:38])[1] == [] and overflow(terms[:38])[0] == 75


def _spec(**changes):
    spec = {"book_id": "testbook", "page": 1, "intent": "illustration", "scene": "the bear naps under a pine",
            "characters": [{"id": "bear", "pose": "sleeping", "emotion": "calm"}],
            "camera": {"shot": "wide", "angle": "eye-level", "lens": ""},
            "environment": {"time": "night", "weather": "", "location": "forest"},
            "constraints": [], "style_pack": "watercolor_whimsy_v1", "seed": 1}
    spec.update(changes)
    return spec


def test_prompts_are_subject_first_and_warn_past_75_tokens(make_book):
    from artfarm.book.loader import load_book

    long_scene = "a very long scene " + ", ".join(f"detail number {n}" for n in range(30))
    book_dir = make_book(book=default_book(pages=2), specs={1: _spec(), 2: _spec(page=2, scene=long_scene)})
    book = load_book(book_dir)
    short = compile_prompt(book.specs[1], book.characters, book.style_packs["watercolor_whimsy_v1"].pack)
    pack_terms = book.style_packs["watercolor_whimsy_v1"].pack.positive
    assert short.positive_terms[0] == "the bear naps under a pine"
    assert short.positive_terms[1].startswith("Bruno")  # the character right after the scene
    assert short.positive_terms[-len(pack_terms):] == pack_terms  # style blocks last
    assert short.positive_tokens == count_tokens(short.positive) and not short.past_first_chunk
    assert chunk_warnings(short) == []

    long = compile_prompt(book.specs[2], book.characters, book.style_packs["watercolor_whimsy_v1"].pack)
    assert long.positive_tokens > 75 and long.past_first_chunk["positive"][-1] == pack_terms[-1]
    assert "CLIP tokens" in chunk_warnings(long)[0]


def test_validate_and_prompt_warn_about_the_chunk(make_book, capsys):
    from artfarm.cli.main import main

    long_scene = "a very long scene " + ", ".join(f"detail number {n}" for n in range(30))
    make_book(book=default_book(pages=1), specs={1: _spec(scene=long_scene)})
    assert main(["validate", "testbook", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [warning] = [f for f in report["findings"] if "CLIP tokens" in f["message"]]
    assert warning["file"] == "pages/0001/renderspec.json" and "more" in warning["message"]
    assert main(["prompt", "testbook", "1"]) == 0
    out = capsys.readouterr().out
    assert "warning: the positive prompt is" in out and "past the first 75" in out
