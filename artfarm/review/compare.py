"""Is a fix better than the image before it? Any reviewer answers, by reviewing the two as a pair.

The inpaint stage calls ``compare_fix`` after each repaint. A fix whose result is rejected
outright (blank, flat, a hard criterion failed) where the image before it was not is always
reverted. Scores decide keep-or-revert only when the reviewer sees content (one that can
critique: vlm): the heuristic's calm space, palette and sharpness say nothing about whether a
repaint fixed anything (a repaint is softer, so it would always lose), so with it, and when the
vlm reviewer fell back to it, the fix is kept. With the vlm reviewer a near tie is put to the
pairwise question in both orders, as in draft review.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from artfarm.fsio import sha256_file
from artfarm.models.base import StrictModel
from artfarm.models.review import ReviewRecord
from artfarm.review.base import Candidate, ReviewContext, Reviewer, can_critique


class FixComparison(StrictModel):
    before: str
    after: str
    before_score: float
    after_score: float
    outcome: Literal["kept", "reverted"]
    reason: str
    review: ReviewRecord


def compare_fix(reviewer: Reviewer, before: Path, after: Path, ctx: ReviewContext, *,
                by_score: bool | None = None) -> FixComparison:
    """Revert a fix rejected where the original was not; by score (lost the pairwise question, a lower total) only
    when ``by_score`` (default: the reviewer sees content and did not fall back to one that does not)."""
    pair = [Candidate(index=0, path=Path(before), seed=None, sha256=sha256_file(before)),
            Candidate(index=1, path=Path(after), seed=None, sha256=sha256_file(after))]
    record = reviewer.review(pair, dataclasses.replace(ctx, purpose="fix"))
    old, new = (next(c for c in record.candidates if c.index == i) for i in (0, 1))
    comparison = next((c for c in record.comparisons if {c.a, c.b} == {0, 1}), None)
    if by_score is None:
        by_score = can_critique(reviewer) and not record.fallback
    if new.rejected and not old.rejected:
        outcome, reason = "reverted", f"the fix fails a hard criterion ({new.reject_reason}) that the image before it passed"
    elif not by_score:
        outcome, reason = "kept", (f"kept: the {record.reviewer.kind} reviewer does not see content, so only a blank or "
                                   f"flat result is reverted (scores {old.total:.2f} before, {new.total:.2f} after)")
    elif comparison is not None and comparison.outcome != "tie":
        winner = comparison.a if comparison.outcome == "a" else comparison.b
        outcome = "kept" if winner == 1 else "reverted"
        reason = f"near tie; the pairwise question in both orders preferred the {'fix' if winner == 1 else 'image before it'}"
    elif new.total < old.total:
        outcome, reason = "reverted", f"the fix scores {new.total:.2f}, below {old.total:.2f} before it"
    else:
        outcome, reason = "kept", f"the fix scores {new.total:.2f}, not below {old.total:.2f} before it"
    if record.fallback:
        reason += f" (judged by the fallback reviewer: {record.fallback})"
    return FixComparison(before=str(before), after=str(after), before_score=old.total, after_score=new.total,
                         outcome=outcome, reason=reason, review=record)
