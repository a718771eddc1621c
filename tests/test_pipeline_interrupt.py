"""Ctrl-C during a run: jobs are cancelled, the lock is held until every worker returned, a rerun resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from artfarm.models.records import StageRecord
from tests.pipeline_helpers import write_small_book

ROOT = Path(__file__).resolve().parents[1]


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _snapshot(book: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(book).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in book.rglob("*") if p.is_file()}


def test_ctrl_c_twice_stops_the_jobs_and_keeps_the_lock_until_every_worker_returned(make_book, books_dir, tmp_path):
    book = write_small_book(make_book, pages=2)
    events = tmp_path / "events.jsonl"
    env = {**os.environ, "SLOW_PROOF_EVENTS": str(events)}
    run = subprocess.Popen([sys.executable, "-m", "tests.doubles.slow_proof", "render-book", "testbook",
                            "--books", str(books_dir), "--jobs", "2"],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while sum(e["event"] == "start" for e in _events(events)) < 2:
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    time.sleep(0.3)
    run.send_signal(signal.SIGINT)  # while both jobs are still stopping
    out, err = run.communicate(timeout=60)
    after_exit = _snapshot(book)

    assert run.returncode == 130, err
    assert err.count("stopping, waiting for 2 job(s) in flight") == 2
    assert "interrupted; finished stages are kept, rerun the same command to continue" in err
    writes = [e for e in _events(events) if e["event"] == "write"]
    assert len(writes) == 2 and all(e["locked"] for e in writes)  # nothing written after the lock was let go
    assert not (book / ".artfarm.lock").exists()
    time.sleep(0.5)
    assert _snapshot(book) == after_exit  # no worker is left writing into the book
    for record in book.glob("pages/*/*/stage.json"):  # an interrupted job is not a failed stage
        assert StageRecord.model_validate_json(record.read_bytes()).status != "failed"

    rerun = subprocess.run([sys.executable, "-m", "artfarm", "render-book", "testbook", "--books", str(books_dir)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "2 done" in rerun.stdout and "previous attempt failed" not in rerun.stderr
    assert (book / "pages/0001/final/final.png").is_file() and (book / "pages/0002/final/final.png").is_file()
