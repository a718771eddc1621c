"""Reading a vision model's reply: plain, fenced, chatty, broken, or the wrong shape."""

from __future__ import annotations

import json

import pytest

from artfarm.review.answers import AnswerProblem, PairwiseAnswer, VerdictAnswer, extract_json, parse_answer
from tests.doubles.ollama_server import verdict_json


@pytest.mark.parametrize("raw", [
    '{"better": "first", "reason": "x"}',
    '```json\n{"better": "first", "reason": "x"}\n```',
    '```\n{"better": "first", "reason": "x"}\n```',
    'I think {"better": "first", "reason": "x"} is my answer. {"other": 1}',
    'Thoughts: {not json} then {"better": "first", "reason": "x"}',
])
def test_the_first_usable_json_object_is_found(raw):
    assert parse_answer(raw, PairwiseAnswer) == PairwiseAnswer(better="first", reason="x")


def test_no_json_at_all_says_where_it_broke():
    with pytest.raises(AnswerProblem, match=r"not valid JSON \(Expecting value at line 1 column 1\)"):
        extract_json("I cannot judge this image.")


def test_wrong_shape_names_the_fields():
    data = json.loads(verdict_json())
    data["scores"]["anatomy"]["score"] = "high"
    del data["summary"]
    with pytest.raises(AnswerProblem) as err:
        parse_answer(json.dumps(data), VerdictAnswer)
    assert "scores.anatomy.score" in str(err.value) and "summary: Field required" in str(err.value)


def test_unknown_keys_break_the_schema():
    with pytest.raises(AnswerProblem, match="better2"):
        parse_answer('{"better": "first", "reason": "x", "better2": 1}', PairwiseAnswer)
