"""RenderSpec + characters + style pack -> the positive and negative prompt a draft sends.

Deterministic and ordered subject first: the scene, then each character, then camera, light,
place and constraints, then the style blocks (intent, the style pack's terms, LoRA trigger
words). CLIP text encoders weigh the start of a prompt most and read it in 75-token chunks, so
what the page is about comes first; ``past_first_chunk`` names the terms that spill into the
next chunk (``artfarm validate`` and ``artfarm prompt`` warn about them). User text is data and is copied exactly (quotes, braces, ``{{SEED}}`` and all); terms are
only de-duplicated, never rewritten. Typography never enters the art: every negative prompt
carries the text terms, and a constraint that talks about text only ever adds negatives.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from artfarm.models.characters import CharacterBible
from artfarm.models.renderspec import RenderSpec
from artfarm.models.stylepack import StylePack
from artfarm.prompts.clip_tokens import CHUNK, overflow

PROMPT_VERSION = 2  # 2: subject first

ALWAYS_NEGATIVE = ["text", "letters", "words", "watermark", "signature", "logo", "typography", "caption"]
NO_TEXT_NEGATIVE = ["signage", "signs", "writing", "speech bubble", "numbers", "labels"]
TEXT_WORDS = re.compile(r"\b(text|texts|letter|letters|word|words|writing|signage|signs?|typography|caption|captions|"
                        r"font|title|lettering|speech bubbles?)\b", re.IGNORECASE)
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}
WORD_NUMBERS = {v: k for k, v in NUMBER_WORDS.items()}
COUNT_RULE = re.compile(r"^(?:exactly|only)?\s*(\d+|" + "|".join(WORD_NUMBERS) + r")\s+(?:characters?|figures?|creatures?)"
                        r"(?:\s+(?:in (?:the )?(?:scene|frame|picture)|visible))?$", re.IGNORECASE)
NEGATION = re.compile(r"^(?:no|without|avoid|never|don't show|do not show)\s+(.+)$", re.IGNORECASE)
SPACE_RULE = re.compile(r"(?:calm|empty|clear|quiet|negative)?\s*(?:space|area|room)\s+(?:for|at|in)\b.*?\b(top|bottom|left|right|upper|lower)\b",
                        re.IGNORECASE)
SHOT_WORDS = {"establishing": "establishing shot", "wide": "wide shot", "full": "full shot", "medium": "medium shot",
              "medium-close": "medium close-up", "close-up": "close-up", "extreme-close-up": "extreme close-up"}
ANGLE_WORDS = {"eye-level": "eye-level view", "low": "low angle", "high": "high angle", "birds-eye": "bird's-eye view",
               "worms-eye": "worm's-eye view", "over-the-shoulder": "over-the-shoulder view", "dutch": "dutch angle"}
TIME_WORDS = {"dawn": "at dawn", "morning": "morning light", "midday": "midday sun", "afternoon": "afternoon light",
              "golden-hour": "golden hour light", "dusk": "at dusk", "night": "at night"}
INTENT_WORDS = {"illustration": "children's picture book illustration", "cover": "picture book cover illustration",
                "spot": "small spot illustration, isolated vignette on plain background"}


class CompiledPrompt(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    positive: str
    negative: str
    positive_terms: list[str]
    negative_terms: list[str]
    dropped_constraints: list[str] = []
    positive_tokens: int = Field(0, description="CLIP tokens of the positive prompt (75 fit in one chunk).")
    negative_tokens: int = 0
    past_first_chunk: dict[str, list[str]] = Field(default_factory=dict, description="positive/negative: the terms "
                                                   "that end past the first 75 CLIP tokens (encoded as a separate chunk).")
    prompt_version: int = PROMPT_VERSION
    family: str = Field("sd15", description="The model family these prompts are for (README: Model families).")
    form: str = Field("terms", description="terms: compact subject-first terms (CLIP); sentences: natural language (T5, Qwen).")
    unused_negative: list[str] = Field(default_factory=list, description="Negative terms the family cannot take "
                                                                        "(it has no negative prompt).")


def compile_prompt(spec: RenderSpec, bible: CharacterBible, pack: StylePack) -> CompiledPrompt:
    positive: list[str] = [spec.scene]
    negative: list[str] = [*pack.negative, *ALWAYS_NEGATIVE]
    people = bible.by_id()
    for cast in spec.characters:
        who = people.get(cast.id)
        described = ", ".join([who.name, who.look, *(who.lora.trigger_words if who.lora else [])]) if who else cast.id
        details = ", ".join(x for x in (cast.pose, cast.emotion) if x.strip())
        positive.append(f"{described}, {details}" if details else described)
    if spec.characters and not any(constraint_count(rule) is not None for rule in spec.constraints):
        positive.append(_count_phrase(len(spec.characters)))  # an explicit count rule speaks instead
    positive += [SHOT_WORDS[spec.camera.shot], ANGLE_WORDS[spec.camera.angle]]
    if spec.camera.lens.strip():
        positive.append(f"{spec.camera.lens} lens")
    positive.append(TIME_WORDS[spec.environment.time])
    positive += [x for x in (spec.environment.weather, spec.environment.location) if x.strip()]

    dropped: list[str] = []
    for rule in spec.constraints:
        pos, neg, ok = constraint_terms(rule)
        positive += pos
        negative += neg
        if not ok:
            dropped.append(rule)
    positive += [INTENT_WORDS[spec.intent], *pack.positive]
    for lora in pack.loras:
        positive += lora.trigger_words

    pos_terms, neg_terms = _dedupe(positive), _dedupe(negative)
    pos_tokens, pos_past = overflow(pos_terms)
    neg_tokens, neg_past = overflow(neg_terms)
    past = {name: terms for name, terms in (("positive", pos_past), ("negative", neg_past)) if terms}
    return CompiledPrompt(positive=", ".join(pos_terms), negative=", ".join(neg_terms),
                          positive_terms=pos_terms, negative_terms=neg_terms, dropped_constraints=dropped,
                          positive_tokens=pos_tokens, negative_tokens=neg_tokens, past_first_chunk=past)


def chunk_warnings(compiled: CompiledPrompt, most: int = 3) -> list[str]:
    """One line per prompt that runs past CLIP's first 75-token chunk, naming what falls into the next."""
    counts = {"positive": compiled.positive_tokens, "negative": compiled.negative_tokens}
    lines = []
    for name, terms in compiled.past_first_chunk.items():
        named = ", ".join(repr(_short(t)) for t in terms[:most]) + (f" and {len(terms) - most} more" if len(terms) > most else "")
        lines.append(f"the {name} prompt is {counts[name]} CLIP tokens; past the first {CHUNK} (a separate, weaker chunk): {named}")
    return lines


