"""Shared base for every model read from or written to disk."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


class StrictModel(BaseModel):
    """Unknown keys are errors: agents mistype, and a silently ignored key is a lost intent."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only spaces")
    return value


def _relative_posix(value: str) -> str:
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value):
        raise ValueError("must be a path relative to the book folder, not an absolute path")
    if ".." in re.split(r"[\\/]", value):
        raise ValueError("must not contain '..'; paths stay inside the book folder")
    return value


NonBlankStr = Annotated[str, AfterValidator(_non_blank)]
BookPath = Annotated[str, AfterValidator(_relative_posix), Field(min_length=1)]
HexColour = Annotated[str, Field(pattern=HEX_COLOUR.pattern, examples=["#F2C14E"])]
Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=64)]
