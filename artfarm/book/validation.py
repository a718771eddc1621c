"""The whole-book check as one typed report: what `artfarm validate` prints and the MCP tool returns."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from artfarm.book.loader import inspect_book
from artfarm.book.paths import book_id_of
from artfarm.findings import Finding
from artfarm.layout.glyphs import check_book_glyphs


class ValidateReport(BaseModel):
    book: str
    ok: bool
    pages: int
    errors: int
    warnings: int
    findings: list[Finding]


def validate_book(book_dir: Path) -> ValidateReport:
    loaded, findings = inspect_book(book_dir)
    if loaded is not None:
        findings = findings + check_book_glyphs(loaded.book, loaded.root)
    errors = sum(f.severity == "error" for f in findings)
    return ValidateReport(book=book_id_of(book_dir), ok=not errors, pages=len(loaded.specs) if loaded else 0, errors=errors,
                          warnings=len(findings) - errors, findings=findings)
