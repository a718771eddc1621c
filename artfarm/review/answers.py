"""What the vision model must answer (JSON Schemas sent as Ollama's ``format``), and reading its replies.

Models do not always obey the schema: a reply may be fenced in ```json, wrapped in chat,
or valid JSON of the wrong shape. ``parse_answer`` recovers the first JSON object it can
find and validates it; ``ask`` retries a bounded number of times, quoting the problem back.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, TypeVar

from pydantic import Field, ValidationError, create_model

from artfarm.errors import RunError
from artfarm.models.base import StrictModel
from artfarm.models.loop import LoopChanges
from artfarm.models.review import ReviewAnswer
from artfarm.ollama.client import OllamaClient
from artfarm.ollama.models import ChatMessage, ChatOptions, ChatRequest
from artfarm.review.criteria import CRITERIA

T = TypeVar("T", bound=StrictModel)
FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


class CriterionAnswer(StrictModel):
    score: int = Field(ge=0, le=10)
    reason: str = Field(max_length=400)


VerdictScores = create_model("VerdictScores", __base__=StrictModel,
                             **{name: (CriterionAnswer, ...) for name in CRITERIA})


class DefectAnswer(StrictModel):
    label: str = Field(max_length=120)
    box: list[float] = Field(min_length=4, max_length=4, description="x0, y0, x1, y1 in pixels of image 1.")
    fix_prompt: str = Field(max_length=300)
    severity: Literal["minor", "major"]


class SameCharacterAnswer(StrictModel):
    character: str = Field(max_length=80, description="The character's id, as given in the brief.")
    same: bool = Field(description="True when image 1 shows the same character as its reference sheet.")
    reason: str = Field(max_length=300)


class VerdictAnswer(StrictModel):
    scores: VerdictScores  # type: ignore[valid-type]
    defects: list[DefectAnswer] = Field(max_length=8)
    same_character: list[SameCharacterAnswer] = Field(default_factory=list, max_length=8,
                                                      description="One per character with a reference sheet.")
    summary: str = Field(max_length=600)


class PairwiseAnswer(StrictModel):
    better: Literal["first", "second"]
    reason: str = Field(max_length=600)


class CritiqueAnswer(VerdictAnswer):
    done: bool
    changes: LoopChanges
    composition_wrong: bool = Field(description="True only when the layout itself is wrong and a new composition is needed.")
    reason: str = Field(max_length=600)


class AnswerProblem(ValueError):
    """A reply that could not be used, with a message fit to quote back to the model."""


class AnswerUnusable(RunError):
    """The model broke the format on every attempt; carries every raw reply."""

    def __init__(self, what: str, answers: list[ReviewAnswer], *, where: str | None = None):
        super().__init__(what, where=where, fix="try another vision model (book.yaml models.vlm), or pass --review-fallback heuristic")
        self.answers = answers


def extract_json(raw: str) -> Any:
    """The JSON in a reply: the whole text, else a fenced block, else the first object that parses."""
    text = raw.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as first:
        error = first
    for block in FENCE.findall(text):
        try:
            return json.loads(block.strip())
        except json.JSONDecodeError as exc:
            error = exc
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise AnswerProblem(f"the reply is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})")


def parse_answer(raw: str, model: type[T]) -> T:
    data = extract_json(raw)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors()[:6])
        raise AnswerProblem(f"the JSON does not follow the schema: {problems}") from exc


def answer_schema(model: type[StrictModel]) -> dict[str, Any]:
    return model.model_json_schema()


def ask(client: OllamaClient, model_name: str, messages: list[ChatMessage], into: type[T], *, purpose: str,
        max_attempts: int, seed: int, keep_alive: str, answers: list[ReviewAnswer], candidate: int | None = None,
        order: list[int] | None = None) -> T:
    """Ask until a reply parses into ``into`` (at most ``max_attempts`` times); every reply lands in ``answers``."""
    conversation = list(messages)
    schema = answer_schema(into)
    last_problem = ""
    for attempt in range(1, max_attempts + 1):
        request = ChatRequest(model=model_name, messages=conversation, format=schema, keep_alive=keep_alive,
                              options=ChatOptions(seed=seed))
        raw = client.chat(request).message.content
        try:
            parsed = parse_answer(raw, into)
        except AnswerProblem as problem:
            last_problem = str(problem)
            answers.append(ReviewAnswer(purpose=purpose, candidate=candidate, order=order, attempt=attempt, raw=raw,
                                        error=last_problem))
            conversation = conversation + [
                ChatMessage(role="assistant", content=raw),
                ChatMessage(role="user", content=f"Your answer could not be used: {last_problem}. "
                                                 "Answer again with only one JSON object that follows the schema exactly."),
            ]
            continue
        answers.append(ReviewAnswer(purpose=purpose, candidate=candidate, order=order, attempt=attempt, raw=raw))
        return parsed
    who = f"candidate {candidate}" if candidate is not None else f"candidates {order}" if order else "the image"
    raise AnswerUnusable(f"the vision model's {purpose} of {who} was unusable {max_attempts} times; last: {last_problem}",
                         answers[-max_attempts:])
