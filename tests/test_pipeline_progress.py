"""Progress: a live line on a terminal, plain log lines otherwise."""

from __future__ import annotations

import io
import logging

from artfarm.pipeline.progress import Reporter
from artfarm.render.base import ProgressEvent


def test_a_terminal_gets_a_live_status_line_and_the_log_lines():
    stream = io.StringIO()
    reporter = Reporter(stream=stream, tty=True)
    reporter.start(3)
    reporter.stage(2, "refine")
    reporter.progress(ProgressEvent(page=2, stage="refine", step=12, total=30))
    reporter.log("page 2 refine: running (renderspec changed)")
    reporter.page_finished(2)
    reporter.close()
    text = stream.getvalue()
    assert "[0/3 pages] p2 refine 12/30" in text
    assert "page 2 refine: running (renderspec changed)\n" in text
    assert "[1/3 pages]" in text and "\r\033[K" in text


def test_off_a_terminal_only_plain_log_lines(caplog):
    stream = io.StringIO()
    reporter = Reporter(stream=stream, tty=False)
    caplog.set_level(logging.INFO, logger="artfarm.pipeline")
    reporter.start(1)
    reporter.progress(ProgressEvent(page=1, stage="draft", step=1, total=8))
    reporter.log("page 1 draft: skipped (cached)")
    reporter.close()
    assert stream.getvalue() == ""
    assert [r.getMessage() for r in caplog.records] == ["page 1 draft: skipped (cached)"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_sampler_steps_are_logged_at_quarters_and_every_ten_seconds(caplog):
    clock = Clock()
    reporter = Reporter(stream=io.StringIO(), tty=False, clock=clock)
    caplog.set_level(logging.INFO, logger="artfarm.pipeline")
    reporter.start(2)
    for step in range(1, 31):  # a quick job: a line at 25, 50 and 75 %
        reporter.progress(ProgressEvent(page=3, stage="draft", step=step, total=30))
    for step in range(1, 101):  # a slow one on another page, 3 s a step: a line every 10 s in between
        clock.now += 3
        reporter.progress(ProgressEvent(page=4, stage="refine", step=step, total=100))
    lines = [r.getMessage() for r in caplog.records]
    assert [line for line in lines if line.startswith("page 3")] == \
        ["page 3 draft: step 8/30", "page 3 draft: step 15/30", "page 3 draft: step 23/30"]
    slow = [int(line.split("step ")[1].split("/")[0]) for line in lines if line.startswith("page 4")]
    assert 25 in slow and 50 in slow and 75 in slow and 100 not in slow
    assert len(slow) >= 25 and all(b - a <= 4 for a, b in zip(slow, slow[1:]))  # never more than 10 s apart
    assert all(b - a >= 3 or b in (25, 50, 75) for a, b in zip(slow, slow[1:]))  # nor much more often


def test_a_new_job_of_the_same_stage_starts_its_quarters_again(caplog):
    reporter = Reporter(stream=io.StringIO(), tty=False, clock=Clock())
    caplog.set_level(logging.INFO, logger="artfarm.pipeline")
    for _ in range(2):  # two rounds of the loop stage, 4 steps each
        for step in range(1, 5):
            reporter.progress(ProgressEvent(page=1, stage="refine", step=step, total=4))
    assert [r.getMessage() for r in caplog.records] == ["page 1 refine: step 1/4", "page 1 refine: step 2/4",
                                                        "page 1 refine: step 3/4"] * 2
