"""`artfarm validate BOOK`: every problem at once, each with file, JSON path and fix."""

from __future__ import annotations

from artfarm.book.validation import validate_book
from artfarm.cli.common import add_book_argument, book_dir_from
from artfarm.cli.output import emit


def register(subparsers, common) -> None:
    p = subparsers.add_parser("validate", parents=[common], help="check a book and print every problem",
                              description="Check book.yaml, the bible, style packs and every RenderSpec. Exit 0 when clean, 2 otherwise.")
    add_book_argument(p)
    p.set_defaults(run=run)


def run(args) -> int:
    book_dir = book_dir_from(args)
    report = validate_book(book_dir)
    lines = [f.render() for f in report.findings]
    if report.errors:
        lines.append(f"{book_dir.name}: {report.errors} error(s), {report.warnings} warning(s); fix the errors above and run `artfarm validate {book_dir.name}` again")
    else:
        lines.append(f"{book_dir.name}: ok, {report.pages} page(s) with RenderSpecs, {report.warnings} warning(s)")
    emit(args, report, "\n".join(lines))
    return 2 if report.errors else 0
