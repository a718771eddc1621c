"""The book lock is held by the operating system: real processes racing, and a holder killed outright."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from artfarm.errors import LockHeldError
from artfarm.models.records import LockInfo
from artfarm.pipeline.lock import LOCK_NAME, BookLock

TRIALS = 40


def _contender(folders: list[str], barrier, results) -> None:
    """Each trial: wait for the other process, try the lock, hold it until both have tried."""
    for folder in folders:
        barrier.wait()
        lock = BookLock(Path(folder), command="contender")
        try:
            lock.acquire()
        except LockHeldError:
            won = False
        else:
            won = True
        barrier.wait()  # the winner still holds the lock while the other one tries
        holder = lock.holder()
        results.put((folder, won, holder.pid if holder else None))
        barrier.wait()
        lock.release()


def test_two_runs_racing_for_a_lock_left_behind_get_exactly_one_winner(tmp_path):
    """Each folder starts with a lock file a dead run left (naming this live test process): it decides nothing."""
    left = LockInfo(pid=os.getpid(), host=BookLock(tmp_path).info.host, command="artfarm render-book x",
                    started="2020-01-01T00:00:00")
    folders = []
    for trial in range(TRIALS):
        folder = tmp_path / f"book{trial}"
        folder.mkdir()
        (folder / LOCK_NAME).write_text(left.model_dump_json())
        folders.append(str(folder))

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2, timeout=60), context.Queue()
    workers = [context.Process(target=_contender, args=(folders, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes: dict[str, list[tuple[bool, int | None]]] = {}
    for _ in range(2 * TRIALS):
        folder, won, holder = results.get(timeout=60)
        outcomes.setdefault(folder, []).append((won, holder))
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    pids = {w.pid for w in workers}
    for folder in folders:
        (won_a, holder_a), (won_b, holder_b) = outcomes[folder]
        assert won_a != won_b, f"{folder}: both or neither took the lock"
        assert holder_a == holder_b and holder_a in pids  # the lock names the one winner, seen by both
        assert sorted(p.name for p in Path(folder).iterdir()) == []  # released and removed


HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from artfarm.pipeline.lock import BookLock
    lock = BookLock(Path(sys.argv[1]), command="artfarm render-book held")
    lock.acquire()
    print("held", flush=True)
    time.sleep(120)
""")


def test_the_kernel_frees_the_lock_when_its_holder_is_killed(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeldError) as caught:
            BookLock(tmp_path).acquire()
        assert f"pid {holder.pid}" in str(caught.value) and "artfarm render-book held" in str(caught.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / LOCK_NAME).exists()  # killed: nobody tidied up, and the file still names the dead pid
    with BookLock(tmp_path) as lock:  # ... which decides nothing
        assert lock.holder() == lock.info
    assert not (tmp_path / LOCK_NAME).exists()


@pytest.mark.parametrize("command", [["export-pdf", "{book}", "--placeholders"],
                                     ["review", "{book}", "1", "--select", "0", "--reason", "x"]])
def test_review_and_export_take_the_books_lock(make_book, capsys, command):
    from artfarm.cli.main import main
    from tests.pipeline_helpers import write_small_book

    book = write_small_book(make_book, pages=1)
    with BookLock(book, command="artfarm render-book testbook"):
        code = main([part.format(book=book) for part in command])
    assert code == 1 and "artfarm render-book testbook" in capsys.readouterr().err
    assert not (book / "layout").exists() and not (book / "pages/0001/review.json").exists()
