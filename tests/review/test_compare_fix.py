"""A repaint rejected outright is reverted by any reviewer; one that scores worse only by a reviewer that sees content."""

from __future__ import annotations

from PIL import Image, ImageDraw

from artfarm.models.review import CandidateReview, PairwiseComparison, ReviewerInfo, ReviewRecord
from artfarm.review.compare import compare_fix
from artfarm.review.heuristic import HeuristicReviewer
from artfarm.review.vlm import VlmReviewer
from tests.doubles.fixtures import MODEL
from tests.doubles.judging import judge

RED, BLUE = (220, 30, 30), (30, 30, 220)


class TotalsReviewer:
    """Scores images by a table of totals; optionally rejects or reports a pairwise outcome."""

    kind = "totals"

    def __init__(self, before: float, after: float, *, after_rejected=False, comparison=None):
        self.totals, self.after_rejected, self.comparison = (before, after), after_rejected, comparison

    def identity(self):
        return {"kind": self.kind}

    def review(self, candidates, ctx):
        reviews = [CandidateReview(index=c.index, file=c.path.name, sha256=c.sha256, total=self.totals[c.index],
                                   rejected=self.after_rejected and c.index == 1,
                                   reject_reason="no_text 0.1" if self.after_rejected and c.index == 1 else None)
                   for c in candidates]
        return ReviewRecord(page=ctx.page, status="selected", reviewer=ReviewerInfo(kind=self.kind), candidates=reviews,
                            comparisons=[self.comparison] if self.comparison else [])


def images(tmp_path, before_colour=RED, after_colour=BLUE):
    before, after = tmp_path / "before.png", tmp_path / "after.png"
    Image.new("RGB", (96, 64), before_colour).save(before)
    Image.new("RGB", (96, 64), after_colour).save(after)
    return before, after


def test_worse_total_is_reverted_better_or_equal_is_kept(tmp_path, page_ctx):
    before, after = images(tmp_path)
    worse = compare_fix(TotalsReviewer(0.8, 0.6), before, after, page_ctx, by_score=True)
    assert worse.outcome == "reverted" and "below 0.80" in worse.reason
    assert compare_fix(TotalsReviewer(0.6, 0.8), before, after, page_ctx, by_score=True).outcome == "kept"
    assert compare_fix(TotalsReviewer(0.7, 0.7), before, after, page_ctx, by_score=True).outcome == "kept"


def test_a_reviewer_that_cannot_see_content_never_reverts_by_score(tmp_path, page_ctx):
    before, after = images(tmp_path)
    out = compare_fix(TotalsReviewer(0.8, 0.6), before, after, page_ctx)
    assert out.outcome == "kept" and "does not see content" in out.reason


def test_heuristic_keeps_a_lower_scoring_repaint_and_reverts_a_flat_one(tmp_path, page_ctx):
    before, busier, flat = tmp_path / "before.png", tmp_path / "busier.png", tmp_path / "flat.png"
    art = Image.new("RGB", (128, 128), (200, 180, 140))
    ImageDraw.Draw(art).rectangle((20, 60, 100, 120), fill=(60, 90, 40))
    art.save(before)
    art.paste(Image.effect_noise((128, 40), 90).convert("RGB"), (0, 0))  # the repaint put detail where words go
    art.save(busier)
    Image.new("RGB", (128, 128), (120, 120, 120)).save(flat)
    kept = compare_fix(HeuristicReviewer(), before, busier, page_ctx)
    assert kept.outcome == "kept" and kept.after_score < kept.before_score  # scores lower, yet is kept
    flat_out = compare_fix(HeuristicReviewer(), before, flat, page_ctx)
    assert flat_out.outcome == "reverted" and "flat image" in flat_out.reason


def test_a_fix_that_breaks_a_hard_criterion_is_reverted(tmp_path, page_ctx):
    before, after = images(tmp_path)
    out = compare_fix(TotalsReviewer(0.5, 0.9, after_rejected=True), before, after, page_ctx)
    assert out.outcome == "reverted" and "no_text" in out.reason


def test_pairwise_outcome_decides_a_near_tie(tmp_path, page_ctx):
    before, after = images(tmp_path)
    prefers_before = PairwiseComparison(a=1, b=0, winner_ab=0, winner_ba=0, outcome="b")
    out = compare_fix(TotalsReviewer(0.70, 0.72, comparison=prefers_before), before, after, page_ctx, by_score=True)
    assert out.outcome == "reverted"


def test_vlm_reverts_an_inpaint_that_scores_worse(tmp_path, page_ctx, ollama, client):
    ollama.on_chat = judge({RED: {"anatomy": 9}, BLUE: {"anatomy": 3, "scene_match": 5}})
    before, after = images(tmp_path)
    out = compare_fix(VlmReviewer(client, MODEL), before, after, page_ctx)
    assert out.outcome == "reverted" and out.after_score < out.before_score
    assert len(out.review.answers) == 2 and out.review.reviewer.model == MODEL
