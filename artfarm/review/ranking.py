"""From per-criterion scores to a ranking, and settling a near tie at the top by asking both ways.

A pairwise question is asked in both orders to cancel position bias (models favour the
first or the second image); when the two orders disagree the pair is a tie, recorded,
and the score order stands.
"""

from __future__ import annotations

from typing import Callable

from artfarm.models.review import CandidateReview, CriterionScore, PairwiseComparison
from artfarm.review.criteria import CRITERIA

NEAR_TIE = 0.05


def total_score(scores: dict[str, CriterionScore], *, skip: set[str] = frozenset()) -> float:
    used = [(CRITERIA[name].weight, s.score) for name, s in scores.items() if name in CRITERIA and name not in skip]
    weight = sum(w for w, _ in used)
    return round(sum(w * s for w, s in used) / weight, 4) if weight else 0.0


def gate_failures(scores: dict[str, CriterionScore]) -> list[str]:
    out = []
    for name, s in scores.items():
        gate = CRITERIA[name].gate if name in CRITERIA else None
        if gate is not None and s.score < gate:
            out.append(f"{name} {s.score:.1f}: {s.reason}" if s.reason else f"{name} {s.score:.1f}")
    return out


def rank(reviews: list[CandidateReview]) -> list[int]:
    """Candidate indexes, best first: kept candidates by total (ties by index), then the rejected."""
    kept = sorted((r for r in reviews if not r.rejected), key=lambda r: (-r.total, r.index))
    dropped = sorted((r for r in reviews if r.rejected), key=lambda r: (-r.total, r.index))
    return [r.index for r in kept + dropped]


def settle_near_tie(ranking: list[int], reviews: list[CandidateReview], ask: Callable[[int, int], int | None],
                    *, near_tie: float = NEAR_TIE) -> tuple[list[int], PairwiseComparison | None]:
    """``ask(first, second)`` returns the index it prefers, or None when it could not say."""
    by_index = {r.index: r for r in reviews}
    if len(ranking) < 2:
        return ranking, None
    a, b = by_index[ranking[0]], by_index[ranking[1]]
    if a.rejected or b.rejected or a.total - b.total > near_tie:
        return ranking, None
    winner_ab = ask(a.index, b.index)
    winner_ba = ask(b.index, a.index)
    if winner_ab is not None and winner_ab == winner_ba:
        outcome = "a" if winner_ab == a.index else "b"
    else:
        outcome = "tie"
    comparison = PairwiseComparison(a=a.index, b=b.index, winner_ab=winner_ab, winner_ba=winner_ba, outcome=outcome)
    if outcome == "b":
        ranking = [b.index, a.index, *ranking[2:]]
    return ranking, comparison
