"""The JSON Schemas on disk are exactly what the models generate, and agents can validate with them."""

from __future__ import annotations

import json

import jsonschema
import pytest

from artfarm.cli.main import main
from artfarm.resources import builtin_dir
from artfarm.schemas import schema_models, schema_text
from tests.bookbuilder import default_spec


@pytest.mark.parametrize("name", sorted(schema_models()))
def test_schema_file_matches_the_model(name):
    on_disk = (builtin_dir("schemas") / f"{name}.schema.json").read_text(encoding="utf-8")
    assert on_disk == schema_text(name), f"schemas/{name}.schema.json is stale: run `python -m artfarm.schemas`"


@pytest.mark.parametrize("name", ["renderspec", "book", "characters", "stylepack"])
def test_schema_command_prints_the_file(name, capsys):
    assert main(["schema", name]) == 0
    assert capsys.readouterr().out == (builtin_dir("schemas") / f"{name}.schema.json").read_text(encoding="utf-8")


def test_unknown_schema_name_is_bad_input(capsys):
    assert main(["schema", "nope"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_renderspec_schema_agrees_with_the_model_on_unknown_keys():
    schema = json.loads(schema_text("renderspec"))
    jsonschema.validate(default_spec(1), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**default_spec(1), "sceen": "typo"}, schema)
