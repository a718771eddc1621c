"""Write a page's RenderSpec only when the whole book accepts it; otherwise say every problem and write nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from artfarm.book.loader import inspect_book
from artfarm.book.paths import page_dir, page_dir_name
from artfarm.errors import BadInputError, ValidationFailed
from artfarm.findings import Finding
from artfarm.fsio import atomic_write_json

MAX_PAGE = 9999  # page folders have four digits


class SpecWriteReport(BaseModel):
    book: str
    page: int
    file: str = Field(description="The RenderSpec's path inside the book.")
    written: bool = Field(description="False when any error was found: the file on disk is unchanged.")
    findings: list[Finding] = Field(description="Every problem with the proposed RenderSpec, each with its JSON path and fix.")


def write_spec(book_dir: Path, page: int, data: Any) -> SpecWriteReport:
    """Check ``data`` as page ``page``'s RenderSpec against the book (bible, style packs, files); write it atomically if clean."""
    if not 0 <= page <= MAX_PAGE:
        raise BadInputError(f"page {page} is out of range", where=str(book_dir),
                            fix=f"use a page number from 0 (the cover) to {MAX_PAGE}")
    loaded, findings = inspect_book(book_dir, proposed={page: data})
    if loaded is None or any(f.severity == "error" for f in loaded.book_findings):
        raise ValidationFailed(findings, where=str(book_dir))
    problems = loaded.page_findings.get(page, [])
    rel = f"pages/{page_dir_name(page)}/renderspec.json"
    written = not any(f.severity == "error" for f in problems)
    if written:
        atomic_write_json(page_dir(loaded.root, page) / "renderspec.json", data)
    return SpecWriteReport(book=loaded.id, page=page, file=rel, written=written, findings=problems)
