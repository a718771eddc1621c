"""`artfarm schema NAME`: print a JSON Schema (the same text as schemas/NAME.schema.json)."""

from __future__ import annotations

import sys

from artfarm.schemas import schema_models, schema_text


def register(subparsers, common) -> None:
    p = subparsers.add_parser("schema", parents=[common], help="print the JSON Schema of a file format",
                              description="Print the JSON Schema of renderspec.json, book.yaml, characters.yaml, a style pack...")
    p.add_argument("name", choices=sorted(schema_models()), help="which schema")
    p.set_defaults(run=run)


def run(args) -> int:
    sys.stdout.write(schema_text(args.name))
    return 0
