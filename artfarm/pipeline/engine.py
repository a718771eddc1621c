"""Running pages through the stages, several pages at a time, with caching and a summary.

Pages are independent: each worker takes the next page and walks it through every stage,
so while one page is being reviewed another page's job is already with the renderer.
``jobs`` workers run at once (default: for ComfyUI two per server plus one, so each server
has a job running and the next one waiting while a page is reviewed). A page that fails while rendering stops the run unless
``keep_going``; a page whose inputs are bad (an invalid RenderSpec) fails alone. The failed
page's later stages are always skipped.

Ctrl-C cancels the renderer's jobs in flight and waits for every worker to return before the
lock is released, so nothing is written into the book after the run has ended. A caller running
the engine in a thread of its own (the MCP server) stops it the same way with ``RunStop.interrupt``.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from artfarm.book.loader import LoadedBook
from artfarm.errors import ArtfarmError, BadInputError, Interrupted, RunError, SymlinkRefused
from artfarm.models.records import AdoptReport, BookStatus, PageResult, PageStatusRow, RunSummary, StageOutcome
from artfarm.pipeline.lock import BookLock
from artfarm.pipeline.progress import Reporter
from artfarm.pipeline.records import now_iso, read_record, remove_record, write_record
from artfarm.pipeline.context import STAGE_ORDER, PageContext, PageEdited, PageWaiting, refuse_linked_stage_dir
from artfarm.pipeline.edits import adopt, move_edits_to_history
from artfarm.pipeline.stage import Stage
from artfarm.pipeline.stages import STAGES
from artfarm.prompts.family import compile_for_family
from artfarm.render.base import ProgressEvent, Renderer
from artfarm.review.base import Reviewer
from artfarm.settings import Settings, resolve_settings

log = logging.getLogger("artfarm.pipeline")


@dataclass
class RunOptions:
    pages: list[int] | None = None
    jobs: int | None = None
    keep_going: bool = False
    from_stage: str | None = None
    force: bool = False


def default_jobs(settings: Settings | None) -> int:
    """Pages in flight: for ComfyUI two per server (one job running there, the next already in its
    queue, as artfarm/comfyui/pool.py admits them) plus one being reviewed; else one plus one."""
    if settings is None:
        return 2
    if settings.jobs:
        return settings.jobs
    if settings.renderer == "comfyui":
        return 2 * len(settings.comfyui_urls) + 1
    return 2


class RunStop:
    """Why no more pages or stages start: a failure (``set``), or Ctrl-C (``interrupt``, which also cancels the
    renderer's jobs in flight). Thread-safe, so whoever started a run in another thread (a cancelled MCP call)
    interrupts it exactly as Ctrl-C does in the CLI."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._guard = threading.Lock()
        self._engine: Engine | None = None
        self.interrupted = False

    def is_set(self) -> bool:
        return self._event.is_set()

    @property
    def why(self) -> str:
        return "the run was interrupted" if self.interrupted else "the run stopped after a failure (use --keep-going)"

    def set(self) -> None:
        self._event.set()

    def interrupt(self) -> None:
        with self._guard:
            self.interrupted = True
            self._event.set()
            engine = self._engine
        if engine is not None:  # before the run began, the set event alone keeps every page from starting
            engine._cancel_renderer()

    def attach(self, engine: Engine) -> None:
        with self._guard:
            self._engine = engine


class _PageFailed(Exception):
    """``stops``: the failure happened while rendering, so (without --keep-going) the run stops."""

    def __init__(self, error: BaseException, stops: bool = False):
        self.error = error
        self.stops = stops


class Engine:
    def __init__(self, book: LoadedBook, renderer: Renderer, reviewer: Reviewer, reporter: Reporter | None = None,
                 settings: Settings | None = None):
        self.book = book
        self.renderer = renderer
        self.reviewer = reviewer
        self.reporter = reporter or Reporter(tty=False)
        self.settings = settings if settings is not None else resolve_settings(book.book)

    # -- one page -------------------------------------------------------------------------

    def context(self, page: int) -> PageContext:
        spec = self.book.require_spec(page)
        pack = self.book.style_packs[spec.style_pack]
        prompt = compile_for_family(spec, self.book.characters, pack.pack, self.book.book.models.family)
        return PageContext(book=self.book, page=page, spec=spec, pack=pack, prompt=prompt, renderer=self.renderer,
                           reviewer=self.reviewer, progress=self._progress, settings=self.settings)

    def _progress(self, event: ProgressEvent) -> None:
        self.reporter.progress(event)

    def run_page(self, page: int, options: RunOptions, stop: RunStop) -> PageResult:
        started = time.monotonic()
        outcomes: list[StageOutcome] = []
        say = self.reporter.log
        if stop.is_set():
            return PageResult(page=page, status="skipped", error=f"not started: {stop.why}")
        try:
            ctx = self.context(page)
        except ArtfarmError as exc:
            say(f"page {page}: failed: {exc}", logging.ERROR)
            self.reporter.page_finished(page)
            return PageResult(page=page, status="failed", error=str(exc), error_exit_code=exc.exit_code)
        first_forced = STAGE_ORDER.index(options.from_stage) if options.from_stage else (0 if options.force else None)
        for index, stage in enumerate(STAGES):
            if stop.is_set():
                outcomes.append(StageOutcome(stage=stage.name, action="skipped", reason=stop.why))
                continue
            try:
                outcome = self._run_stage(ctx, stage, first_forced is not None and index >= first_forced, options)
            except PageWaiting as waiting:
                outcomes.append(StageOutcome(stage=stage.name, action="waiting", reason=str(waiting)))
                say(f"page {page} {stage.name}: {waiting}")
                self.reporter.page_finished(page)
                return PageResult(page=page, status="waiting", stages=outcomes)
            except PageEdited as edited:
                outcomes.append(StageOutcome(stage=stage.name, action="edited", reason=str(edited)))
                say(f"page {page} {stage.name}: {edited}", logging.WARNING)
                self.reporter.page_finished(page)
                return PageResult(page=page, status="edited", stages=outcomes)
            except _PageFailed as failed:
                outcomes.append(StageOutcome(stage=stage.name, action="failed", reason=str(failed.error)))
                outcomes += [StageOutcome(stage=s.name, action="skipped", reason=f"page failed at {stage.name}")
                             for s in STAGES[index + 1:]]
                if isinstance(failed.error, Interrupted):  # nothing recorded: the next run picks it up here
                    say(f"page {page} {stage.name}: stopped: {failed.error.what}", logging.WARNING)
                else:
                    say(f"page {page} {stage.name}: failed: {failed.error}", logging.ERROR)
                if failed.stops and not options.keep_going:
                    stop.set()
                self.reporter.page_finished(page)
                return PageResult(page=page, status="failed", stages=outcomes, error=str(failed.error),
                                  error_exit_code=getattr(failed.error, "exit_code", RunError.exit_code))
            outcomes.append(outcome)
        self.reporter.page_finished(page)
        if any(o.action == "skipped" for o in outcomes):
            return PageResult(page=page, status="skipped", stages=outcomes,
                              error="stopped part way: another page failed (use --keep-going)")
        ran = any(o.action == "ran" for o in outcomes)
        final = ctx.rel(ctx.output("final")) if "final" in ctx.done else None
        if ran:
            say(f"page {page}: done in {time.monotonic() - started:.1f}s -> {final}")
        return PageResult(page=page, status="done" if ran else "cached", stages=outcomes, final=final)

    def _run_stage(self, ctx: PageContext, stage: Stage, forced: bool, options: RunOptions) -> StageOutcome:
        say = self.reporter.log
        try:
            needed, why = stage.needed(ctx)
        except Exception as exc:  # an unreadable mask, say: the page fails, the run goes on
            raise _PageFailed(_as_artfarm_error(exc, ctx, stage)) from exc
        if not needed:
            say(f"page {ctx.page} {stage.name}: skipped (not needed: {why})")
            return StageOutcome(stage=stage.name, action="not-needed", reason=why)
        try:
            plan = stage.plan(ctx)
            verdict = None if forced else stage.verdict(ctx, plan)
        except Exception as exc:  # unreadable inputs: the page fails, the run goes on
            raise _PageFailed(_as_artfarm_error(exc, ctx, stage)) from exc
        plan.forced = forced
        if verdict is None:
            reason = f"--from {options.from_stage}" if options.from_stage else "--force"
        else:
            if verdict.state == "hit":
                assert verdict.record is not None
                ctx.done[stage.name] = verdict.record
                say(f"page {ctx.page} {stage.name}: skipped (cached)")
                return StageOutcome(stage=stage.name, action="cached", reason="cached")
            if verdict.state == "waiting":
                raise PageWaiting(verdict.reason)
            if verdict.state == "edited":
                raise PageEdited(verdict.reason)
            if verdict.state == "rejected":
                raise _PageFailed(RunError(verdict.reason, where=f"page {ctx.page} review",
                                           fix="change the RenderSpec's seed or scene, or choose a candidate with "
                                               f"`artfarm review {self.book.id} {ctx.page} --select N --reason ...`"))
            reason = verdict.reason
        say(f"page {ctx.page} {stage.name}: running ({reason})")
        self.reporter.stage(ctx.page, stage.name)
        stage_dir = ctx.stage_dir(stage.dir_name)
        started, clock = now_iso(), time.monotonic()
        try:
            refuse_linked_stage_dir(stage_dir)
        except SymlinkRefused as exc:  # nothing is written there, not even a failure record
            raise _PageFailed(exc) from exc
        try:
            for kept in move_edits_to_history(ctx, stage):
                say(f"page {ctx.page} {stage.name}: the edited file is kept as {ctx.rel(kept)}", logging.WARNING)
            remove_record(stage_dir)
            record = stage.run(ctx, plan)
        except PageWaiting:
            raise
        except Exception as exc:  # a backend's failure is the page's, recorded; a crash (BaseException) is not caught
            error = _as_artfarm_error(exc, ctx, stage)
            log.debug("page %s %s failed", ctx.page, stage.name, exc_info=True)
            if not isinstance(error, Interrupted):  # a stopped job leaves no record: the next run simply resumes
                self._record_failure(ctx, stage, plan, error, started, time.monotonic() - clock)
            raise _PageFailed(error, stops=True) from exc
        record = record.model_copy(update={"started": started, "finished": now_iso(),
                                           "seconds": round(time.monotonic() - clock, 3)})
        write_record(stage_dir, record)
        ctx.done[stage.name] = record
        return StageOutcome(stage=stage.name, action="ran", reason=reason, seconds=record.seconds)

    def _record_failure(self, ctx: PageContext, stage: Stage, plan: Any, error: BaseException, started: str,
                        seconds: float) -> None:
        try:
            write_record(ctx.stage_dir(stage.dir_name), stage.failed_record(ctx, plan, error, started, seconds))
        except ArtfarmError as exc:
            self.reporter.log(f"page {ctx.page} {stage.name}: could not record the failure: {exc}", logging.WARNING)

    # -- the book --------------------------------------------------------------------------

    def run(self, options: RunOptions, jobs: int, stop: RunStop | None = None) -> list[PageResult]:
        """``stop``: the caller's handle to interrupt the run from another thread, as Ctrl-C does."""
        pages = options.pages if options.pages is not None else self.book.art_pages()
        self.reporter.start(len(pages))
        stop = stop if stop is not None else RunStop()
        stop.attach(self)
        pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="artfarm-page")
        futures: list[Future] = []
        try:
            futures += [pool.submit(self.run_page, page, options, stop) for page in pages]
            results = [future.result() for future in futures]
        except BaseException as exc:  # Ctrl-C, or a worker crashed: stop, then wait until no worker is left
            stop.set()
            self._stop_workers(pool, futures, stop, interrupted=isinstance(exc, KeyboardInterrupt))
            raise
        finally:
            pool.shutdown(wait=True)
        return results

    def _stop_workers(self, pool: ThreadPoolExecutor, futures: list[Future], stop: RunStop, interrupted: bool) -> None:
        """Cancel the renderer's jobs (Ctrl-C), start no more pages and join every worker. More Ctrl-Cs
        only say what is being waited for: the lock stays held and the backends open until all returned."""
        cancel, told = interrupted, False
        while True:
            try:
                if cancel:
                    stop.interrupt()
                    cancel = False
                pool.shutdown(wait=False, cancel_futures=True)  # pages not started never start
                if interrupted and not told:
                    told = True
                    self._tell_waiting(futures)
                while _in_flight(futures):
                    wait(futures, timeout=0.5)
                return
            except KeyboardInterrupt:
                told = True
                self._tell_waiting(futures)

    def _tell_waiting(self, futures: list[Future]) -> None:
        if _in_flight(futures):
            self.reporter.log(f"stopping, waiting for {_in_flight(futures)} job(s) in flight", logging.WARNING)

    def _cancel_renderer(self) -> None:
        cancel = getattr(self.renderer, "cancel", None)  # a renderer without cancel() lets its jobs finish
        if callable(cancel):
            try:
                cancel()
            except Exception as exc:  # the workers are still waited for; this only makes it slower
                self.reporter.log(f"could not cancel the renderer's jobs ({exc})", logging.WARNING)

    def status(self, pages: list[int] | None = None) -> list[PageStatusRow]:
        return [self._guarded_status(p) for p in (pages if pages is not None else self.book.art_pages())]

    def _guarded_status(self, page: int) -> PageStatusRow:
        """One page's trouble is that page's row, never the end of ``status``."""
        try:
            return self.page_status(page)
        except Exception as exc:
            log.debug("status of page %s failed", page, exc_info=True)
            error = exc if isinstance(exc, ArtfarmError) else RunError(
                f"unexpected {type(exc).__name__}: {exc}", where=f"page {page}",
                fix="rerun with --debug for the traceback and report it")
            return PageStatusRow(page=page, stages={s: "missing" for s in STAGE_ORDER}, error=str(error))

    def page_status(self, page: int) -> PageStatusRow:
        """The same checks a run makes, without running anything."""
        states: dict[str, str] = {}
        reasons: dict[str, str] = {}
        try:
            ctx = self.context(page)
        except ArtfarmError as exc:
            return PageStatusRow(page=page, stages={s: "missing" for s in STAGE_ORDER}, error=str(exc))
        blocked: str | None = None
        for stage in STAGES:
            if blocked is not None:
                states[stage.name] = self._state_behind(ctx, stage)
                if states[stage.name] in ("stale", "failed"):
                    reasons[stage.name] = f"{blocked} is not done"
                continue
            try:
                if not stage.needed(ctx)[0]:
                    states[stage.name] = "not-needed"
                    continue
                plan = stage.plan(ctx)
                verdict = stage.verdict(ctx, plan)
            except ArtfarmError as exc:
                states[stage.name], reasons[stage.name], blocked = "missing", str(exc), stage.name
                continue
            if verdict.state == "hit":
                assert verdict.record is not None
                ctx.done[stage.name] = verdict.record
                states[stage.name] = "done"
                continue
            blocked = stage.name
            reasons[stage.name] = verdict.reason
            if verdict.state in ("waiting", "edited"):
                states[stage.name] = verdict.state
            elif verdict.state == "rejected" or verdict.failed:
                states[stage.name] = "failed"
            elif self._has_record(ctx, stage):
                states[stage.name] = "stale"
            else:
                states[stage.name] = "missing"
        return PageStatusRow(page=page, stages=states, reason=reasons)


    @staticmethod
    def _has_record(ctx: PageContext, stage: Stage) -> bool:
        folder = ctx.stage_dir(stage.dir_name)
        return (folder / "stage.json").is_file() or (stage.name == "review" and (ctx.page_dir / "review.json").is_file())

    def _state_behind(self, ctx: PageContext, stage: Stage) -> str:
        """A stage after one that is not done: stale if it ran before, missing if never."""
        if not stage.needed(ctx)[0]:
            return "not-needed"
        record, _ = read_record(ctx.stage_dir(stage.dir_name), quiet=True)
        if record is not None and record.status == "failed":
            return "failed"
        return "stale" if self._has_record(ctx, stage) else "missing"


