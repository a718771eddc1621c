"""Scripted judgements for the Ollama double: the answer depends on the image it is shown.

Candidates in reviewer tests are flat colours, so the double can tell them apart by the
mean colour of the JPEG it receives and answer as a model with known preferences would.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any, Callable

from PIL import Image, ImageStat

from tests.doubles.ollama_server import Reply, verdict_json


def image_colour(b64: str) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(base64.b64decode(b64))) as img:
        r, g, b = ImageStat.Stat(img.convert("RGB")).mean
    return round(r), round(g), round(b)


def nearest(colour: tuple[int, int, int], table: dict[tuple[int, int, int], Any]) -> Any:
    key = min(table, key=lambda c: sum((a - b) ** 2 for a, b in zip(c, colour)))
    return table[key]


def purpose(body: dict[str, Any]) -> str:
    props = (body.get("format") or {}).get("properties", {})
    return "pairwise" if "better" in props else "critique" if "done" in props else "verdict"


def user_images(body: dict[str, Any]) -> list[str]:
    return next(m for m in body["messages"] if m["role"] == "user")["images"]


def judge(verdicts: dict[tuple[int, int, int], dict[str, Any]],
          prefer: Callable[[tuple[int, int, int], tuple[int, int, int]], str] | None = None) -> Callable[[dict], Reply]:
    """``verdicts`` maps a candidate colour to verdict overrides; ``prefer(first, second)`` answers pairwise."""
    def answer(body: dict[str, Any]) -> Reply:
        images = user_images(body)
        if purpose(body) == "pairwise":
            first, second = image_colour(images[0]), image_colour(images[1])
            return Reply(content=json.dumps({"better": prefer(first, second) if prefer else "first", "reason": "r"}))
        return Reply(content=verdict_json(**dict(nearest(image_colour(images[0]), verdicts))))

    return answer
