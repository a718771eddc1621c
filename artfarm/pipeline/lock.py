"""One run per book: an advisory lock the operating system holds (``flock``), freed by the kernel when its holder dies.

The lock is ``flock`` on ``<book>/.artfarm.lock``. Nothing about the holder is trusted to
decide anything: a process that is killed, or a container that restarts, loses the lock with
its file descriptors, whatever pid the next process gets. The holder's pid, host, command and
start time are written inside only so that a refused run can say who holds the book.

The holder removes the file before unlocking it, so a process that opened the old file just
before may lock a file that is no longer the lock: after locking, each run checks that the
path still names the file it locked, and starts again if not.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import sys
from pathlib import Path

from pydantic import ValidationError

from artfarm.errors import LockHeldError, WriteError
from artfarm.models.records import LockInfo
from artfarm.pipeline.records import now_iso

LOCK_NAME = ".artfarm.lock"
ATTEMPTS = 20  # each retry means another run released the lock between our open and our flock


class BookLock:
    """Context manager; ``acquire`` never waits: a held book is a LockHeldError naming its holder."""

    def __init__(self, book_dir: Path, command: str | None = None):
        self.path = Path(book_dir) / LOCK_NAME
        self.info = LockInfo(pid=os.getpid(), host=socket.gethostname(),
                             command=command or " ".join(["artfarm", *sys.argv[1:]])[:200], started=now_iso())
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> LockInfo | None:
        """What the holder wrote about itself (information only; None when unreadable or empty)."""
        try:
            return LockInfo.model_validate_json(self.path.read_bytes())
        except (OSError, ValidationError, ValueError):
            return None

    def acquire(self) -> None:
        for _ in range(ATTEMPTS):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._held_error() from None
            except OSError as exc:
                os.close(fd)
                raise self._failed("lock the book", exc, "the book's folder must be on a filesystem that supports "
                                                          "flock (a local disk); then run again") from exc
            if self._still_the_lock(fd):
                self._write_info(fd)
                self._fd = fd
                return
            os.close(fd)  # the previous holder removed this file as we locked it: try the new one
        raise LockHeldError("could not take the book lock (other runs keep taking it)", where=str(self.path),
                            fix="make sure only one artfarm run works on this book, then run again")

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still locked: see the module docstring
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> BookLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # ------------------------------------------------------------------ helpers
    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            fix = ("remove the symlink .artfarm.lock from the book folder" if exc.errno == errno.ELOOP
                   else "make the book folder writable, then run again")
            raise self._failed("open the book lock", exc, fix) from exc

    def _still_the_lock(self, fd: int) -> bool:
        try:
            return os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def _write_info(self, fd: int) -> None:
        data = self.info.model_dump_json().encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        except OSError as exc:  # the lock is ours even so; only the note about us is missing
            os.close(fd)
            code = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            raise WriteError(f"could not write the book lock ({code})", where=str(self.path),
                             fix="free disk space or fix permissions, then run again") from exc

    def _held_error(self) -> LockHeldError:
        holder = self.holder()
        who = (f"pid {holder.pid} on {holder.host} ({holder.command!r}, since {holder.started})" if holder
               else "a run that has not said who it is yet")
        return LockHeldError(f"book is being rendered by another run: {who}", where=str(self.path),
                             fix="wait for that run to finish (the lock is freed the moment it ends, even if it crashes)")

    def _failed(self, what: str, exc: OSError, fix: str) -> WriteError:
        return WriteError(f"could not {what} ({exc.strerror or exc})", where=str(self.path), fix=fix)
