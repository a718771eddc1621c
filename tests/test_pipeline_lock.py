"""The book lock under a real race: two processes taking over a lock left by a dead one."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path

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


def test_two_runs_taking_over_a_dead_runs_lock_at_once_get_exactly_one_winner(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = BookLock(tmp_path).info.host
    stale = LockInfo(pid=dead.pid, host=host, command="artfarm render-book x", started="2020-01-01T00:00:00")
    folders = []
    for trial in range(TRIALS):
        folder = tmp_path / f"book{trial}"
        folder.mkdir()
        (folder / LOCK_NAME).write_text(stale.model_dump_json())
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
        assert sorted(p.name for p in Path(folder).iterdir()) == []  # released; nothing set aside is left
