"""The agent reviewer: a person or an agent chooses the draft.

After the draft it writes a contact sheet (one PNG grid of the numbered candidates with
their heuristic scores) and stops the page "waiting for review". ``artfarm review BOOK
PAGE --select N --reason ...`` (or ``--reject-all``) records the decision in review.json
through ``record_decision``; the next run turns it into selected/ and carries on.
"""

from __future__ import annotations

import io
import math
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFont

from artfarm.book.loader import LoadedBook
from artfarm.errors import BadInputError
from artfarm.fsio import atomic_write_bytes, atomic_write_json
from artfarm.images import load_image
from artfarm.models.review import CandidateReview, ReviewerInfo, ReviewRecord, Selection
from artfarm.review.base import Candidate, ReviewContext
from artfarm.review.heuristic import HeuristicReviewer, score_candidates
from artfarm.colours import hex_to_rgb

AGENT_VERSION = 1
CONTACT_SHEET = "contact_sheet.png"
THUMB = 256
LABEL_H = 40


def create(settings: Any, book: Any) -> "AgentReviewer":
    return AgentReviewer()


class AgentReviewer:
    kind = "agent"

    def identity(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": AGENT_VERSION, "scores": HeuristicReviewer().identity()}

    def reference_paths(self, ctx: ReviewContext) -> list[tuple[str | None, str]]:
        return []  # measured checks: no reference pictures

    def review(self, candidates: list[Candidate], ctx: ReviewContext) -> ReviewRecord:
        palette = [hex_to_rgb(c) for c in ctx.pack.pack.palette.values()]
        scored = score_candidates(candidates, palette, ctx.text_placement)
        ranking = [r.index for r in sorted((r for r in scored if not r.rejected), key=lambda r: (-r.total, r.index))]
        atomic_write_bytes(ctx.page_dir / CONTACT_SHEET, contact_sheet(candidates, scored))
        book_id = ctx.book.id
        return ReviewRecord(page=ctx.page, status="waiting", reviewer=ReviewerInfo(kind=self.kind, prompt_version=str(AGENT_VERSION)),
                            candidates=scored, ranking=ranking, contact_sheet=CONTACT_SHEET,
                            notes=[f"choose with `artfarm review {book_id} {ctx.page} --select N --reason \"...\"` "
                                   f"(N as numbered on {CONTACT_SHEET}), or --reject-all"])


def contact_sheet(candidates: list[Candidate], scored: list[CandidateReview]) -> bytes:
    """A grid of numbered thumbnails with each one's score (or why it was rejected)."""
    by_index = {r.index: r for r in scored}
    cols = max(1, math.ceil(math.sqrt(len(candidates))))
    rows = max(1, math.ceil(len(candidates) / cols))
    sheet = Image.new("RGB", (cols * (THUMB + 8) + 8, rows * (THUMB + LABEL_H + 8) + 8), (245, 245, 245))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=16)
    for n, cand in enumerate(candidates):
        x = 8 + (n % cols) * (THUMB + 8)
        y = 8 + (n // cols) * (THUMB + LABEL_H + 8)
        thumb = load_image(cand.path, what=f"candidate {cand.index}", mode="RGB")
        thumb.thumbnail((THUMB, THUMB))
        sheet.paste(thumb, (x + (THUMB - thumb.width) // 2, y + (THUMB - thumb.height) // 2))
        review = by_index.get(cand.index)
        if review is not None and review.rejected:
            label, colour = f"#{cand.index} rejected: {(review.reject_reason or '').split(' (')[0]}", (170, 30, 30)
        else:
            label, colour = f"#{cand.index}  score {review.total:.2f}" if review else f"#{cand.index}", (20, 20, 20)
        draw.text((x, y + THUMB + 4), label[:38], fill=colour, font=font)
        if cand.seed is not None:
            draw.text((x, y + THUMB + 22), f"seed {cand.seed}", fill=(90, 90, 90), font=font)
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return buf.getvalue()


def is_recorded_decision(review: ReviewRecord) -> bool:
    """True for a review.json holding a choice made with ``record_decision`` (`artfarm review`): a person's work."""
    if review.selection is not None and review.selection.decided_by != "reviewer":
        return True
    return review.status == "rejected_all" and any(note.startswith(REJECTED_BY) for note in review.notes)


REJECTED_BY = "all candidates rejected by "


def record_decision(book: LoadedBook, page: int, *, select: int | None, reason: str, reject_all: bool = False,
                    decided_by: Literal["person", "agent"] = "person") -> ReviewRecord:
    """Write a person's or agent's choice into review.json; the next run continues from it."""
    path = book.page_dir(page) / "review.json"
    if not path.is_file():
        raise BadInputError(f"page {page} has no review yet", where=str(path),
                            fix=f"run `artfarm render-page {book.id} {page}` first; it stops after the draft with a contact sheet")
    try:
        review = ReviewRecord.model_validate_json(path.read_bytes())
    except ValueError as exc:
        raise BadInputError(f"review.json is unreadable: {str(exc).splitlines()[0]}", where=str(path),
                            fix=f"delete it and run `artfarm render-page {book.id} {page} --from review`") from exc
    if reject_all == (select is not None):
        raise BadInputError("give exactly one of --select N or --reject-all", where="artfarm review",
                            fix=f"e.g. `artfarm review {book.id} {page} --select 2 --reason \"calm sky for the words\"`")
    if not reason.strip():
        raise BadInputError("a decision needs a reason", where="--reason", fix="say why in a few words, e.g. --reason \"best composition\"")
    notes = [*review.notes]
    if reject_all:
        updated = review.model_copy(update={"status": "rejected_all", "selection": None, "defects": [],
                                            "notes": notes + [f"{REJECTED_BY}{decided_by}: {reason}"]})
    else:
        candidate = next((c for c in review.candidates if c.index == select), None)
        if candidate is None:
            known = ", ".join(str(c.index) for c in review.candidates)
            raise BadInputError(f"there is no candidate {select} on page {page}", where="--select", fix=f"choose one of: {known}")
        if candidate.rejected:
            notes.append(f"candidate {select} was rejected by the reviewer ({candidate.reject_reason}) but chosen by {decided_by}")
        selection = Selection(index=candidate.index, file=candidate.file, seed=candidate.seed, rationale=reason,
                              decided_by=decided_by)
        # inpainting repairs the chosen picture, so its defects (not the reviewer's first choice's) are the page's
        updated = review.model_copy(update={"status": "selected", "selection": selection, "notes": notes,
                                            "defects": candidate.defects})
    updated = ReviewRecord.model_validate(updated.model_dump())
    atomic_write_json(path, updated)
    return updated

