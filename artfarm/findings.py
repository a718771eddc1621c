"""A finding is one problem in a book, named by file and JSON path, with the fix."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Literal["error", "warning", "info"] = "error"  # info: a figure worth reporting (export-pdf)
    file: str
    path: str = "$"
    message: str
    fix: str | None = None

    def render(self) -> str:
        head = f"{self.severity}: {self.file} {self.path}: {self.message}"
        return f"{head}\n  fix: {self.fix}" if self.fix else head


def json_path(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """Render a pydantic/JSON location as ``$.a.b[0].c``."""
    out = "$"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).isidentifier():
            out += f".{part}"
        else:
            out += f"[{str(part)!r}]"
    return out