def _in_flight(futures: list[Future]) -> int:
    return sum(1 for f in futures if not f.done())


def _as_artfarm_error(exc: Exception, ctx: PageContext, stage: Stage) -> ArtfarmError:
    if isinstance(exc, ArtfarmError):
        return exc
    return RunError(f"unexpected {type(exc).__name__}: {exc}", where=f"page {ctx.page} {stage.name}",
                    fix="rerun with --debug for the traceback and report it")


# -- entry points for the commands ------------------------------------------------------------

def open_backends(book: LoadedBook, settings: Settings) -> tuple[Renderer, Reviewer]:
    from artfarm.registry import renderers, reviewers

    renderer = renderers.create(settings.renderer, settings, book)
    try:
        reviewer = reviewers.create(settings.reviewer, settings, book)
    except BaseException:
        renderer.close()
        raise
    return renderer, reviewer


def close_backends(renderer: Renderer, reviewer: Reviewer) -> None:
    """The renderer always has close(); a reviewer with a connection (vlm) has one too."""
    renderer.close()
    close = getattr(reviewer, "close", None)
    if callable(close):
        close()


def render_book(book: LoadedBook, settings: Settings, options: RunOptions, *, renderer: Renderer | None = None,
                reviewer: Reviewer | None = None, reporter: Reporter | None = None,
                stop: RunStop | None = None) -> RunSummary:
    """Lock the book, run the pages, and summarise. Backends default to those the settings name;
    ``stop.interrupt()`` from another thread stops the run as Ctrl-C does (see ``RunStop``)."""
    if options.from_stage is not None and options.from_stage not in STAGE_ORDER:
        raise BadInputError(f"unknown stage '{options.from_stage}'", where="--from", fix=f"use one of: {', '.join(STAGE_ORDER)}")
    unknown = [p for p in (options.pages or []) if p not in book.specs_expected()]
    if unknown:
        raise BadInputError(f"page {unknown[0]} is not in the book", where=str(book.root),
                            fix=f"pages with art: {', '.join(map(str, book.art_pages())) or 'none'}")
    clock = time.monotonic()
    owned = renderer is None or reviewer is None
    if owned:
        made_renderer, made_reviewer = open_backends(book, settings)
        renderer, reviewer = renderer or made_renderer, reviewer or made_reviewer
    assert renderer is not None and reviewer is not None
    reporter = reporter or Reporter()
    try:
        with BookLock(book.root):
            engine = Engine(book, renderer, reviewer, reporter, settings)
            results = engine.run(options, options.jobs or default_jobs(settings), stop)
    finally:
        reporter.close()
        if owned:
            close_backends(renderer, reviewer)
    return summarise(book, renderer, reviewer, results, time.monotonic() - clock)


