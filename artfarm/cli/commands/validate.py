"""`artfarm validate BOOK`: every problem at once, each with file, JSON path and fix."""

from __future__ import annotations

from pydantic import BaseModel

from artfarm.book.loader import inspect_book
from artfarm.cli.common import add_book_argument, book_dir_from
from artfarm.cli.output import emit
from artfarm.findings import Finding


class ValidateReport(BaseModel):
    book: str
    ok: bool
    pages: int
    errors: int
    warnings: int
    findings: list[Finding]


def register(subparsers, common) -> None:
    p = subparsers.add_parser("validate", parents=[common], help="check a book and print every problem",
                              description="Check book.yaml, the bible, style packs and every RenderSpec. Exit 0 when clean, 2 otherwise.")
    add_book_argument(p)
    p.set_defaults(run=run)


def run(args) -> int:
    book_dir = book_dir_from(args)
    loaded, findings = inspect_book(book_dir)
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    pages = len(loaded.specs) if loaded else 0
    report = ValidateReport(book=str(book_dir), ok=not errors, pages=pages, errors=len(errors),
                            warnings=len(warnings), findings=findings)
    lines = [f.render() for f in findings]
    if errors:
        lines.append(f"{book_dir.name}: {len(errors)} error(s), {len(warnings)} warning(s); fix the errors above and run `artfarm validate {book_dir.name}` again")
    else:
        lines.append(f"{book_dir.name}: ok, {pages} page(s) with RenderSpecs, {len(warnings)} warning(s)")
    emit(args, report, "\n".join(lines))
    return 2 if errors else 0
