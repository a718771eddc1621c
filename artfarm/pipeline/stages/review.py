"""The review stage: the reviewer (or a person) chooses one draft; it becomes selected/selected.png."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from artfarm.errors import RunError
from artfarm.fsio import atomic_write_bytes, atomic_write_json
from artfarm.models.records import Prompts, StageRecord
from artfarm.models.review import ConsistencyRecord, ReviewRecord
from artfarm.pipeline.context import PageContext, PageWaiting, Plan, Verdict
from artfarm.pipeline.keys import cache_key, key_inputs_with_version, why_changed
from artfarm.pipeline.records import describe_output, history_path, log, now_iso, outputs_problem, read_record
from artfarm.pipeline.stage import Stage
from artfarm.review.agent import AgentReviewer, is_recorded_decision
from artfarm.review.base import Candidate
from artfarm.review.consistency import measure_page

REVIEW_FILE = "review.json"


class ReviewStage(Stage):
    """Judge the burst and select one; the selection is copied to selected/selected.png.

    review.json (the verdict, with the review key) is written before selected/stage.json, so a
    decision recorded by a person (``artfarm review``) is turned into selected/ on the next run.
    """

    name = "review"
    dir_name = "selected"

    def plan(self, ctx: PageContext) -> Plan:
        draft = ctx.done["draft"]
        key_inputs = {
            "stage": self.name,
            "reviewer": ctx.reviewer.identity(),
            "spec": ctx.spec_fields(None),
            "refs": ctx.reviewer_refs(ctx.reviewer),
            "style_pack": ctx.pack_inputs("positive", "negative", "palette"),
            "prompts": {"positive": ctx.prompt.positive, "negative": ctx.prompt.negative},
            "layout": {"text_placement": ctx.text_placement()},
            "inputs": [{"sha256": o.sha256, "seed": o.seed} for o in draft.outputs],
        }
        return Plan(key_inputs=key_inputs)

    def read_review(self, ctx: PageContext) -> ReviewRecord | None:
        path = ctx.page_dir / REVIEW_FILE
        if not path.is_file():
            return None
        try:
            return ReviewRecord.model_validate_json(path.read_bytes())
        except (ValidationError, ValueError, OSError) as exc:
            log.warning("%s: review unreadable, treating as a cache miss (%s)", path, str(exc).splitlines()[0])
            return None

    def held_inputs(self, plan: Plan, review: ReviewRecord) -> dict[str, Any] | None:
        """The key inputs ``review`` holds under, or None when it is a review of something else.

        A review made by the agent reviewer (a request for a person's or agent's choice, and the
        choice itself) outlasts a change of configured reviewer: it holds under the agent reviewer's
        key for these very drafts. `render-page --from review` asks the configured reviewer instead."""
        if review.cache_key == plan.cache_key:
            return plan.key_inputs
        agent_inputs = {**plan.key_inputs, "reviewer": AgentReviewer().identity()}
        if review.reviewer.kind == AgentReviewer.kind and review.cache_key == cache_key(agent_inputs):
            return agent_inputs
        return None

    def matches(self, plan: Plan, review: ReviewRecord) -> bool:
        return self.held_inputs(plan, review) is not None

    def selected_inputs(self, plan: Plan, review: ReviewRecord) -> dict[str, Any]:
        """Keyed on what the decision holds under, so a recorded choice stays done under any reviewer."""
        assert review.selection is not None
        inputs = self.held_inputs(plan, review) or plan.key_inputs
        return {**inputs, "selection": {"index": review.selection.index, "decided_by": review.selection.decided_by}}

    def adopted_key(self, ctx: PageContext, plan: Plan, record: StageRecord) -> None:
        """The selection's key is the review decision's (see ``selected_inputs``); an adopted selection keeps it."""
        return None

    def check(self, ctx: PageContext, plan: Plan) -> Verdict:
        review = self.read_review(ctx)
        old, _ = read_record(ctx.stage_dir(self.dir_name))
        if old is not None and old.status == "failed":
            return Verdict("miss", f"previous attempt failed ({(old.error or '').splitlines()[0]})", failed=True)
        if review is None:
            return Verdict("miss", "not run yet" if old is None else "review.json missing or unreadable")
        if review.fallback_cause == "service":  # asked again whatever else changed (the model's digest was unknown too)
            return Verdict("miss", "the last review was by the fallback reviewer because Ollama failed; asking again")
        if not self.matches(plan, review):
            before = {k: v for k, v in (old.key_inputs if old else {}).items() if k != "selection"}
            return Verdict("miss", why_changed(before, key_inputs_with_version(plan.key_inputs)) if before else "review inputs changed")
        ctx.review = review
        if review.status == "waiting":
            return Verdict("waiting", waiting_message(ctx, review))
        if review.status == "rejected_all":
            return Verdict("rejected", "every draft candidate was rejected")
        expected = cache_key(self.selected_inputs(plan, review))
        if old is None or old.status != "done" or old.cache_key != expected:
            return Verdict("miss", "review decision recorded; selection not written yet")
        problem = outputs_problem(ctx.stage_dir(self.dir_name), old)
        if problem:
            return Verdict("miss", problem)
        return Verdict("hit", "cached", old)

    def run(self, ctx: PageContext, plan: Plan) -> StageRecord:
        review = self.read_review(ctx)
        started = now_iso()
        if (plan.forced or review is None or not self.matches(plan, review) or review.status != "selected"
                or review.fallback_cause == "service"):
            review = self.ask_reviewer(ctx, plan)
        ctx.review = review
        if review.status == "waiting":
            raise PageWaiting(waiting_message(ctx, review))
        if review.status == "rejected_all" or review.selection is None:
            raise RunError(rejected_message(review), where=f"page {ctx.page} review",
                           fix="change the RenderSpec's seed, scene or constraints (or choose one with `artfarm review "
                               f"{ctx.book.id} {ctx.page} --select N --reason ...`), then run again")
        return self.write_selection(ctx, plan, review, started)

    def ask_reviewer(self, ctx: PageContext, plan: Plan) -> ReviewRecord:
        draft = ctx.done["draft"]
        candidates = [Candidate(index=i, path=ctx.stage_dir("draft") / o.file, seed=o.seed, sha256=o.sha256)
                      for i, o in enumerate(draft.outputs)]
        review = ctx.reviewer.review(candidates, ctx.review_context())
        review = review.model_copy(update={"cache_key": plan.cache_key, "page": ctx.page,
                                           "consistency": selected_consistency(ctx, candidates, review)})
        self.keep_recorded_decision(ctx)
        atomic_write_json(ctx.page_dir / REVIEW_FILE, ReviewRecord.model_validate(review.model_dump()))
        return review

    def keep_recorded_decision(self, ctx: PageContext) -> None:
        """A choice recorded with `artfarm review` is a person's work: before a new review replaces it (--force,
        --from review, new drafts), review.json is copied to history/, where artfarm never deletes."""
        old = self.read_review(ctx)
        if old is None or not is_recorded_decision(old):
            return
        kept = history_path(ctx.page_dir, self.name, REVIEW_FILE)
        atomic_write_bytes(kept, (ctx.page_dir / REVIEW_FILE).read_bytes())
        log.warning("page %s review: the decision recorded with `artfarm review` is kept as %s", ctx.page, ctx.rel(kept))

    def write_selection(self, ctx: PageContext, plan: Plan, review: ReviewRecord, started: str) -> StageRecord:
        assert review.selection is not None
        draft = ctx.done["draft"]
        index = review.selection.index
        if not 0 <= index < len(draft.outputs):
            raise RunError(f"review selected candidate {index}, but the draft has {len(draft.outputs)}",
                           where=str(ctx.page_dir / REVIEW_FILE), fix=f"choose 0..{len(draft.outputs) - 1} with `artfarm review`")
        source = ctx.stage_dir("draft") / draft.outputs[index].file
        target = ctx.stage_dir(self.dir_name) / "selected.png"
        atomic_write_bytes(target, source.read_bytes())
        inputs = self.selected_inputs(plan, review)
        output = describe_output(target, draft.outputs[index].seed)
        return StageRecord(stage="review", page=ctx.page, cache_key=cache_key(inputs), key_inputs=key_inputs_with_version(inputs),
                           seeds=[output.seed] if output.seed is not None else [], outputs=[output],
                           prompts=Prompts(positive=ctx.prompt.positive, negative=ctx.prompt.negative),
                           notes=[f"selected candidate {index} ({draft.outputs[index].file}) by {review.selection.decided_by}: "
                                  f"{review.selection.rationale}"],
                           started=started, finished=now_iso(), seconds=0.0)



def selected_consistency(ctx: PageContext, candidates: list[Candidate], review: ReviewRecord) -> ConsistencyRecord | None:
    """The consistency block of the selected candidate (none while waiting for a person's choice)."""
    chosen = next((c for c in candidates if review.selection and c.index == review.selection.index), None)
    if chosen is None or not ctx.spec.characters:
        return None
    judged = next((c for c in review.candidates if c.index == chosen.index), None)
    return measure_page(ctx.book, ctx.spec, chosen.path, defects=review.selected_defects(),
                        image_label=f"draft/{chosen.path.name}",
                        vlm_same={m.character: m.same for m in judged.sheet_matches} if judged else None)


def waiting_message(ctx: PageContext, review: ReviewRecord) -> str:
    sheet = f"pages/{ctx.page:04d}/{review.contact_sheet}" if review.contact_sheet else "the draft folder"
    return (f"waiting for review: look at {sheet}, then run `artfarm review {ctx.book.id} {ctx.page} "
            f"--select N --reason \"...\"` (or --reject-all)")


def rejected_message(review: ReviewRecord) -> str:
    reasons = "; ".join(f"#{c.index}: {c.reject_reason}" for c in review.candidates if c.rejected and c.reject_reason)
    return f"every draft candidate was rejected ({reasons or 'no reasons given'})"

