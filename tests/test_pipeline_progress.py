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
    reporter.progress(ProgressEvent(page=1, stage="draft", step=3, total=8))
    reporter.log("page 1 draft: skipped (cached)")
    reporter.close()
    assert stream.getvalue() == ""
    assert [r.getMessage() for r in caplog.records] == ["page 1 draft: skipped (cached)"]
