"""Is a fix better than the image before it? Any reviewer answers, by reviewing the two as a pair.

The inpaint stage calls ``compare_fix`` after each repaint and keeps the image before it when
the fix scores worse (the record says "reverted"). With the vlm reviewer a near tie is put
to the pairwise question in both orders, as in draft review.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from artfarm.fsio import sha256_file
from artfarm.models.base import StrictModel
from artfarm.models.review import ReviewRecord
from artfarm.review.base import Candidate, ReviewContext, Reviewer


class FixComparison(StrictModel):
    before: str
    after: str
    before_score: float
    after_score: float
    outcome: Literal["kept", "reverted"]
    reason: str
    review: ReviewRecord


def compare_fix(reviewer: Reviewer, before: Path, after: Path, ctx: ReviewContext) -> FixComparison:
    """Keep the fix unless it scores worse: rejected where the original was not, lost the pairwise question, or a lower total."""
    pair = [Candidate(index=0, path=Path(before), seed=None, sha256=sha256_file(before)),
            Candidate(index=1, path=Path(after), seed=None, sha256=sha256_file(after))]
    record = reviewer.review(pair, dataclasses.replace(ctx, purpose="fix"))
    old, new = (next(c for c in record.candidates if c.index == i) for i in (0, 1))
    comparison = next((c for c in record.comparisons if {c.a, c.b} == {0, 1}), None)
    if new.rejected and not old.rejected:
        outcome, reason = "reverted", f"the fix fails a hard criterion ({new.reject_reason}) that the image before it passed"
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
