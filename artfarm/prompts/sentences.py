"""RenderSpec + characters + style pack -> natural-language prompts for T5 and Qwen text encoders.

Flux (T5) and Qwen-Image (Qwen2.5-VL) read sentences, not tag lists, and have room for them.
The same fields as the CLIP terms (artfarm/prompts/compile.py) become sentences: the kind of
picture, the scene, each character with look, pose and emotion, camera, light and place,
constraints, then the style. Families without a negative prompt (flux, flux_kontext) get their
constraints phrased inside the prompt ("Every surface is plain, with no lettering anywhere.")
and the style pack's negative terms are listed as unused; Qwen families keep a negative prompt.
Text is never asked for: a constraint about text only ever says there is none.
"""

from __future__ import annotations

from artfarm.families import family_info
from artfarm.models.characters import CharacterBible
from artfarm.models.renderspec import RenderSpec
from artfarm.models.stylepack import StylePack
from artfarm.prompts.compile import (ALWAYS_NEGATIVE, NEGATION, NUMBER_WORDS, SPACE_RULE, TEXT_WORDS, CompiledPrompt,
                                     _dedupe, constraint_count, constraint_terms)

KIND = {"illustration": "A children's picture book illustration.", "cover": "The cover illustration of a children's picture book.",
        "spot": "A small spot illustration for a children's picture book, an isolated vignette on a plain background."}
SHOT = {"establishing": "An establishing shot", "wide": "A wide shot", "full": "A full shot", "medium": "A medium shot",
        "medium-close": "A medium close-up", "close-up": "A close-up", "extreme-close-up": "An extreme close-up"}
ANGLE = {"eye-level": "at eye level", "low": "from a low angle", "high": "from a high angle", "birds-eye": "from above",
         "worms-eye": "from the ground looking up", "over-the-shoulder": "over the shoulder", "dutch": "at a tilted angle"}
LIGHT = {"dawn": "It is dawn", "morning": "It is morning", "midday": "It is midday", "afternoon": "It is afternoon",
         "golden-hour": "It is golden hour", "dusk": "It is dusk", "night": "It is night"}
NO_TEXT_SENTENCE = "Every surface is plain, with no lettering, writing or signs anywhere."


def compile_sentences(spec: RenderSpec, bible: CharacterBible, pack: StylePack, family: str) -> CompiledPrompt:
    has_negative = family_info(family).negative_prompt
    out = [KIND[spec.intent], _sentence(spec.scene)]
    people = bible.by_id()
    for cast in spec.characters:
        who = people.get(cast.id)
        name = f"{who.name} ({', '.join([who.look, *(who.lora.trigger_words if who.lora else [])])})" if who else cast.id
        doing = " and ".join(x for x in (f"is {cast.pose}" if cast.pose.strip() else "",
                                         f"looks {cast.emotion}" if cast.emotion.strip() else "") if x)
        out.append(f"{name} {doing}." if doing else f"{name} is in the picture.")
    if spec.characters and not any(constraint_count(rule) is not None for rule in spec.constraints):
        out.append(_count_sentence(len(spec.characters)))
    lens = f", as through a {spec.camera.lens} lens" if spec.camera.lens.strip() else ""
    out.append(f"{SHOT[spec.camera.shot]} {ANGLE[spec.camera.angle]}{lens}.")
    place = [x for x in (spec.environment.weather,) if x.strip()]
    out.append(LIGHT[spec.environment.time] + (f", {place[0]}" if place else "") +
               (f", at {spec.environment.location}" if spec.environment.location.strip() else "") + ".")
    negative: list[str] = [*pack.negative, *ALWAYS_NEGATIVE] if has_negative else []
    dropped: list[str] = []
    no_text = not has_negative
    for rule in spec.constraints:
        sentence, neg, ok = _constraint(rule, has_negative)
        if not ok:
            dropped.append(rule)
        if sentence == NO_TEXT_SENTENCE:
            no_text = True
        elif sentence:
            out.append(sentence)
        negative += neg
    if no_text:
        out.append(NO_TEXT_SENTENCE)
    style = [*pack.positive, *(w for lora in pack.loras for w in lora.trigger_words)]
    if style:
        out.append(_sentence("In the style of " + ", ".join(style)))
    sentences = _dedupe(out)
    neg_terms = _dedupe(negative)
    return CompiledPrompt(positive=" ".join(sentences), negative=", ".join(neg_terms), positive_terms=sentences,
                          negative_terms=neg_terms, dropped_constraints=dropped, family=family, form="sentences",
                          unused_negative=[] if has_negative else list(pack.negative))


def _constraint(rule: str, has_negative: bool) -> tuple[str, list[str], bool]:
    """One constraint -> (sentence, negative terms, understood)."""
    text = rule.strip().rstrip(".")
    pos, neg, ok = constraint_terms(text)
    if not ok or not text:
        return "", [], ok
    if (n := constraint_count(text)) is not None:
        return _count_sentence(n), neg if has_negative else [], True
    if negated := NEGATION.match(text):
        if TEXT_WORDS.search(negated[1]):
            return NO_TEXT_SENTENCE, neg if has_negative else [], True
        return ("", neg, True) if has_negative else (f"The picture is free of {negated[1]}.", [], True)
    if space := SPACE_RULE.search(text):
        where = {"upper": "top", "lower": "bottom"}.get(space[1].lower(), space[1].lower())
        return f"The {where} of the picture is calm and uncluttered, left open.", [], True
    return _sentence(pos[0]) if pos else "", neg, True


def _count_sentence(n: int) -> str:
    return "There is exactly one character." if n == 1 else f"There are exactly {NUMBER_WORDS.get(n, str(n))} characters."


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."
