"""Per-page reruns, --from, --force, --keep-going, bad pages, and the book lock."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from artfarm.errors import BadInputError, LockHeldError
from artfarm.models.records import LockInfo
from artfarm.pipeline.lock import BookLock
from tests.pipeline_helpers import RecordingRenderer, actions, run, small_spec, write_small_book


def test_one_page_rerun_touches_only_that_page(make_book):
    book = write_small_book(make_book, pages=3)
    run(book)
    summary, renderer = run(book, pages=[2], force=True)
    assert [p.page for p in summary.pages] == [2]
    assert {page for page, _ in renderer.calls} == {2}
    assert [stage for _, stage in renderer.calls] == ["draft", "refine", "upscale"]


def test_from_a_stage_redoes_it_and_later_stages_only(make_book):
    book = write_small_book(make_book, pages=1)
    run(book)
    summary, renderer = run(book, pages=[1], from_stage="refine")
    assert renderer.calls == [(1, "refine"), (1, "upscale")]
    assert actions(summary, 1) == {"draft": "cached", "review": "cached", "refine": "ran", "inpaint": "not-needed", "loop": "not-needed",
                                   "upscale": "ran", "final": "ran"}
    reasons = {o.stage: o.reason for o in summary.pages[0].stages}
    assert reasons["refine"] == "--from refine"


def test_from_an_unknown_stage_is_bad_input(make_book):
    book = write_small_book(make_book, pages=1)
    with pytest.raises(BadInputError, match="unknown stage"):
        run(book, from_stage="varnish")


def test_without_keep_going_a_failure_stops_the_run(make_book):
    book = write_small_book(make_book, pages=4)
    summary, renderer = run(book, jobs=1, renderer=lambda b: RecordingRenderer(b, fail_at="refine"))
    assert summary.pages[0].status == "failed"
    assert all(p.status == "skipped" for p in summary.pages[1:])
    assert summary.exit_code == 1


def test_keep_going_finishes_the_other_pages(make_book):
    class FailPageTwo(RecordingRenderer):
        def render(self, request, progress=None):
            if request.page == 2 and request.stage == "refine":
                self.fail_at = "refine"
            else:
                self.fail_at = None
            return super().render(request, progress)

    book = write_small_book(make_book, pages=3)
    summary, _ = run(book, jobs=1, keep_going=True, renderer=lambda b: FailPageTwo(b))
    status = {p.page: p.status for p in summary.pages}
    assert status == {1: "done", 2: "failed", 3: "done"}
    assert actions(summary, 2)["upscale"] == "skipped" and actions(summary, 2)["final"] == "skipped"
    assert "renderer refused the refine job" in summary.pages[1].error
    assert summary.exit_code == 1


def test_a_page_with_a_bad_renderspec_fails_alone_with_the_validator_message(make_book):
    bad = small_spec(2)
    bad["camera"]["shot"] = "sideways"
    book = write_small_book(make_book, pages=2, specs={1: small_spec(1), 2: bad})
    summary, _ = run(book, keep_going=True)
    assert {p.page: p.status for p in summary.pages} == {1: "done", 2: "failed"}
    assert "$.camera.shot" in summary.pages[1].error
    assert summary.exit_code == 2  # only bad input failed


def test_a_live_lock_names_its_holder(make_book):
    book = write_small_book(make_book, pages=1)
    with BookLock(book, command="artfarm render-book testbook"):
        with pytest.raises(LockHeldError) as caught:
            run(book)
    message = str(caught.value)
    assert f"pid {os.getpid()}" in message and "artfarm render-book testbook" in message
    assert caught.value.exit_code == 1
    summary, _ = run(book)  # released
    assert summary.done == 1


def test_a_lock_file_naming_a_live_unrelated_pid_does_not_block_once_its_holder_is_dead(make_book):
    """After a container restart another process can have the pid a lock file names; only the OS lock counts."""
    book = write_small_book(make_book, pages=1)
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        left = LockInfo(pid=unrelated.pid, host=BookLock(book).info.host, command="artfarm render-book testbook",
                        started="2020-01-01T00:00:00")
        (book / ".artfarm.lock").write_text(left.model_dump_json())
        summary, _ = run(book)
    finally:
        unrelated.kill()
        unrelated.wait()
    assert summary.done == 1
    assert not (book / ".artfarm.lock").exists()


def test_status_shows_done_stale_missing_and_failed(make_book):
    from artfarm.book.loader import load_book
    from artfarm.pipeline.engine import book_status
    from artfarm.review.heuristic import HeuristicReviewer
    from artfarm.settings import resolve_settings

    book = write_small_book(make_book, pages=3)
    run(book, pages=[1, 2])
    run(book, pages=[2], from_stage="upscale", renderer=lambda b: RecordingRenderer(b, fail_at="upscale"))
    spec = small_spec(1)
    spec["overrides"]["refine"] = {"denoise": 0.8}
    (book / "pages/0001/renderspec.json").write_text(json.dumps(spec))
    loaded = load_book(book)
    status = book_status(loaded, resolve_settings(loaded.book, {}), renderer=RecordingRenderer(loaded),
                         reviewer=HeuristicReviewer())
    rows = {r.page: r.stages for r in status.pages}
    assert rows[1] == {"draft": "done", "review": "done", "refine": "stale", "inpaint": "not-needed", "loop": "not-needed",
                       "upscale": "stale", "final": "stale"}
    assert rows[2]["upscale"] == "failed" and rows[2]["refine"] == "done"
    assert set(rows[3].values()) == {"missing", "not-needed"} and rows[3]["loop"] == "not-needed"
    reasons = {r.page: r.reason for r in status.pages}
    assert reasons[1]["refine"] == "renderspec changed (overrides)"


def test_the_next_pages_draft_is_queued_while_a_page_is_reviewed(make_book):
    """With two workers, page 2 runs to the end and page 3's draft starts while page 1 is still under review."""
    import threading

    from artfarm.review.heuristic import HeuristicReviewer

    page_two_drafting = threading.Event()

    class Watching(RecordingRenderer):
        def render(self, request, progress=None):
            if (request.page, request.stage) == (3, "draft"):
                page_two_drafting.set()
            return super().render(request, progress)

    class SlowToDecide(HeuristicReviewer):
        def review(self, candidates, ctx):
            if ctx.page == 1:
                assert page_two_drafting.wait(timeout=20), "renderer sat idle while page 1 was reviewed"
            return super().review(candidates, ctx)

    book = write_small_book(make_book, pages=3)
    summary, renderer = run(book, jobs=2, renderer=lambda b: Watching(b), reviewer=SlowToDecide())
    assert summary.done == 3
    assert renderer.calls.index((3, "draft")) < renderer.calls.index((1, "refine"))


