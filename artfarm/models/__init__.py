"""Typed models for every file artfarm reads or writes."""

from artfarm.models.book import Book
from artfarm.models.characters import Character, CharacterBible
from artfarm.models.palette import Palette
from artfarm.models.records import StageRecord
from artfarm.models.renderspec import RenderSpec
from artfarm.models.review import ReviewRecord
from artfarm.models.stylepack import StylePack

SCHEMA_MODELS = {
    "renderspec": RenderSpec,
    "book": Book,
    "characters": CharacterBible,
    "stylepack": StylePack,
    "review": ReviewRecord,
    "palette": Palette,
    "stage": StageRecord,
}

__all__ = ["Book", "Character", "CharacterBible", "RenderSpec", "StylePack", "ReviewRecord", "Palette", "StageRecord",
           "SCHEMA_MODELS"]
