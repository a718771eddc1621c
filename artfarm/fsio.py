"""Atomic file writes and hashing.

A reader never sees half a file: data goes to a temp file in the same folder, is flushed
to disk and then renamed over the target (``os.replace`` is atomic on one filesystem).
The folder is synced after the rename, so a power cut cannot lose a file reported written.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from pydantic import BaseModel

from artfarm.errors import WriteError


def canonical_json(obj: Any) -> bytes:
    """The one serialisation that cache keys hash: sorted keys, no whitespace, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_json(obj: Any) -> str:
    return sha256_bytes(canonical_json(obj))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temp_beside(path)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        sync_dir(path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    return path


def sync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (its entry lives in the folder, not the file)."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> Path:
    """Human-readable JSON (indented, sorted keys is *not* applied: field order is kept)."""
    if isinstance(obj, BaseModel):
        text = obj.model_dump_json(indent=2, by_alias=True)
    else:
        text = json.dumps(obj, indent=2, ensure_ascii=False)
    return atomic_write_text(path, text + "\n")


def _default_file_mode() -> int:
    current = os.umask(0)
    os.umask(current)
    return 0o666 & ~current


_FILE_MODE = _default_file_mode()


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temp file in the target's folder (same filesystem, so the rename is atomic), with the
    permissions a plain open() would give; mkstemp's private 0600 would otherwise stick."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, _FILE_MODE)
    return fd, tmp


def _write_error(path: Path, exc: OSError) -> WriteError:
    if exc.errno == errno.ENOSPC:
        fix = "free disk space, then run the same command again; nothing was half-written"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "make the folder writable (check its owner and permissions), then run again"
    else:
        fix = "check the folder exists and is writable, then run again"
    return WriteError(f"could not write file ({exc.strerror or exc})", where=str(path), fix=fix)


@contextmanager
def atomic_stream(path: Path) -> Iterator[BinaryIO]:
    """Write a large file piece by piece; it appears under its name only if the block ends without error.

    Nest several in a ``contextlib.ExitStack`` to publish a set of files together: an error in
    any of them removes every temp file and leaves the old files as they were.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temp_beside(path)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        sync_dir(path.parent)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, exc) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
