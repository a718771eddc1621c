"""Where books live, and keeping every path a book names inside the book."""

from __future__ import annotations

import os
from pathlib import Path

from artfarm.errors import BookNotFoundError, PathEscapeError

BOOKS_ENV = "ARTFARM_BOOKS"


def default_books_dir(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(BOOKS_ENV) or "books")


def resolve_book_dir(book: str, books_dir: Path | None = None, *, must_exist: bool = True) -> Path:
    """``book`` is an id under ``books_dir`` or a path to a book folder."""
    candidate = Path(book)
    looks_like_path = os.sep in book or "/" in book or book.startswith(".")
    base = books_dir if books_dir is not None else default_books_dir()
    path = candidate if looks_like_path or candidate.is_absolute() else base / book
    if must_exist and not (path / "book.yaml").is_file():
        raise BookNotFoundError(
            f"no book found (looked for {path / 'book.yaml'})",
            where=str(path),
            fix=f"check the id, pass --books DIR (or set {BOOKS_ENV}), or create it with `artfarm new-book {candidate.name}`",
        )
    return path.resolve() if must_exist else path


def book_id_of(book_dir: Path) -> str:
    return Path(book_dir).resolve().name


def resolve_inside(root: Path, relative: str, *, what: str = "path") -> Path:
    """Resolve ``relative`` under ``root``; refuse absolute paths, '..' and symlinks that lead out."""
    rel = Path(relative)
    if rel.is_absolute() or relative.startswith(("/", "\\")):
        raise PathEscapeError(f"{what} {relative!r} is absolute", where=str(root),
                              fix="write the path relative to the book folder, e.g. 'bible/style_refs/x.png'")
    if ".." in rel.parts:
        raise PathEscapeError(f"{what} {relative!r} uses '..'", where=str(root),
                              fix="keep every path inside the book folder; copy the file into the book first")
    real_root = Path(root).resolve()
    resolved = (real_root / rel).resolve()
    if not resolved.is_relative_to(real_root):
        raise PathEscapeError(f"{what} {relative!r} leads outside the book (to {resolved})", where=str(root),
                              fix="replace the symlink with a copy of the file inside the book folder")
    return resolved


def book_relative(root: Path, path: Path) -> str:
    """``path`` relative to the book as the user laid it out: links are not resolved, so a ``pages/``
    folder symlinked to another disk still gives ``pages/0001/...``."""
    return Path(os.path.normpath(path)).relative_to(os.path.normpath(root)).as_posix()


def page_dir_name(page: int) -> str:
    return f"{page:04d}"


def page_dir(book_dir: Path, page: int) -> Path:
    return Path(book_dir) / "pages" / page_dir_name(page)
