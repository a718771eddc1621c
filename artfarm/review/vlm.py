"""The `vlm` reviewer: a vision LLM served by Ollama judges each candidate as an art director would.

Each candidate is judged on its own against the page's brief and checklist (with the
characters' reference pictures); the ranking follows the scores, and a near tie at the top
is settled by asking in both orders. Every raw reply is kept in review.json. When the
model keeps breaking the format the page falls back to another reviewer (`heuristic`),
and review.json says so; an unreachable or slow Ollama is an exit-3 error unless the
fallback was asked for (--review-fallback heuristic).

The cache identity holds everything that shapes what the model sees and answers, including the
model's digest (GET /api/tags, once per run), so `ollama pull` replacing a tag redoes the
reviews. When Ollama cannot be asked (``status`` or a cached run with Ollama down), the digest
last recorded in the book's review.json files stands in.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from artfarm.errors import RunError
from artfarm.models.loop import Critique, LoopParams
from artfarm.models.review import (CandidateReview, CriterionScore, Defect, ReviewAnswer, ReviewerInfo, ReviewRecord,
                                   Selection, SheetMatch)
from artfarm.ollama.client import OllamaClient
from artfarm.ollama.errors import OllamaError
from artfarm.ollama.models import ChatMessage
from artfarm.review import vlm_prompts as prompts
from artfarm.review.answers import AnswerUnusable, CritiqueAnswer, PairwiseAnswer, VerdictAnswer, ask
from artfarm.review.base import Candidate, ReviewContext, Reviewer
from artfarm.review.criteria import CRITERIA
from artfarm.review.imaging import PreparedImage, prepare_image
from artfarm.review.ranking import NEAR_TIE, gate_failures, rank, settle_near_tie, total_score

FallbackSource = Callable[[], Reviewer]
DigestSource = Callable[[str], "str | None"]
log = logging.getLogger("artfarm.review")


@dataclass(frozen=True)
class VlmOptions:
    max_attempts: int = 3
    max_edge: int = 1024
    ref_max_edge: int = 512
    jpeg_quality: int = 85
    max_refs: int = 4
    near_tie: float = NEAR_TIE
    seed: int = 42
    keep_alive: str = "10m"


class VlmReviewer:
    kind = "vlm"

    def __init__(self, client: OllamaClient, model: str, *, fallback: Reviewer | FallbackSource | None = None,
                 fallback_on_service_error: bool = False, options: VlmOptions = VlmOptions(),
                 recorded_digest: DigestSource | None = None):
        self.client = client
        self.model = model
        self._fallback = fallback
        self.fallback_on_service_error = fallback_on_service_error
        self.options = options
        self._digest: str | None = None
        self._recorded_digest = recorded_digest
        self._identity_lock = threading.Lock()
        self._identity_digest: tuple[str | None] | None = None  # looked up once, so every key of a run agrees

    def identity(self) -> dict[str, Any]:
        o = self.options
        return {"kind": self.kind, "model": self.model, "digest": self.model_digest(),
                "prompt_version": prompts.PROMPT_VERSION, "max_edge": o.max_edge, "ref_max_edge": o.ref_max_edge,
                "max_refs": o.max_refs, "max_attempts": o.max_attempts, "jpeg_quality": o.jpeg_quality,
                "near_tie": o.near_tie, "seed": o.seed}

    def model_digest(self) -> str | None:
        """The pulled model's digest, asked once; when Ollama cannot say, the digest the book's reviews recorded."""
        with self._identity_lock:
            if self._identity_digest is None:
                try:
                    digest: str | None = self.client.require_model(self.model).digest
                except OllamaError as exc:
                    digest = self._recorded_digest(self.model) if self._recorded_digest else None
                    log.warning("could not read the digest of %s from Ollama (%s); using %s", self.model, exc.what,
                                "the one recorded in review.json" if digest else "none, so vlm reviews count as changed")
                self._identity_digest = (digest,)
            return self._identity_digest[0]

    def info(self) -> ReviewerInfo:
        return ReviewerInfo(kind=self.kind, model=self.model, digest=self._digest, prompt_version=prompts.PROMPT_VERSION)

    def close(self) -> None:
        self.client.close()

    # -- the Reviewer seam -------------------------------------------------------------------
    def review(self, candidates: list[Candidate], ctx: ReviewContext) -> ReviewRecord:
        answers: list[ReviewAnswer] = []
        notes: list[str] = []
        try:
            self._require_model()
            reviews = [self._judge(c, ctx, answers, notes) for c in candidates]
            ranking, comparison = settle_near_tie(rank(reviews), reviews,
                                                  lambda first, second: self._prefer(first, second, candidates, ctx, answers, notes),
                                                  near_tie=self.options.near_tie)
        except AnswerUnusable as exc:
            return self._fall_back(candidates, ctx, f"{exc.what}; the page was reviewed by the fallback reviewer", answers,
                                   cause="answers")
        except OllamaError as exc:
            if not self.fallback_on_service_error:
                exc.fix = f"{exc.fix}; or pass --review-fallback heuristic to review with the heuristic reviewer meanwhile"
                raise
            return self._fall_back(candidates, ctx, f"Ollama failed ({exc.what}); --review-fallback heuristic was given",
                                   answers, cause="service")
        by_index = {r.index: r for r in reviews}
        best = by_index[ranking[0]] if ranking else None
        if comparison is not None and comparison.outcome == "tie":
            notes.append(f"candidates {comparison.a} and {comparison.b} scored within {self.options.near_tie}; the two "
                         "orders of the pairwise question disagreed, so it counts as a tie and the score order stands")
        if best is None or best.rejected:
            return ReviewRecord(page=ctx.page, status="rejected_all", reviewer=self.info(), candidates=reviews,
                                ranking=ranking, comparisons=[comparison] if comparison else [], answers=answers,
                                notes=notes + ["every candidate failed a hard criterion; draft again"])
        selection = Selection(index=best.index, file=best.file, seed=best.seed,
                              rationale=_rationale(best, comparison, len(candidates)))
        return ReviewRecord(page=ctx.page, status="selected", reviewer=self.info(), candidates=reviews, ranking=ranking,
                            comparisons=[comparison] if comparison else [], selection=selection, defects=best.defects,
                            answers=answers, notes=notes)

    # -- for the self-improving loop ------------------------------------------------------------
    def critique(self, image: Path, ctx: ReviewContext, params: LoopParams, history: list[str]) -> Critique:
        """The loop contract: scores, defects, done, changes, reason. Raises AnswerUnusable or OllamaError."""
        self._require_model()
        answers: list[ReviewAnswer] = []
        sent = self._prepare(image)
        refs, ref_images = self._references(ctx)
        settings = f"cfg {params.cfg:g}, steps {params.steps}, seed {params.seed}"
        text = prompts.critique_prompt(ctx, sent.width, sent.height, refs, settings, history)
        answer = ask(self.client, self.model, self._messages(text, [sent, *ref_images]), CritiqueAnswer,
                     purpose="critique", max_attempts=self.options.max_attempts, seed=self.options.seed,
                     keep_alive=self.options.keep_alive, answers=answers)
        scores, defects, total, failures = self._verdict_parts(answer, sent, ctx)
        return Critique(score=total, scores=scores, defects=defects, rejected=bool(failures),
                        reject_reason="; ".join(failures) or None, done=answer.done and not failures,
                        changes=answer.changes, composition_wrong=answer.composition_wrong, reason=answer.reason,
                        answers=answers)

    # -- internals ---------------------------------------------------------------------------
    def _require_model(self) -> None:
        if self._digest is None:
            self._digest = self.client.require_model(self.model).digest

    def _prepare(self, path: Path, max_edge: int | None = None) -> PreparedImage:
        return prepare_image(path, max_edge=max_edge or self.options.max_edge, quality=self.options.jpeg_quality)

    def _messages(self, text: str, images: list[PreparedImage]) -> list[ChatMessage]:
        return [ChatMessage(role="system", content=prompts.SYSTEM),
                ChatMessage(role="user", content=text, images=[i.b64() for i in images])]

    def reference_paths(self, ctx: ReviewContext) -> list[tuple[str | None, str]]:
        """(character id, or None for a style reference; book-relative path) of the reference pictures shown
        with each image, up to ``max_refs``: one per character (the spec's refs first, then the bible's),
        then the spec's style references."""
        people = ctx.book.characters.by_id()
        wanted: list[tuple[str | None, str]] = []
        for cast in ctx.spec.characters:
            who = people.get(cast.id)
            wanted += [(cast.id, rel) for rel in (ctx.spec.refs.characters.get(cast.id) or (who.refs if who else []))[:1]]
        wanted += [(None, rel) for rel in ctx.spec.refs.style]
        chosen = [(who, rel) for who, rel in wanted if ctx.book.resolve(rel, what="reference").is_file()]
        return chosen[:self.options.max_refs]

    def _references(self, ctx: ReviewContext) -> tuple[list[prompts.RefImage], list[PreparedImage]]:
        people = ctx.book.characters.by_id()
        refs: list[prompts.RefImage] = []
        images: list[PreparedImage] = []
        for char_id, rel in self.reference_paths(ctx):
            who = people.get(char_id) if char_id else None
            images.append(self._prepare(ctx.book.resolve(rel, what="reference"), self.options.ref_max_edge))
            refs.append(prompts.RefImage(character=char_id, name=who.name if who else (char_id or "style")))
        return refs, images

    def _judge(self, candidate: Candidate, ctx: ReviewContext, answers: list[ReviewAnswer], notes: list[str]) -> CandidateReview:
        sent = self._prepare(candidate.path)
        refs, ref_images = self._references(ctx)
        text = prompts.verdict_prompt(ctx, sent.width, sent.height, refs)
        answer = ask(self.client, self.model, self._messages(text, [sent, *ref_images]), VerdictAnswer,
                     purpose="verdict", max_attempts=self.options.max_attempts, seed=self.options.seed,
                     keep_alive=self.options.keep_alive, answers=answers, candidate=candidate.index)
        scores, defects, total, failures = self._verdict_parts(answer, sent, ctx, notes, candidate.index)
        notes.append(f"candidate {candidate.index}: {answer.summary}")
        shown = {r.character for r in refs if r.character}
        matches = [SheetMatch(character=m.character, same=m.same, reason=m.reason)
                   for m in answer.same_character if m.character in shown]
        notes += [f"candidate {candidate.index}: same_character for '{m.character}', which has no reference shown; left out"
                  for m in answer.same_character if m.character not in shown]
        return CandidateReview(index=candidate.index, file=_display(candidate.path, ctx), seed=candidate.seed,
                               sha256=candidate.sha256, scores=scores, total=total, rejected=bool(failures),
                               reject_reason="; ".join(failures) or None, defects=defects, raw_answer=answers[-1].raw,
                               sheet_matches=matches)

    def _verdict_parts(self, answer: VerdictAnswer, sent: PreparedImage, ctx: ReviewContext,
                       notes: list[str] | None = None, index: int | None = None):
        scores = {}
        for name in CRITERIA:
            given = getattr(answer.scores, name)
            scores[name] = CriterionScore(score=given.score / 10, reason=given.reason)
        defects = []
        for d in answer.defects:
            box = sent.to_source(d.box)
            if box is None:
                if notes is not None:
                    notes.append(f"candidate {index}: defect '{d.label}' had a box outside the image {d.box}; left out")
                continue
            defects.append(Defect(label=d.label, box=box, fix_prompt=d.fix_prompt, severity=d.severity))
        skip = set() if ctx.spec.characters else {"character_consistency"}
        return scores, defects, total_score(scores, skip=skip), gate_failures(scores)

    def _prefer(self, first: int, second: int, candidates: list[Candidate], ctx: ReviewContext,
                answers: list[ReviewAnswer], notes: list[str]) -> int | None:
        by_index = {c.index: c for c in candidates}
        images = [self._prepare(by_index[first].path), self._prepare(by_index[second].path)]
        try:
            answer = ask(self.client, self.model, self._messages(prompts.pairwise_prompt(ctx), images), PairwiseAnswer,
                         purpose="pairwise", max_attempts=self.options.max_attempts, seed=self.options.seed,
                         keep_alive=self.options.keep_alive, answers=answers, order=[first, second])
        except AnswerUnusable as exc:
            notes.append(f"pairwise {first} vs {second}: no usable answer ({exc.what}); counted as no preference")
            return None
        return first if answer.better == "first" else second

    def _fall_back(self, candidates: list[Candidate], ctx: ReviewContext, reason: str,
                   answers: list[ReviewAnswer], *, cause: str) -> ReviewRecord:
        fallback = self._fallback
        if fallback is not None and not isinstance(fallback, Reviewer):
            fallback = fallback()
        if fallback is None:
            raise RunError(f"page {ctx.page}: {reason}", where=str(ctx.page_dir),
                           fix="pass --review-fallback heuristic, or choose by hand with `artfarm review --select`")
        record = fallback.review(candidates, ctx)
        return record.model_copy(update={"fallback": f"vlm ({self.model}): {reason}", "fallback_cause": cause,
                                         "answers": answers + record.answers})


