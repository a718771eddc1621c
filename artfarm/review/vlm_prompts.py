"""The words the vision reviewer is asked with. Change PROMPT_VERSION whenever they change:
it is in the reviewer's identity, so reviews made with other words are redone."""

from __future__ import annotations

from dataclasses import dataclass

from artfarm.review.base import ReviewContext
from artfarm.review.criteria import CRITERIA

PROMPT_VERSION = "vlm-3"  # 2: style references shown after the characters'; 3: same_character per sheet

SYSTEM = ("You are the art director of a children's picture book. You judge illustrations strictly and fairly, "
          "as a careful professional would, and you answer only with one JSON object that follows the given schema.")

PLACEMENT_WORDS = {"top": "across the top", "bottom": "across the bottom", "left": "down the left side",
                   "right": "down the right side"}


@dataclass(frozen=True)
class RefImage:
    character: str | None  # None: a style reference (the look of the book), not a character
    name: str


def brief(ctx: ReviewContext) -> str:
    """What the page must show, from the RenderSpec, the bible and the style pack."""
    spec = ctx.spec
    people = ctx.book.characters.by_id()
    lines = [f"Scene: {spec.scene}"]
    if spec.characters:
        cast = []
        for c in spec.characters:
            who = people.get(c.id)
            described = f"{who.name} ({who.look})" if who else c.id
            extra = ", ".join(x for x in (c.pose, c.emotion) if x.strip())
            cast.append(f"{described}{': ' + extra if extra else ''}")
        lines.append(f"Characters, exactly {len(spec.characters)}: " + "; ".join(cast))
    else:
        lines.append("Characters: none (no people or creatures should be the subject).")
    env = spec.environment
    lines.append(f"Camera: {spec.camera.shot} shot, {spec.camera.angle}. Setting: {env.time}, {env.weather}"
                 + (f", {env.location}" if env.location.strip() else "") + ".")
    if spec.constraints:
        lines.append("Constraints: " + "; ".join(spec.constraints) + ".")
    lines.append(f"Style: {ctx.pack.pack.description or ctx.pack.name}.")
    where = PLACEMENT_WORDS.get(ctx.text_placement)
    lines.append(f"The page's words will be printed {where} of the picture." if where else
                 "The page's words will be printed wherever the picture has calm space.")
    return "\n".join(lines)


def refs_line(refs: list[RefImage], first_ref_number: int) -> str:
    if not refs:
        return "No reference pictures are given; judge consistency from the descriptions."
    parts = [f"image {first_ref_number + i} is " + (f"{r.name} ({r.character})" if r.character else "a style reference")
             for i, r in enumerate(refs)]
    return ("Reference pictures follow (characters must look like theirs; style references show the book's look): "
            + "; ".join(parts) + ".")


def checklist() -> str:
    return "\n".join(f"- {name}: {c.question}" for name, c in CRITERIA.items())


def verdict_prompt(ctx: ReviewContext, width: int, height: int, refs: list[RefImage]) -> str:
    return (f"Judge image 1, a candidate illustration for page {ctx.page}, against this brief.\n\n{brief(ctx)}\n\n"
            f"{refs_line(refs, 2)}\n\n"
            "Score each criterion from 0 (fails) to 10 (perfect), each with one short sentence of reason:\n"
            f"{checklist()}\n\n"
            "List the defects a local repaint could fix (stray text, a broken hand, an extra creature, a smudge), "
            f"each with a box [x0, y0, x1, y1] in pixels of image 1, which is {width}x{height} pixels, a fix_prompt "
            "that describes what should be there instead, and a severity (minor or major). No defects: an empty list. "
            f"{same_character_line(refs)}"
            "End with a one-sentence summary.")


def same_character_line(refs: list[RefImage]) -> str:
    ids = [r.character for r in refs if r.character]
    if not ids:
        return "Leave same_character empty. "
    return ("For each character with a reference picture (" + ", ".join(ids) + "), answer same_character: its id, "
            "same: true when image 1 shows the same character as its reference (colours, markings, build, clothing), "
            "and one sentence of reason. ")


def pairwise_prompt(ctx: ReviewContext) -> str:
    return (f"Image 1 (first) and image 2 (second) are two candidate illustrations for page {ctx.page}. "
            f"Brief:\n\n{brief(ctx)}\n\nWhich one is better for this page as a whole: the scene, the constraints, "
            "the characters, gentle mood, a clear focal point and calm space for the words? "
            "Answer better: first or second, and one sentence of reason.")


def critique_prompt(ctx: ReviewContext, width: int, height: int, refs: list[RefImage], settings: str,
                    history: list[str]) -> str:
    tried = ("Already tried on this page (do not repeat what made it worse):\n" + "\n".join(f"- {h}" for h in history)
             if history else "Nothing has been tried yet.")
    return (verdict_prompt(ctx, width, height, refs) + "\n\n"
            f"This illustration is being improved by rendering it again with adjusted settings. Current settings: {settings}.\n"
            f"{tried}\n"
            "Say done: true when it is good enough to print. Otherwise propose small changes: prompt_append (a few "
            "words to add to the prompt), neg_append (terms to avoid, only for problems you see), cfg and steps (or "
            "null to keep them), and seed (null to keep it; set composition_wrong: true and give a new seed only when "
            "the layout itself is wrong). Give the reason for your decision.")