def summarise(book: LoadedBook, renderer: Renderer, reviewer: Reviewer, results: list[PageResult],
              seconds: float) -> RunSummary:
    count = {s: sum(1 for r in results if r.status == s) for s in ("done", "cached", "failed", "waiting", "skipped", "edited")}
    codes = {r.error_exit_code or RunError.exit_code for r in results if r.status == "failed"}
    # one kind of failure keeps its code (2 bad RenderSpecs, 3 a service down); a mix is 1
    code = 0 if not codes else codes.pop() if len(codes) == 1 else RunError.exit_code
    return RunSummary(book=book.id, renderer=renderer.name, reviewer=reviewer.kind, pages=results, seconds=round(seconds, 3),
                      exit_code=code, **count)


@contextmanager
def _engine(book: LoadedBook, settings: Settings, renderer: Renderer | None, reviewer: Reviewer | None) -> Iterator[Engine]:
    """An engine over the given backends, else over those the settings name (closed afterwards)."""
    owned = renderer is None or reviewer is None
    if owned:
        made_renderer, made_reviewer = open_backends(book, settings)
        renderer, reviewer = renderer or made_renderer, reviewer or made_reviewer
    assert renderer is not None and reviewer is not None
    try:
        yield Engine(book, renderer, reviewer, settings=settings)
    finally:
        if owned:
            close_backends(renderer, reviewer)


