"""`artfarm status BOOK`: pages x stages (done, stale, missing, failed, waiting, edited), without running anything."""

from __future__ import annotations

from artfarm.book.loader import load_book
from artfarm.cli.common import add_book_argument, book_dir_from
from artfarm.cli.output import emit
from artfarm.cli.run_flags import add_backend_flags, add_review_flags, settings_from_args
from artfarm.models.records import BookStatus
from artfarm.models.review import BookConsistency
from artfarm.pipeline.engine import book_status
from artfarm.review.consistency import DEFAULT_THRESHOLD, measure_book

SHOWN = {"not-needed": "-"}


def register(subparsers, common) -> None:
    p = subparsers.add_parser("status", parents=[common], help="show which page stages are done, stale or missing",
                              description="A table of pages x stages. 'stale' means the inputs changed since the stage ran; "
                                          "'edited' means a person changed the stage's output (kept; the note under the "
                                          "table says how to adopt it or re-render). The renderer and reviewer flags "
                                          "matter because their identity is part of each key.")
    add_book_argument(p)
    add_backend_flags(p)
    add_review_flags(p)
    p.add_argument("--consistency", action="store_true",
                   help="instead of the stage table: each page's weight-free consistency score per character, and outliers")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"with --consistency: pages with a character under this score are outliers (default {DEFAULT_THRESHOLD})")
    p.set_defaults(run=run)


def table(status: BookStatus) -> str:
    width = max(len(s) for s in [*status.stages, "waiting", "missing"]) + 2
    lines = [("page".rjust(5) + "  " + "".join(s.ljust(width) for s in status.stages)).rstrip()]
    notes = []
    for row in status.pages:
        cells = "".join(SHOWN.get(row.stages.get(s, "missing"), row.stages.get(s, "missing")).ljust(width) for s in status.stages)
        lines.append(f"{row.page:5d}  {cells}".rstrip())
        if row.error:
            notes.append(f"  page {row.page}: {row.error.splitlines()[0]}")
        notes += [f"  page {row.page} {stage}: {why}" for stage, why in row.reason.items()]
    done = sum(all(v in ("done", "not-needed") for v in r.stages.values()) for r in status.pages)
    lines.append(f"{status.book}: {done} of {len(status.pages)} page(s) complete ({status.renderer} renderer, {status.reviewer} reviewer)")
    return "\n".join(lines + notes)


def consistency_table(report: BookConsistency) -> str:
    lines = [f"{report.book}: consistency with the character sheets (0..1; outliers under {report.threshold:g})"]
    for row in report.pages:
        if row.consistency is None:
            lines.append(f"{row.page:5d}  {row.reason}")
            continue
        cells = [f"{c.character} {c.score:.2f}" + (f" (pages {c.across_pages:.2f})" if c.across_pages is not None else "")
                 + ("" if c.vlm_same is None else " vlm:same" if c.vlm_same else " vlm:DIFFERENT")
                 for c in row.consistency.characters]
        lines.append(f"{row.page:5d}  {'; '.join(cells) or 'no characters'}{'  OUTLIER' if row.outlier else ''}")
    lines.append(f"outliers: {', '.join(map(str, report.outliers)) or 'none'}")
    return "\n".join(lines)


def run(args) -> int:
    book = load_book(book_dir_from(args))
    if args.consistency:
        report = measure_book(book, args.threshold)
        emit(args, report, consistency_table(report))
        return 0
    status = book_status(book, settings_from_args(args, book))
    emit(args, status, table(status))
    return 0