def _short(term: str, limit: int = 40) -> str:
    return term if len(term) <= limit else term[:limit - 3].rstrip() + "..."


def constraint_terms(rule: str) -> tuple[list[str], list[str], bool]:
    """One constraint -> (positive terms, negative terms, understood). Text never goes positive."""
    text = rule.strip().rstrip(".")
    if not text:
        return [], [], True
    if (n := constraint_count(text)) is not None:
        return [_count_phrase(n)], ["crowd", "extra characters"], True
    if negated := NEGATION.match(text):
        subject = negated[1]
        terms = [t.strip() for t in re.split(r",|\bor\b|\band\b|/", subject) if t.strip()]
        if TEXT_WORDS.search(subject):
            terms = [t for t in terms if not TEXT_WORDS.search(t)] + ALWAYS_NEGATIVE + NO_TEXT_NEGATIVE
        return [], terms, True
    if space := SPACE_RULE.search(text):
        where = {"upper": "top", "lower": "bottom"}.get(space[1].lower(), space[1].lower())
        return [f"calm uncluttered area at the {where}"], [], True
    if TEXT_WORDS.search(text):
        return [], [], False
    return [text], [], True


def constraint_count(rule: str) -> int | None:
    """The number of characters a rule like 'exactly two characters' asks for, else None."""
    count = COUNT_RULE.match(rule.strip().rstrip("."))
    if not count:
        return None
    raw = count[1].lower()
    return int(raw) if raw.isdigit() else WORD_NUMBERS[raw]


def _count_phrase(n: int) -> str:
    word = NUMBER_WORDS.get(n, str(n))
    return "exactly one character" if n == 1 else f"exactly {word} characters"


def _dedupe(terms: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for term in terms:
        key = term.strip().casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(term.strip())
    return out
