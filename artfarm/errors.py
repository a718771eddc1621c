"""The one exception tree of artfarm.

Every error says what went wrong, where (file, JSON path, node id, URL) and what to do
next. The CLI maps the class to an exit code and prints ``str(error)``; nothing else.

    ArtfarmError                 exit 1 unless a subclass says otherwise
    ├── BadInputError            exit 2: a book, RenderSpec, style pack or flag is wrong
    │   ├── ParseError           a YAML/JSON file does not parse (line and column)
    │   ├── PathEscapeError      a path leaves the book directory
    │   ├── BookNotFoundError    no book at the given id or path
    │   ├── ImageFileError       an image in the book is unreadable, too large or of an unusable mode
    │   ├── SymlinkRefused       a stage folder is a symlink; artfarm will not clean or write through it
    │   └── ValidationFailed     a book has findings (carries them all)
    ├── ServiceError             exit 3: ComfyUI or Ollama unreachable or refusing
    ├── RunError                 exit 1: a stage or page failed while running
    │   └── Interrupted          a job was stopped (Ctrl-C, or /interrupt on the server)
    ├── LockHeldError            exit 1: another run holds the book's lock
    └── WriteError               exit 1: a file could not be written (disk full, permissions)

Lower-level exceptions are re-raised as the most specific artfarm error with ``from exc``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from artfarm.findings import Finding


class ArtfarmError(Exception):
    """Base of every error artfarm raises on purpose."""

    exit_code: int = 1

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None, **payload: Any):
        super().__init__(what)
        self.what = what
        self.where = where
        self.fix = fix
        self.payload = payload

    def __str__(self) -> str:
        head = f"{self.where}: {self.what}" if self.where else self.what
        return f"{head}\n  fix: {self.fix}" if self.fix else head


class BadInputError(ArtfarmError):
    exit_code = 2


class ParseError(BadInputError):
    pass


class PathEscapeError(BadInputError):
    pass


class BookNotFoundError(BadInputError):
    pass


class ImageFileError(BadInputError):
    pass


class SymlinkRefused(BadInputError):
    pass


class ValidationFailed(BadInputError):
    """Raised with every finding of a validation at once, so the user fixes them in one pass."""

    def __init__(self, findings: list[Finding], *, where: str | None = None):
        self.findings = findings
        errors = [f for f in findings if f.severity == "error"]
        super().__init__(
            f"{len(errors)} problem(s) found",
            where=where,
            fix="fix each problem listed above, then run `artfarm validate` again",
        )

    def __str__(self) -> str:
        lines = [f.render() for f in self.findings if f.severity == "error"]
        return "\n".join(lines + [super().__str__()])


class ServiceError(ArtfarmError):
    exit_code = 3


class RunError(ArtfarmError):
    exit_code = 1


class Interrupted(RunError):
    """A job stopped before it finished because it was asked to (Ctrl-C, or someone interrupted the server)."""


class LockHeldError(ArtfarmError):
    exit_code = 1


class WriteError(ArtfarmError):
    exit_code = 1
