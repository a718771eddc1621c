"""How commands print: text for people, one JSON document (a pydantic model) with --json."""

from __future__ import annotations

import sys

from pydantic import BaseModel


def emit(args, model: BaseModel, text: str) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(model.model_dump_json(indent=2, by_alias=True) + "\n")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def err(message: str) -> None:
    sys.stderr.write(message if message.endswith("\n") else message + "\n")
    sys.stderr.flush()
