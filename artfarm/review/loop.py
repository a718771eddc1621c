"""The self-improving loop: critique -> adjust -> render again, bounded, logged, never worse than its best.

The reviewer (a ``LoopJudge``, e.g. the vlm reviewer's ``critique``) answers
``{"done", "changes": {prompt_append, neg_append, cfg, steps, seed}, "reason"}`` with its
scores. artfarm applies the changes under guard rails (prompt growth capped, negative terms
only for defects actually seen, cfg/steps within a small span of where they started, the
seed locked unless the composition is wrong) and calls the injected ``render`` to render
again. Each result is compared with the best so far; a regression is reverted (the next
iteration starts from the best parameters, told what failed; a change that would render parameters
already tried from the same image ends the loop: "no new changes"). Within a loop every iteration
re-renders the loop's source image: for the first loop the start image (the refined and
inpainted picture, so fixes are kept), for each later loop the best image so far.
The best image, not the last, is what the loop hands on.

Files (pages/NNNN/loop/): loop_LL_iter_II.png + .json per iteration, loop.json last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from pydantic import Field

from artfarm.fsio import atomic_write_bytes, atomic_write_json, sha256_file
from artfarm.models.base import StrictModel
from artfarm.models.loop import AppliedChanges, Critique, IterationRecord, LoopParams, LoopRecord
from artfarm.models.renderspec import SEED_MAX
from artfarm.ollama.errors import OllamaError
from artfarm.review.answers import AnswerUnusable
from artfarm.review.base import ReviewContext

NEW_SEED_STEP = 7919  # a new composition: a far, deterministic seed


class LoopLimits(StrictModel):
    iterations_per_loop: int = Field(3, ge=0, le=20)
    max_loops: int = Field(1, ge=0, le=10)


@dataclass(frozen=True)
class GuardRails:
    max_prompt_growth: int = 160  # characters added to the start prompt, over the whole run
    cfg_span: float = 2.0  # cfg stays within start +- span
    steps_span: int = 12  # steps stay within start +- span
    min_improvement: float = 0.0  # a new image must beat the best by more than this
    negative_prompt: bool = True  # False for model families without one (flux, kontext): negative terms are refused


@dataclass(frozen=True)
class RenderAgain:
    """What the pipeline is asked to render: ``source_image`` again with ``params``.

    Write the result anywhere and return its path; the loop copies it to ``out_dir/stem.png``.
    """

    source_image: Path
    params: LoopParams
    loop: int
    iteration: int
    out_dir: Path
    stem: str


RenderFn = Callable[[RenderAgain], Path]


class LoopJudge(Protocol):
    def critique(self, image: Path, ctx: ReviewContext, params: LoopParams, history: list[str]) -> Critique:
        """Score the image and say what to change (or done); raise AnswerUnusable or OllamaError on failure."""


# -- guard rails ---------------------------------------------------------------------------------
def _words(text: str) -> set[str]:
    out = set()
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        if len(w) >= 3:
            out.add(w[:-1] if len(w) > 3 and w.endswith("s") else w)
    return out


def _terms(text: str) -> list[str]:
    return [t.strip() for t in re.split(r"[,;\n]", text) if t.strip()]


def seen_problems(critique: Critique) -> set[str]:
    """Words naming what the reviewer saw wrong: defect labels, weak criteria and their reasons."""
    text = [d.label for d in critique.defects]
    for name, s in critique.scores.items():
        if s.score < 0.7:
            text += [name.replace("_", " "), s.reason]
    if critique.reject_reason:
        text.append(critique.reject_reason)
    return _words(" ".join(text))


def apply_changes(start: LoopParams, current: LoopParams, critique: Critique, rails: GuardRails = GuardRails()) -> AppliedChanges:
    changes = critique.changes
    applied: list[str] = []
    refused: list[str] = []
    prompt, negative, cfg, steps, seed = current.prompt, current.negative, current.cfg, current.steps, current.seed

    have = {t.casefold() for t in _terms(prompt)}
    for term in _terms(changes.prompt_append):
        if term.casefold() in have:
            continue
        grown = len(prompt) + 2 + len(term) - len(start.prompt)
        if grown > rails.max_prompt_growth:
            refused.append(f"prompt term {term!r}: prompt growth is capped at {rails.max_prompt_growth} characters")
            continue
        prompt = f"{prompt}, {term}" if prompt else term
        have.add(term.casefold())
        applied.append(f"prompt + {term!r}")

    seen = seen_problems(critique)
    have_neg = {t.casefold() for t in _terms(negative)}
    for term in _terms(changes.neg_append):
        if term.casefold() in have_neg:
            continue
        if not rails.negative_prompt:
            refused.append(f"negative term {term!r}: this model family has no negative prompt")
            continue
        if not _words(term) & seen:
            refused.append(f"negative term {term!r}: not a problem the reviewer reported seeing")
            continue
        negative = f"{negative}, {term}" if negative else term
        have_neg.add(term.casefold())
        applied.append(f"negative + {term!r}")

    if changes.cfg is not None and changes.cfg != cfg:
        target = min(max(changes.cfg, start.cfg - rails.cfg_span), start.cfg + rails.cfg_span)
        if target != changes.cfg:
            refused.append(f"cfg {changes.cfg:g} is outside {start.cfg:g} +- {rails.cfg_span:g}; used {target:g}")
        if target != cfg:
            applied.append(f"cfg {cfg:g} -> {target:g}")
            cfg = target
    if changes.steps is not None and changes.steps != steps:
        target = min(max(changes.steps, start.steps - rails.steps_span, 1), start.steps + rails.steps_span, 150)
        if target != changes.steps:
            refused.append(f"steps {changes.steps} is outside {start.steps} +- {rails.steps_span}; used {target}")
        if target != steps:
            applied.append(f"steps {steps} -> {target}")
            steps = target

    if critique.composition_wrong:
        new_seed = changes.seed if changes.seed is not None and changes.seed != seed else (seed + NEW_SEED_STEP) % (SEED_MAX + 1)
        applied.append(f"seed {seed} -> {new_seed} (the reviewer said the composition is wrong)")
        seed = new_seed
    elif changes.seed is not None and changes.seed != seed:
        refused.append(f"seed {changes.seed}: the seed stays locked unless the reviewer says the composition is wrong")

    params = LoopParams(prompt=prompt, negative=negative, cfg=cfg, steps=steps, seed=seed)
    return AppliedChanges(params=params, applied=applied, refused=refused)


# -- the controller ------------------------------------------------------------------------------
@dataclass
class _Best:
    image: Path
    critique: Critique
    params: LoopParams

    def beaten_by(self, other: Critique, rails: GuardRails) -> bool:
        if other.rejected and not self.critique.rejected:
            return False
        return other.score > self.critique.score + rails.min_improvement


class _ReviewerFailed(Exception):
    def __init__(self, reason: str, answers):
        self.reason, self.answers = reason, answers


def run_loop(*, start_image: Path, start_params: LoopParams, ctx: ReviewContext, judge: LoopJudge, render: RenderFn,
             limits: LoopLimits, loop_dir: Path | None = None,
             rails: GuardRails = GuardRails(), tolerate_service_errors: bool = False) -> LoopRecord:
    """Run the loop for one page and return (and write as loop/loop.json) its record.

    ``start_image`` was rendered with ``start_params`` (the refine or inpaint output); it is the
    first best and what the first loop's iterations re-render.

    ``tolerate_service_errors``: an unreachable or slow reviewer ends the loop (best so far moves on)
    instead of raising; pass ``settings.review_fallback == "heuristic"``.
    """
    loop_dir = Path(loop_dir) if loop_dir is not None else ctx.page_dir / "loop"
    loop_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*loop_dir.glob("loop_*_iter_*.*"), loop_dir / "loop.json"]:
        stale.unlink(missing_ok=True)
    history: list[str] = []
    files: list[str] = []

    def ask(image: Path, params: LoopParams) -> Critique:
        try:
            return judge.critique(image, ctx, params, history)
        except AnswerUnusable as exc:
            raise _ReviewerFailed(exc.what, exc.answers) from exc
        except OllamaError as exc:
            if not tolerate_service_errors:
                raise
            raise _ReviewerFailed(f"the reviewer's server failed: {exc.what}", []) from exc

    def finish(best: _Best | None, start: Critique | None, stopped: str, note: str = "", last: Critique | None = None,
               failed=()) -> LoopRecord:
        chosen = best or _Best(Path(start_image), start, start_params)  # type: ignore[arg-type]
        record = LoopRecord(page=ctx.page, start_image=_rel(start_image, ctx), start=start, iterations=files,
                            best_image=_rel(chosen.image, ctx), best_score=chosen.critique.score if chosen.critique else 0.0,
                            best_params=chosen.params, stopped=stopped, last_critique=last,
                            failed_answers=list(failed), note=note)
        atomic_write_json(loop_dir / "loop.json", record)
        return record

    if limits.max_loops == 0 or limits.iterations_per_loop == 0:
        return finish(None, None, "no_loops", "the loop is switched off (iterations_per_loop or max_loops is 0)")
    try:
        start = ask(Path(start_image), start_params)
    except _ReviewerFailed as failed:
        return finish(None, None, "reviewer_failed", failed.reason, failed=failed.answers)
    best = _Best(Path(start_image), start, start_params)
    asked, params = start, start_params
    tried: dict[tuple[str, str], str] = {}  # (source image, parameters) already rendered -> its iteration
    pending: Critique | None = None  # a critique asked after a revert, not yet in any record
    try:
        for loop in range(1, limits.max_loops + 1):
            source = Path(start_image) if loop == 1 else best.image
            for iteration in range(1, limits.iterations_per_loop + 1):
                if asked.done:
                    return finish(best, start, "done", asked.reason, last=pending)
                change = apply_changes(start_params, params, asked, rails)
                if change.params == params:
                    return finish(best, start, "no_changes", "no change survived the guard rails: "
                                  + ("; ".join(change.refused) or "the reviewer asked for none"), last=pending)
                stem = f"loop_{loop:02d}_iter_{iteration:02d}"
                again = tried.get((str(source), change.params.model_dump_json()))
                if again is not None:  # the renderer is deterministic: the same image again, judged the same
                    return finish(best, start, "no_changes", f"no new changes: {'; '.join(change.applied)} gives the "
                                  f"parameters {again} already tried; the best image moves on", last=pending)
                tried[(str(source), change.params.model_dump_json())] = stem
                pending = None
                image = _place(render(RenderAgain(source_image=source, params=change.params, loop=loop,
                                                  iteration=iteration, out_dir=loop_dir, stem=stem)), loop_dir / f"{stem}.png")
                before = best.critique.score
                entry = dict(loop=loop, iteration=iteration, source_image=_rel(source, ctx), image=_rel(image, ctx),
                             sha256=sha256_file(image), asked=asked, changes=change, best_score_before=before)
                try:
                    result = ask(image, change.params)
                except _ReviewerFailed as failed:
                    _log(loop_dir, files, IterationRecord(**entry, result=None, outcome="unjudged"))
                    return finish(best, start, "reviewer_failed", failed.reason, failed=failed.answers)
                improved = best.beaten_by(result, rails)
                _log(loop_dir, files, IterationRecord(**entry, result=result, outcome="improved" if improved else "reverted"))
                what = "; ".join(change.applied)
                if improved:
                    history.append(f"{what}: score {before:.2f} -> {result.score:.2f}, kept")
                    best = _Best(image, result, change.params)
                    asked, params = result, change.params
                    continue
                history.append(f"{what}: scored {result.score:.2f}, not better than {before:.2f}; reverted")
                params = best.params
                if loop == limits.max_loops and iteration == limits.iterations_per_loop:
                    break
                asked = pending = ask(best.image, best.params)  # ask again from the best, knowing what failed
    except _ReviewerFailed as failed:
        return finish(best, start, "reviewer_failed", failed.reason, failed=failed.answers)
    if asked.done:
        return finish(best, start, "done", asked.reason, last=pending)
    return finish(best, start, "limits", f"stopped after {limits.max_loops} loop(s) of {limits.iterations_per_loop} "
                                         "iteration(s); the best image moves on", last=pending)


def _place(rendered: Path, dest: Path) -> Path:
    rendered = Path(rendered)
    if rendered.resolve() != dest.resolve():
        atomic_write_bytes(dest, rendered.read_bytes())
    return dest


def _log(loop_dir: Path, files: list[str], record: IterationRecord) -> None:
    name = f"loop_{record.loop:02d}_iter_{record.iteration:02d}.json"
    atomic_write_json(loop_dir / name, record)
    files.append(name)


def _rel(path: Path, ctx: ReviewContext) -> str:
    try:
        return Path(path).resolve().relative_to(ctx.page_dir.resolve()).as_posix()
    except ValueError:
        return str(path)
