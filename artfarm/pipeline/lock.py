"""One run per book: a lock file naming its holder; a lock left by a dead process is taken over."""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from artfarm.errors import LockHeldError, WriteError
from artfarm.models.records import LockInfo
from artfarm.pipeline.records import now_iso

LOCK_NAME = ".artfarm.lock"
FRESH_SECONDS = 5.0  # an unreadable lock younger than this is still being written
log = logging.getLogger("artfarm.pipeline")


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class BookLock:
    """Context manager. ``O_EXCL`` creation decides races; a stale lock is renamed aside, then created anew."""

    def __init__(self, book_dir: Path, command: str | None = None):
        self.path = Path(book_dir) / LOCK_NAME
        self.info = LockInfo(pid=os.getpid(), host=socket.gethostname(),
                             command=command or " ".join(["artfarm", *sys.argv[1:]])[:200], started=now_iso())
        self.held = False

    def holder(self) -> LockInfo | None:
        try:
            return LockInfo.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (ValidationError, ValueError, OSError):
            return None

    def acquire(self) -> None:
        aside: list[Path] = []
        try:
            self._acquire(aside)
        finally:  # only now: while a stale lock set aside exists, no new file can reuse its inode
            for path in aside:
                path.unlink(missing_ok=True)

    def _acquire(self, aside: list[Path]) -> None:
        for _ in range(5):
            if self._create():
                self.held = True
                return
            seen = self._read_open()
            if seen is None:
                continue  # released between our create and our read: try again
            holder, seen_file = seen
            if holder is None and self._age() < FRESH_SECONDS:
                raise LockHeldError("book is being locked by another run right now", where=str(self.path),
                                    fix="wait for that run to finish, then run again")
            if holder is not None and (holder.host != self.info.host or pid_alive(holder.pid)):
                raise LockHeldError(
                    f"book is being rendered by another run: pid {holder.pid} on {holder.host} "
                    f"({holder.command!r}, since {holder.started})",
                    where=str(self.path),
                    fix="wait for that run to finish; if it is gone (another machine crashed), delete the lock file")
            why = "unreadable" if holder is None else f"left by pid {holder.pid}, which is no longer running"
            log.warning("%s: taking over a stale lock (%s)", self.path, why)
            aside += self._set_aside(seen_file)
        raise LockHeldError("could not take the book lock (another run keeps taking it)", where=str(self.path),
                            fix="make sure only one artfarm run works on this book, then run again")

    def _read_open(self) -> tuple[LockInfo | None, tuple[int, bytes]] | None:
        """The holder (None if unreadable) and the file read (inode, content); None if there is no lock."""
        try:
            with open(self.path, "rb") as fh:
                inode = os.fstat(fh.fileno()).st_ino
                data = fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._failed("read the book lock", exc, "make the lock file readable, or delete it if no run is "
                                                          "working on the book") from exc
        try:
            return LockInfo.model_validate_json(data), (inode, data)
        except (ValidationError, ValueError):
            return None, (inode, data)

    def _set_aside(self, stale: tuple[int, bytes]) -> list[Path]:
        """Move the stale lock out of the way so the next O_EXCL create decides who takes over.

        Only the first rename of that file succeeds. A run that judged the same stale lock but
        renames later moves the winner's new lock instead: it sees another file and puts the
        lock back (``link`` never overwrites), so the winner keeps it. Returns the file to delete
        once the lock is decided."""
        aside = self.path.with_name(f"{self.path.name}.stale.{os.getpid()}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return []  # another run moved it first
        except OSError as exc:
            raise self._failed("move a stale book lock aside", exc,
                               "make the book folder writable, or delete the lock file, then run again") from exc
        try:
            if (os.stat(aside).st_ino, aside.read_bytes()) == stale:
                return [aside]
        except OSError:
            pass
        try:
            os.link(aside, self.path)
        except FileExistsError:
            pass
        aside.unlink(missing_ok=True)
        return []

    def _failed(self, what: str, exc: OSError, fix: str) -> WriteError:
        return WriteError(f"could not {what} ({exc.strerror or exc})", where=str(self.path), fix=fix)

    def _age(self) -> float:
        try:
            return time.time() - self.path.stat().st_mtime
        except OSError:
            return FRESH_SECONDS

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        except OSError as exc:
            raise self._failed("create the book lock", exc, "make the book folder writable, then run again") from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.info.model_dump_json().encode())
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            self.path.unlink(missing_ok=True)
            code = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            raise WriteError(f"could not write the book lock ({code})", where=str(self.path),
                             fix="free disk space or fix permissions, then run again") from exc
        return True

    def release(self) -> None:
        if self.held and self.holder() == self.info:
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> "BookLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
