"""`artfarm review BOOK PAGE --select N --reason ...` (or --reject-all): record the choice of draft."""

from __future__ import annotations

from artfarm.book.loader import load_book
from artfarm.cli.common import add_book_argument, book_dir_from
from artfarm.cli.output import emit
from artfarm.pipeline.lock import BookLock
from artfarm.review.agent import record_decision


def register(subparsers, common) -> None:
    p = subparsers.add_parser("review", parents=[common], help="choose a page's draft (after the agent reviewer stopped)",
                              description="Record which draft candidate a page uses (numbers as on pages/NNNN/contact_sheet.png), "
                                          "or reject them all. The next render-book or render-page continues from it.")
    add_book_argument(p)
    p.add_argument("page", type=int, help="page number (0 is the cover)")
    choice = p.add_mutually_exclusive_group(required=True)
    choice.add_argument("--select", type=int, metavar="N", help="candidate number to use")
    choice.add_argument("--reject-all", action="store_true", help="use none of them (change the RenderSpec, then rerun)")
    p.add_argument("--reason", required=True, help="why, in a few words (kept in review.json)")
    p.add_argument("--by", choices=["person", "agent"], default="person", help="who decided (default: person)")
    p.set_defaults(run=run)


def run(args) -> int:
    book = load_book(book_dir_from(args))
    with BookLock(book.root):
        review = record_decision(book, args.page, select=args.select, reason=args.reason,
                                 reject_all=args.reject_all, decided_by=args.by)
    if review.selection is not None:
        text = (f"page {args.page}: candidate {review.selection.index} ({review.selection.file}) selected; "
                f"run `artfarm render-book {book.id}` to continue")
    else:
        text = f"page {args.page}: every candidate rejected; change the RenderSpec (seed, scene) and run again"
    emit(args, review, text)
    return 0
