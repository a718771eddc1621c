"""Build whole book trees from dicts, so each test states the book it needs and nothing else."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

BOOK_ID = "testbook"


def default_book(pages: int = 2) -> dict[str, Any]:
    return {
        "title": "Test Book",
        "author": "Tess Ter",
        "style_pack": "watercolor_whimsy_v1",
        "pages": [{"page": n, "text": f"Page {n} text."} for n in range(1, pages + 1)],
    }


def default_characters() -> dict[str, Any]:
    return {"characters": [
        {"id": "bear", "name": "Bruno", "look": "a big brown bear with a red scarf"},
        {"id": "ginger", "name": "Ginger", "look": "a small gingerbread boy with icing buttons"},
    ]}


def default_spec(page: int, book_id: str = BOOK_ID, **changes: Any) -> dict[str, Any]:
    spec = {
        "book_id": book_id,
        "page": page,
        "intent": "cover" if page == 0 else "illustration",
        "scene": f"page {page}: the bear and the boy in the forest",
        "characters": [{"id": "bear", "pose": "sitting", "emotion": "calm"}],
        "camera": {"shot": "wide", "angle": "eye-level", "lens": "35mm"},
        "environment": {"time": "afternoon", "weather": "clear sky", "location": "pine forest"},
        "constraints": ["no text"],
        "style_pack": "watercolor_whimsy_v1",
        "seed": 1000 + page,
    }
    spec.update(changes)
    return spec


def png_bytes(size: tuple[int, int] = (32, 32), colour: tuple[int, int, int] = (200, 120, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def write_book(root: Path, *, book: dict | None = None, characters: dict | None = None,
               specs: dict[int, dict | str] | None = None, files: dict[str, bytes | str] | None = None,
               book_id: str = BOOK_ID, pages: int = 2) -> Path:
    """Write a book folder under ``root``. ``specs`` maps page -> dict (or raw text, for parse errors).

    Defaults give a valid two-page book; pass only what a test is about.
    """
    book_dir = Path(root) / book_id
    book_dir.mkdir(parents=True, exist_ok=True)
    book_data = copy.deepcopy(book) if book is not None else default_book(pages)
    _write(book_dir / "book.yaml", book_data if isinstance(book_data, str) else yaml.safe_dump(book_data, sort_keys=False, allow_unicode=True))
    chars = characters if characters is not None else default_characters()
    _write(book_dir / "bible" / "characters.yaml", chars if isinstance(chars, str) else yaml.safe_dump(chars, sort_keys=False))
    if specs is None:
        specs = {n: default_spec(n, book_id) for n in range(1, pages + 1)}
    for page, spec in specs.items():
        text = spec if isinstance(spec, str) else json.dumps(spec, indent=2, ensure_ascii=False)
        _write(book_dir / "pages" / f"{page:04d}" / "renderspec.json", text)
    for rel, content in (files or {}).items():
        _write(book_dir / rel, content)
    return book_dir


def _write(path: Path, content: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
