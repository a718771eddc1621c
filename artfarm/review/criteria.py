"""The vision reviewer's checklist: one entry per criterion, with its question, weight and gate.

A gate criterion scoring below its gate rejects the candidate outright (text in the art,
the wrong cast, something unfit for children, broken anatomy): no total makes up for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Criterion:
    question: str
    weight: float = 1.0
    gate: float | None = None


CRITERIA: dict[str, Criterion] = {
    "scene_match": Criterion("Does the picture show the scene described: the place, the action, the time of day, "
                             "the camera shot?", weight=2.0),
    "no_text": Criterion("Is the picture free of any text, letters, numbers, signage, logos or speech bubbles? "
                         "(10 = none at all)", gate=0.3),
    "character_count": Criterion("Does it show exactly the characters listed, no more and no fewer?", gate=0.3),
    "kid_friendly": Criterion("Is it gentle and suitable for a young child (nothing scary, violent or unsettling)?",
                              gate=0.3),
    "anatomy": Criterion("Are bodies, faces, hands, paws and limbs whole and natural (no extra or missing limbs, "
                         "no melted faces)?", weight=1.5, gate=0.3),
    "character_consistency": Criterion("Does each character look like their reference pictures and description "
                                       "(colours, clothes, proportions)? Score 10 when the page has no characters.",
                                       weight=1.5),
    "focal_point": Criterion("Is there one clear focal point that the eye goes to first?"),
    "text_space": Criterion("Is the area where the words will be printed calm and uncluttered, with nothing "
                            "important in it?"),
}

GATE_CRITERIA = [name for name, c in CRITERIA.items() if c.gate is not None]
