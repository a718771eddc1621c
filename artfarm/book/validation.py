"""The whole-book check as one typed report: what `artfarm validate` prints and the MCP tool returns."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from artfarm.book.loader import inspect_book
from artfarm.findings import Finding


class ValidateReport(BaseModel):
    book: str
    ok: bool
    pages: int
    errors: int
    warnings: int
    findings: list[Finding]


def validate_book(book_dir: Path) -> ValidateReport:
    loaded, findings = inspect_book(book_dir)
    errors = sum(f.severity == "error" for f in findings)
    return ValidateReport(book=str(book_dir), ok=not errors, pages=len(loaded.specs) if loaded else 0, errors=errors,
                          warnings=len(findings) - errors, findings=findings)
