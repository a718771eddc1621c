"""`artfarm new-book ID`: write a book skeleton that validates as written."""

from __future__ import annotations

from pydantic import BaseModel

from artfarm.book.paths import default_books_dir
from artfarm.book.skeleton import DEFAULT_STYLE_PACK, create_book
from artfarm.cli.output import emit


class NewBookReport(BaseModel):
    book: str
    path: str


def register(subparsers, common) -> None:
    p = subparsers.add_parser("new-book", parents=[common], help="create a book skeleton",
                              description="Create book.yaml, bible/ and pages/0001/renderspec.json under --books.")
    p.add_argument("book", help="the new book's id (lowercase letters, digits, '_' and '-')")
    p.add_argument("--title", default=None)
    p.add_argument("--author", default="Unknown Author")
    p.add_argument("--style-pack", default=DEFAULT_STYLE_PACK)
    p.set_defaults(run=run)


def run(args) -> int:
    books_dir = args.books if args.books is not None else default_books_dir()
    root = create_book(books_dir, args.book, title=args.title, author=args.author, style_pack=args.style_pack)
    emit(args, NewBookReport(book=args.book, path=str(root)),
         f"created {root}\nnext: edit book.yaml and pages/0001/renderspec.json, then `artfarm validate {args.book}`")
    return 0
