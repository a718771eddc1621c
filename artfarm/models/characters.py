"""bible/characters.yaml: who appears in the book and how they look."""

from __future__ import annotations

from pydantic import Field

from artfarm.models.base import BookPath, Identifier, NonBlankStr, StrictModel
from artfarm.models.lora import Lora


class Character(StrictModel):
    id: Identifier
    name: NonBlankStr
    look: NonBlankStr = Field(description="Prompt fragment describing the character's look; used verbatim.")
    refs: list[BookPath] = Field(default_factory=list)
    lora: Lora | None = Field(None, description="Loaded (after the style pack's) on pages whose RenderSpec lists this "
                                                "character; its trigger words join the character's prompt fragment.")


class CharacterBible(StrictModel):
    characters: list[Character] = Field(default_factory=list)

    def by_id(self) -> dict[str, Character]:
        return {c.id: c for c in self.characters}
