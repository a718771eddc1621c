"""`artfarm status BOOK`: pages x stages (done, stale, missing, failed, waiting, edited), without running anything."""

from __future__ import annotations

from artfarm.book.loader import load_book
from artfarm.cli.common import add_book_argument, book_dir_from
from artfarm.cli.output import emit
from artfarm.cli.run_flags import add_backend_flags, add_review_flags, settings_from_args
from artfarm.models.records import BookStatus
from artfarm.pipeline.engine import book_status

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


def run(args) -> int:
    book = load_book(book_dir_from(args))
    status = book_status(book, settings_from_args(args, book))
    emit(args, status, table(status))
    return 0