def book_status(book: LoadedBook, settings: Settings, *, renderer: Renderer | None = None,
                reviewer: Reviewer | None = None) -> BookStatus:
    with _engine(book, settings, renderer, reviewer) as engine:
        rows = engine.status()
    return BookStatus(book=book.id, renderer=engine.renderer.name, reviewer=engine.reviewer.kind, pages=rows)


def adopt_edits(book: LoadedBook, settings: Settings, page: int, stage: str | None = None, *,
                renderer: Renderer | None = None, reviewer: Reviewer | None = None) -> AdoptReport:
    """Record a page's hand-edited outputs as its stages' outputs (``artfarm adopt``), keyed as a run
    with these settings would key them, under the book lock."""
    if stage is not None and stage not in STAGE_ORDER:
        raise BadInputError(f"unknown stage '{stage}'", where="--stage", fix=f"use one of: {', '.join(STAGE_ORDER)}")
    if page not in book.specs_expected():
        raise BadInputError(f"page {page} is not in the book", where=str(book.root),
                            fix=f"pages with art: {', '.join(map(str, book.art_pages())) or 'none'}")
    with _engine(book, settings, renderer, reviewer) as engine, BookLock(book.root):
        return adopt(engine.context(page), stage)


def summary_text(summary: RunSummary) -> str:
    lines = [f"{summary.book}: {summary.done} done, {summary.cached} cached, {summary.failed} failed"
             + (f", {summary.waiting} waiting for review" if summary.waiting else "")
             + (f", {summary.edited} edited by hand (kept)" if summary.edited else "")
             + (f", {summary.skipped} not started" if summary.skipped else "")
             + f" in {summary.seconds:.1f}s ({summary.renderer} renderer, {summary.reviewer} reviewer)"]
    for result in summary.pages:
        if result.status in ("failed", "waiting", "edited"):
            lines.append(f"  page {result.page}: {result.status}: {result.error or result.stages[-1].reason}")
    if summary.failed:
        lines.append("  fix the problems above and run the same command again; finished stages are kept")
    return "\n".join(lines)
