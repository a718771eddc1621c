"""The books an MCP server may touch: ids are plain names under ``--books``, pages are checked before use.

An agent's input is untrusted: a book id is never a path (no ``/``, ``..`` or absolute paths),
and what it names must resolve inside the books folder, symlinks included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artfarm.book.loader import LoadedBook, load_book
from artfarm.book.paths import resolve_book_dir
from artfarm.book.skeleton import BOOK_ID
from artfarm.errors import BadInputError, BookNotFoundError, PathEscapeError
from artfarm.mcp.jobs import RenderJobs
from artfarm.settings import Settings, resolve_settings

MAX_BOOK_ID = 64
BookFlags = dict[str, Any]


@dataclass
class Workspace:
    books_dir: Path
    flags: BookFlags = field(default_factory=dict)  # the `artfarm mcp` command's own backend flags
    jobs: RenderJobs = field(default_factory=RenderJobs)

    def __post_init__(self) -> None:
        self.books_dir = Path(self.books_dir).resolve()

    def book_dir(self, book: str) -> Path:
        """The folder of book ``book``, refusing anything that is not a plain id under --books."""
        if not BOOK_ID.match(book) or len(book) > MAX_BOOK_ID:
            raise PathEscapeError(f"book id {book!r} is not a plain book id", where=str(self.books_dir),
                                  fix="use a book id as `list_books` returns it (lowercase letters, digits, '_' "
                                      "and '-'), never a path")
        path = resolve_book_dir(book, self.books_dir)
        if not path.is_relative_to(self.books_dir):
            raise PathEscapeError(f"book {book!r} leads outside the books folder (to {path})", where=str(self.books_dir),
                                  fix="replace the symlink with the book folder itself")
        return path

    def load(self, book: str) -> LoadedBook:
        return load_book(self.book_dir(book))

    def page(self, book: LoadedBook, page: int) -> int:
        """``page`` if the book has it (listed in book.yaml or with a RenderSpec folder)."""
        if page not in book.specs_expected():
            raise BadInputError(f"page {page} is not in the book", where=str(book.root),
                                fix=f"pages with art: {', '.join(map(str, book.art_pages())) or 'none'}")
        return page

    def book_ids(self) -> list[str]:
        if not self.books_dir.is_dir():
            raise BookNotFoundError("the books folder does not exist", where=str(self.books_dir),
                                    fix="start `artfarm mcp --books DIR` with the folder holding your books")
        return sorted(p.name for p in self.books_dir.iterdir()
                      if BOOK_ID.match(p.name) and (p / "book.yaml").is_file())

    def settings(self, book: LoadedBook, flags: BookFlags | None = None) -> Settings:
        """The CLI's precedence: a tool's arguments and the server's flags (both flags) > environment > book.yaml > defaults."""
        given = {k: v for k, v in (flags or {}).items() if v not in (None, [], "")}
        server = {k: v for k, v in self.flags.items() if v not in (None, [], "")}
        return resolve_settings(book.book, {**server, **given})

