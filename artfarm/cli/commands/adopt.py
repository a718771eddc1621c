"""`artfarm adopt BOOK PAGE [--stage S]`: keep a hand-edited output as the stage's output."""

from __future__ import annotations

from artfarm.book.loader import load_book
from artfarm.cli.common import add_book_argument, book_dir_from
from artfarm.cli.output import emit
from artfarm.cli.run_flags import add_backend_flags, add_review_flags, settings_from_args
from artfarm.pipeline.context import STAGE_ORDER
from artfarm.pipeline.engine import adopt_edits


def register(subparsers, common) -> None:
    p = subparsers.add_parser("adopt", parents=[common], help="record a hand-edited stage output as that stage's output",
                              description="A stage output whose bytes differ from its record (a retouched final.png, "
                                          "say) is kept and reported as 'edited'. adopt records it as the stage's output "
                                          "(new hashes); the later stages rerun from it on the next render. Pass the "
                                          "same --renderer/--reviewer flags as for render-book.")
    add_book_argument(p)
    p.add_argument("page", type=int, help="page number (0 is the cover)")
    p.add_argument("--stage", choices=STAGE_ORDER, default=None, help="adopt only this stage's edits (default: every edited stage)")
    add_backend_flags(p)
    add_review_flags(p)
    p.set_defaults(run=run)


def run(args) -> int:
    book = load_book(book_dir_from(args))
    report = adopt_edits(book, settings_from_args(args, book), args.page, args.stage)
    lines = [f"page {report.page} {a.stage}: adopted {', '.join(a.files)}" for a in report.adopted]
    lines.append(f"run `artfarm render-book {book.id}` to redo the stages after it from the adopted file")
    emit(args, report, "\n".join(lines))
    return 0