def _display(path: Path, ctx: ReviewContext) -> str:
    path = Path(path)
    for base in (ctx.page_dir, ctx.book.root):
        try:
            return path.resolve().relative_to(Path(base).resolve()).as_posix()
        except ValueError:
            continue
    return path.name


def _rationale(best: CandidateReview, comparison, count: int) -> str:
    strongest = sorted(best.scores.items(), key=lambda kv: -kv[1].score)[:2]
    weakest = min(best.scores.items(), key=lambda kv: kv[1].score, default=None)
    text = (f"candidate {best.index} ranked first of {count} with {best.total:.2f} "
            f"(best: {', '.join(f'{k} {v.score:.1f}' for k, v in strongest)}")
    if weakest:
        text += f"; weakest: {weakest[0]} {weakest[1].score:.1f} — {weakest[1].reason}"
    text += ")"
    if comparison is not None:
        text += {"a": "; a near tie, confirmed by the pairwise question in both orders",
                 "b": "; a near tie, won by the pairwise question in both orders",
                 "tie": "; a near tie the pairwise question could not break (orders disagreed), score order kept"}[comparison.outcome]
    return text


def create(settings, book) -> VlmReviewer:
    """Registry factory: the model from book.yaml models.vlm, the URL from settings (flag > env > book > default)."""
    from artfarm.registry import reviewers

    def heuristic() -> Reviewer:
        return reviewers.create("heuristic", settings, book)

    return VlmReviewer(OllamaClient(settings.ollama_url), book.book.models.vlm, fallback=heuristic,
                       fallback_on_service_error=settings.review_fallback == "heuristic",
                       recorded_digest=lambda model: recorded_digest(book.root, model))


def recorded_digest(book_root: Path, model: str) -> str | None:
    """The model digest in the newest vlm review.json of the book that names ``model``."""
    found: list[tuple[float, str]] = []
    for path in Path(book_root).glob("pages/*/review.json"):
        try:
            record = ReviewRecord.model_validate_json(path.read_bytes())
            when = path.stat().st_mtime
        except (OSError, ValueError):
            continue
        if record.reviewer.kind == VlmReviewer.kind and record.reviewer.model == model and record.reviewer.digest:
            found.append((when, record.reviewer.digest))
    return max(found)[1] if found else None
