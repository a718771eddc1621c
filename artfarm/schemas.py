"""JSON Schemas generated from the models; schemas/*.schema.json hold the same text.

Regenerate the files with ``python -m artfarm.schemas`` after changing a model.
"""

from __future__ import annotations

import json
import sys

from artfarm.errors import BadInputError
from artfarm.fsio import atomic_write_text
from artfarm.resources import builtin_dir


def schema_models() -> dict:
    from artfarm.models import SCHEMA_MODELS

    return SCHEMA_MODELS


def schema_text(name: str) -> str:
    models = schema_models()
    if name not in models:
        raise BadInputError(f"unknown schema '{name}'", where="artfarm schema",
                            fix=f"use one of: {', '.join(sorted(models))}")
    schema = models[name].model_json_schema(by_alias=True)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{name}.schema.json", **schema}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_all() -> list[str]:
    out = []
    for name in sorted(schema_models()):
        path = builtin_dir("schemas") / f"{name}.schema.json"
        atomic_write_text(path, schema_text(name))
        out.append(str(path))
    return out


if __name__ == "__main__":
    sys.stdout.write("\n".join(write_all()) + "\n")
