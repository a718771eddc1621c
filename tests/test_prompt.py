"""Prompt compilation: deterministic, ordered, de-duplicated, text kept out of the art."""

from __future__ import annotations

import json

import pytest

from artfarm.book.loader import load_book
from artfarm.cli.main import main
from artfarm.models.characters import CharacterBible
from artfarm.models.renderspec import RenderSpec
from artfarm.prompts.compile import ALWAYS_NEGATIVE, TEXT_WORDS, compile_prompt, constraint_terms
from artfarm.resources import builtin_dir
from artfarm.stylepacks import load as load_pack
from tests.bookbuilder import default_characters, default_spec

PACK = load_pack("watercolor_whimsy_v1")[0].pack
BIBLE = CharacterBible.model_validate(default_characters())


def spec(**changes):
    return RenderSpec.model_validate(default_spec(1, **changes))


def test_same_input_same_prompt():
    assert compile_prompt(spec(), BIBLE, PACK) == compile_prompt(spec(), BIBLE, PACK)


def test_order_subject_first_then_camera_then_style():
    p = compile_prompt(spec(), BIBLE, PACK).positive_terms
    assert p[0] == spec().scene
    assert p[1] == "Bruno, a big brown bear with a red scarf, sitting, calm"
    assert p.index("wide shot") < p.index("children's picture book illustration")
    assert p[-len(PACK.positive):] == PACK.positive


def test_no_duplicate_terms():
    s = spec(constraints=["no text", "no text", "watercolor illustration", "Watercolor Illustration"])
    c = compile_prompt(s, BIBLE, PACK)
    for terms in (c.positive_terms, c.negative_terms):
        folded = [t.casefold() for t in terms]
        assert len(folded) == len(set(folded))


def test_no_text_adds_text_terms_to_the_negative():
    c = compile_prompt(spec(constraints=["no text or signage"]), BIBLE, PACK)
    for word in ("text", "letters", "watermark", "signage"):
        assert word in c.negative_terms
    assert "no text or signage" not in c.positive


def test_text_terms_are_negative_even_without_a_constraint():
    c = compile_prompt(spec(constraints=[]), BIBLE, PACK)
    assert set(ALWAYS_NEGATIVE) <= set(c.negative_terms)


@pytest.mark.parametrize("rule,phrase", [("two characters", "exactly two characters"),
                                         ("exactly 3 characters", "exactly three characters"),
                                         ("only one character", "exactly one character")])
def test_character_count_becomes_exactly_n(rule, phrase):
    assert phrase in compile_prompt(spec(constraints=[rule]), BIBLE, PACK).positive_terms


def test_cast_size_gives_the_count_even_without_a_rule():
    s = spec(characters=[{"id": "bear"}, {"id": "ginger"}], constraints=[])
    assert "exactly two characters" in compile_prompt(s, BIBLE, PACK).positive_terms


def test_text_never_enters_the_positive_prompt():
    rules = ["calm space at the top for the text", "a shop sign with letters", "kid-friendly", "no words"]
    c = compile_prompt(spec(constraints=rules), BIBLE, PACK)
    added = c.positive_terms[len(PACK.positive):]
    scene_free = [t for t in added if t != spec().scene]
    assert not any(TEXT_WORDS.search(t) for t in scene_free)
    assert "calm uncluttered area at the top" in c.positive_terms
    assert c.dropped_constraints == ["a shop sign with letters"]


@pytest.mark.parametrize("text", ['a "quoted" bear\\ with {braces}', "{{SEED}} and __PROMPT__ stay", "Björn 🐻 écrit: «ça»",
                                  "line\nbreak", "%s %(x)s $HOME ${x}"])
def test_user_text_comes_out_exactly_as_written(text):
    c = compile_prompt(spec(scene=text), BIBLE, PACK)
    assert text in c.positive_terms
    assert text in c.positive


def test_negation_splits_into_negative_terms():
    assert constraint_terms("no people, cars or dogs") == ([], ["people", "cars", "dogs"], True)


def test_prompt_for_every_page_of_the_example_book():
    book = load_book(builtin_dir("books") / "gingerbear_01")
    assert sorted(book.specs) == list(range(13))
    for page, s in book.specs.items():
        c = compile_prompt(s, book.characters, book.style_packs[s.style_pack].pack)
        assert s.scene in c.positive
        assert "text" in c.negative_terms
        for cast in s.characters:
            assert book.characters.by_id()[cast.id].look in c.positive
    cover = compile_prompt(book.specs[0], book.characters, book.style_packs["watercolor_whimsy_v1"].pack)
    assert "picture book cover illustration" in cover.positive_terms
    assert "exactly two characters" in cover.positive_terms


def test_prompt_command_prints_both_prompts(capsys):
    books = str(builtin_dir("books"))
    assert main(["prompt", "gingerbear_01", "3", "--books", books]) == 0
    out = capsys.readouterr().out
    assert out.startswith("positive (") and "CLIP tokens): a tiny gingerbread boy tumbles" in out and "\nnegative (" in out
    assert main(["prompt", "gingerbear_01", "3", "--books", books, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "tiny gingerbread boy tumbles" in data["positive"]


def test_prompt_for_a_page_without_renderspec_is_bad_input(capsys):
    assert main(["prompt", "gingerbear_01", "40", "--books", str(builtin_dir("books"))]) == 2
    assert "page 40 has no RenderSpec" in capsys.readouterr().err


def test_prompt_for_an_invalid_page_prints_its_problems(make_book, capsys):
    book = make_book(specs={1: default_spec(1, characters=[{"id": "wolf"}]), 2: default_spec(2)})
    assert main(["prompt", str(book), "1"]) == 2
    assert "'wolf' is not in bible/characters.yaml" in capsys.readouterr().err


def test_an_explicit_count_rule_replaces_the_cast_size_instead_of_contradicting_it():
    s = spec(characters=[{"id": "bear"}, {"id": "ginger"}], constraints=["exactly three characters"])
    terms = compile_prompt(s, BIBLE, PACK).positive_terms
    assert "exactly three characters" in terms and "exactly two characters" not in terms
