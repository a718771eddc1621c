"""Reading and writing stage.json; a record that is missing, corrupt or stale is a miss."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

import imagehash
from pydantic import ValidationError

from artfarm.errors import WriteError
from artfarm.fsio import atomic_write_json, sha256_file
from artfarm.images import load_image
from artfarm.models.records import OutputFile, StageRecord

RECORD_NAME = "stage.json"
HISTORY_DIR = "history"  # a page's edited outputs moved aside by --force; artfarm never deletes in it
log = logging.getLogger("artfarm.pipeline")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def read_record(stage_dir: Path, *, quiet: bool = False) -> tuple[StageRecord | None, str | None]:
    """(record, None) when readable; (None, why) when missing or corrupt (logged unless quiet). Never raises."""
    path = Path(stage_dir) / RECORD_NAME
    if not path.is_file():
        return None, "not run yet"
    try:
        return StageRecord.model_validate_json(path.read_bytes()), None
    except (ValidationError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not quiet:
            log.warning("%s: record unreadable, treating as a cache miss (%s)", path, first)
        return None, "record unreadable"


def write_record(stage_dir: Path, record: StageRecord) -> Path:
    return atomic_write_json(Path(stage_dir) / RECORD_NAME, record)


def remove_record(stage_dir: Path) -> None:
    """Before a stage reruns its old record goes first, so a crash mid-stage leaves a miss."""
    try:
        (Path(stage_dir) / RECORD_NAME).unlink(missing_ok=True)
    except OSError as exc:
        raise WriteError(f"could not remove old record ({exc.strerror or exc})", where=str(stage_dir / RECORD_NAME),
                         fix="make the page folder writable, then run again") from exc


def describe_output(path: Path, seed: int | None = None) -> OutputFile:
    img = load_image(path, what="stage output")
    width, height = img.size
    phash = str(imagehash.phash(img))
    stat = Path(path).stat()
    return OutputFile(file=Path(path).name, sha256=sha256_file(path), phash=phash, width=width, height=height, seed=seed,
                      size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def unchanged(path: Path, out: OutputFile) -> bool:
    """True when the file still has its recorded hash; size+mtime equal to the record skips rehashing."""
    try:
        stat = Path(path).stat()
    except OSError:
        return False
    if out.size is not None and out.mtime_ns is not None and (stat.st_size, stat.st_mtime_ns) == (out.size, out.mtime_ns):
        return True
    return sha256_file(path) == out.sha256


def edited_files(stage_dir: Path, record: StageRecord | None) -> list[str]:
    """Recorded outputs that exist but no longer have their recorded bytes."""
    if record is None or record.status != "done":
        return []
    return [out.file for out in record.outputs
            if (Path(stage_dir) / out.file).is_file() and not unchanged(Path(stage_dir) / out.file, out)]


def kept_files(stage_dir: Path, record: StageRecord | None) -> list[str]:
    """A person's files among the outputs: edited ones, and adopted ones still there. A rerun moves them to history/."""
    edited = edited_files(stage_dir, record)
    adopted = [out.file for out in record.outputs if out.adopted and (Path(stage_dir) / out.file).is_file()] if record else []
    return edited + [name for name in adopted if name not in edited]


def edited_reason(book_id: str, page: int, stage: str, files: list[str]) -> str:
    names = ", ".join(files)
    return (f"{names} edited by hand; kept. `artfarm adopt {book_id} {page} --stage {stage}` makes it the {stage} "
            f"output (later stages rerun from it); `artfarm render-page {book_id} {page} --from {stage}` re-renders "
            f"from {stage} and moves it to pages/{page:04d}/{HISTORY_DIR}/ (earlier stages and review decisions stay)")


def history_path(page_dir: Path, stage: str, name: str) -> Path:
    """A free name ``history/<stage>-<UTC time>-<name>`` in the page's history folder (made if missing)."""
    history = Path(page_dir) / HISTORY_DIR
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = history / f"{stage}-{stamp}-{name}"
    count = 1
    while target.exists():
        target = history / f"{stage}-{stamp}-{count}-{name}"
        count += 1
    history.mkdir(exist_ok=True)
    return target


def outputs_problem(stage_dir: Path, record: StageRecord) -> str | None:
    """None when every recorded output exists with its recorded hash (an edited one is caught before, by
    ``Stage.verdict``; here it is only a miss for stages checked without it)."""
    if not record.outputs:
        return "record lists no outputs"
    for out in record.outputs:
        path = Path(stage_dir) / out.file
        if not path.is_file():
            return f"output {out.file} missing"
        if not unchanged(path, out):
            return f"output {out.file} modified"
    return None


def write_json_beside(stage_dir: Path, name: str, data: dict) -> str:
    """Save the exact workflow JSON submitted next to the record; returns the file name."""
    atomic_write_json(Path(stage_dir) / name, json.loads(json.dumps(data)))
    return name