def test_a_cancelled_proof_renderer_stops_its_jobs(make_book, tmp_path):
    import pytest

    from artfarm.book.loader import load_book
    from artfarm.errors import Interrupted
    from artfarm.render.base import RenderRequest
    from artfarm.render.proof import ProofRenderer

    renderer = ProofRenderer(load_book(make_book()))
    request = RenderRequest(stage="draft", page=1, params={"seed": 1, "batch": 2, "width": 64, "height": 64},
                            out_dir=tmp_path, filename_stem="draft")
    assert len(renderer.render(request).images) == 2
    renderer.cancel()
    with pytest.raises(Interrupted):
        renderer.render(request)


def test_an_interrupted_job_leaves_no_failed_record_so_the_next_run_resumes(make_book, caplog):
    from artfarm.errors import Interrupted

    class InterruptedAtRefine(RecordingRenderer):
        def render(self, request, progress=None):
            if request.stage == "refine":
                raise Interrupted("the job was interrupted on the server", where="test renderer")
            return super().render(request, progress)

    book = write_small_book(make_book, pages=1)
    summary, _ = run(book, renderer=lambda b: InterruptedAtRefine(b))
    assert summary.pages[0].status == "failed" and "interrupted on the server" in summary.pages[0].error
    assert not (book / "pages/0001/refine/stage.json").exists()
    caplog.set_level(logging.INFO, logger="artfarm.pipeline")
    summary, renderer = run(book)
    assert summary.pages[0].status == "done" and renderer.calls == [(1, "refine"), (1, "upscale")]
    assert "page 1 refine: running (not run yet)" in caplog.text and "previous attempt failed" not in caplog.text


def test_without_keep_going_a_bad_renderspec_fails_alone(make_book):
    bad = small_spec(2)
    bad["camera"]["shot"] = "sideways"
    book = write_small_book(make_book, pages=3, specs={1: small_spec(1), 2: bad, 3: small_spec(3)})
    summary, _ = run(book, jobs=1)
    assert {p.page: p.status for p in summary.pages} == {1: "done", 2: "failed", 3: "done"}
    assert "$.camera.shot" in summary.pages[1].error
    assert summary.exit_code == 2
