"""bible/palettes/*.yaml: named colour sets a book's art keeps to."""

from __future__ import annotations

from pydantic import Field

from artfarm.models.base import HexColour, Identifier, StrictModel


class Palette(StrictModel):
    name: Identifier
    description: str = ""
    colours: dict[str, HexColour] = Field(min_length=1)
