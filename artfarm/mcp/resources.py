"""A book's files as MCP resources, at stable URIs that mirror the book tree: ``artfarm://<book>/<path>``.

Only these files are served (nothing else in the book, nothing outside it); the list shows the
ones that exist now, the templates name them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp_types import Resource as MCPResource

from artfarm.book.paths import page_dir_name
from artfarm.errors import ArtfarmError
from artfarm.mcp.workspace import Workspace

SCHEME = "artfarm"
PAGE_FOLDER = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class BookFile:
    path: str  # inside the book; "{page}" is the page folder (four digits)
    mime_type: str
    description: str

    @property
    def per_page(self) -> bool:
        return "{page}" in self.path

    def uri(self, book: str, page: str | None = None) -> str:
        return f"{SCHEME}://{book}/" + (self.path.format(page=page) if page is not None else self.path)


BOOK_FILES = [
    BookFile("book.yaml", "application/yaml", "the book: title, trim, typography, model pins, render defaults, pages and text"),
    BookFile("bible/characters.yaml", "application/yaml", "the characters: id, name, look, reference images"),
    BookFile("pages/{page}/renderspec.json", "application/json", "what the page's art shows (write with write_renderspec)"),
    BookFile("pages/{page}/review.json", "application/json", "the review of the page's drafts: scores, ranking, the choice"),
    BookFile("pages/{page}/final/final.png", "image/png", "the page's final print art"),
]


def register(server: MCPServer, space: Workspace) -> None:
    for book_file in BOOK_FILES:
        reader = _page_reader(space, book_file) if book_file.per_page else _book_reader(space, book_file)
        server.resource(f"{SCHEME}://{{book}}/{book_file.path}", name=book_file.path, mime_type=book_file.mime_type,
                        description=book_file.description)(reader)


def existing(space: Workspace) -> list[MCPResource]:
    """Every served file that exists now, for resources/list."""
    out = []
    for book in space.book_ids():
        root = space.books_dir / book
        pages = sorted(p.name for p in (root / "pages").glob("*") if PAGE_FOLDER.match(p.name) and p.is_dir())
        for book_file in BOOK_FILES:
            for page in (pages if book_file.per_page else [None]):
                rel = book_file.path.format(page=page) if page is not None else book_file.path
                if (root / rel).is_file():
                    out.append(MCPResource(uri=book_file.uri(book, page), name=f"{book}/{rel}",
                                           mime_type=book_file.mime_type, description=book_file.description))
    return out


def _book_reader(space: Workspace, book_file: BookFile) -> Callable[..., Any]:
    def read(book: str) -> str | bytes:
        return _read(space, book, book_file.path, book_file)
    return read


def _page_reader(space: Workspace, book_file: BookFile) -> Callable[..., Any]:
    def read(book: str, page: str) -> str | bytes:
        if not PAGE_FOLDER.match(page):
            raise ResourceError(f"page {page!r} is not a page folder; use four digits, e.g. 0003 for page 3")
        return _read(space, book, book_file.path.format(page=page_dir_name(int(page))), book_file)
    return read


def _read(space: Workspace, book: str, rel: str, book_file: BookFile) -> str | bytes:
    try:
        path = space.book_dir(book) / rel
    except ArtfarmError as exc:
        raise ResourceError(str(exc)) from exc
    if not path.is_file():
        raise ResourceNotFoundError(f"{book}/{rel} does not exist yet")
    return path.read_bytes() if book_file.mime_type.startswith("image/") else path.read_text(encoding="utf-8")
