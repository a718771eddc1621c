"""Helpers shared by commands: finding the book."""

from __future__ import annotations

from pathlib import Path

from artfarm.book.paths import resolve_book_dir


def book_dir_from(args) -> Path:
    return resolve_book_dir(args.book, args.books)


def add_book_argument(parser) -> None:
    parser.add_argument("book", help="book id (a folder under --books) or a path to a book folder")
