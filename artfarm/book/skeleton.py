"""`artfarm new-book`: a book folder that validates as written, to edit from."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from artfarm.errors import BadInputError
from artfarm.fsio import atomic_write_json, atomic_write_text
from artfarm.models.book import Book, PageEntry
from artfarm.models.characters import Character, CharacterBible
from artfarm.models.renderspec import CharacterInScene, RenderSpec

DEFAULT_STYLE_PACK = "watercolor_whimsy_v1"
BOOK_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


def create_book(books_dir: Path, book_id: str, *, title: str | None = None, author: str = "Unknown Author",
                style_pack: str = DEFAULT_STYLE_PACK) -> Path:
    if not BOOK_ID.match(book_id) or len(book_id) > 64:
        raise BadInputError(f"book id {book_id!r} is not allowed", where="artfarm new-book",
                            fix="use lowercase letters, digits, '_' and '-', starting with a letter or digit")
    root = Path(books_dir) / book_id
    if root.exists() and any(root.iterdir()):
        raise BadInputError("folder already exists and is not empty", where=str(root),
                            fix="choose another id, or remove the folder first")
    book = Book(title=title or book_id.replace("_", " ").replace("-", " ").title(), author=author,
                style_pack=style_pack, pages=[PageEntry(page=1, text="Once upon a time...")])
    bible = CharacterBible(characters=[Character(id="hero", name="Hero", look="a small friendly fox with a green scarf")])
    spec = RenderSpec(book_id=book_id, page=1, scene="the hero stands at the edge of a sunny meadow",
                      characters=[CharacterInScene(id="hero", pose="waving", emotion="happy")],
                      constraints=["no text", "exactly one character", "calm space at the top for the words"],
                      style_pack=style_pack, seed=1)
    dump = book.model_dump(mode="json", exclude_defaults=True)
    atomic_write_text(root / "book.yaml", yaml.safe_dump(dump, sort_keys=False, allow_unicode=True))
    atomic_write_text(root / "bible" / "characters.yaml",
                      yaml.safe_dump(bible.model_dump(mode="json", exclude_defaults=True), sort_keys=False, allow_unicode=True))
    for folder in ("bible/style_refs", "bible/character_refs/hero", "bible/palettes"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    atomic_write_json(root / "pages" / "0001" / "renderspec.json",
                      spec.model_dump(mode="json", by_alias=True, exclude_none=True))
    return root
