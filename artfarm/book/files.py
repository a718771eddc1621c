"""Reading YAML and JSON files into typed models, with errors that name file, line and JSON path."""

from __future__ import annotations

import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from artfarm.errors import ParseError
from artfarm.findings import Finding, json_path

M = TypeVar("M", bound=BaseModel)


def read_data(path: Path, *, display: str | None = None) -> Any:
    """Parse a .yaml/.yml/.json file; ParseError names the line and column."""
    shown = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ParseError("file is missing", where=shown, fix="create it (see `artfarm new-book` for a skeleton)") from exc
    except UnicodeDecodeError as exc:
        raise ParseError("file is not UTF-8 text", where=shown, fix="save the file as UTF-8") from exc
    if Path(path).suffix == ".json":
        try:
            return json.loads(text, object_pairs_hook=_unique_keys)
        except DuplicateKeyError as exc:
            raise ParseError(f"invalid JSON: key {exc.key!r} appears twice in one object", where=shown,
                             fix=f"keep one '{exc.key}' (JSON would silently use the last one)") from exc
        except json.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", where=shown,
                             fix="fix the JSON syntax at that line (a missing comma or quote is the usual cause)") from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ParseError(f"invalid YAML: {exc.problem or exc}{pos}", where=shown,
                         fix="fix the YAML at that line (indentation and unquoted ':' are the usual causes)") from exc
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}", where=shown, fix="fix the YAML syntax") from exc


class DuplicateKeyError(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (plain YAML keeps the last, silently)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in first_line:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping (first at line {first_line[key]})",
                    key_node.start_mark)
            first_line[key] = key_node.start_mark.line + 1
        except TypeError:  # an unhashable key: let the normal constructor report it
            break
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_model(path: Path, model: type[M], *, display: str | None = None) -> tuple[M | None, list[Finding]]:
    """Read and validate one file; never raises for bad content, returns findings instead."""
    shown = display or str(path)
    try:
        data = read_data(path, display=shown)
    except ParseError as exc:
        return None, [Finding(file=shown, message=exc.what, fix=exc.fix)]
    return validate_data(data, model, display=shown)


def validate_data(data: Any, model: type[M], *, display: str) -> tuple[M | None, list[Finding]]:
    if data is None:
        data = {}
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, findings_from_validation_error(exc, model, display)


def findings_from_validation_error(exc: ValidationError, model: type[BaseModel], display: str) -> list[Finding]:
    findings = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            known = _field_names_at(model, loc[:-1])
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            fix = f"{hint}remove or rename '{key}'; allowed keys here: {', '.join(sorted(known)) or 'none'}"
            findings.append(Finding(file=display, path=json_path(loc), message=f"unknown key '{key}'", fix=fix))
        elif kind == "missing":
            findings.append(Finding(file=display, path=json_path(loc), message=f"required key '{loc[-1]}' is missing",
                                    fix=f"add '{loc[-1]}' (see `artfarm schema` for its type)"))
        else:
            received = err.get("input")
            shown = json.dumps(received, ensure_ascii=False, default=str) if received is not None else "null"
            if len(shown) > 80:
                shown = shown[:77] + "..."
            msg = err["msg"].removeprefix("Value error, ")
            findings.append(Finding(file=display, path=json_path(loc), message=f"{msg} (got {shown})",
                                    fix="correct the value; `artfarm schema` prints every allowed value and range"))
    return findings


def _field_names_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a model accepts at a location, to suggest the nearest one for a typo."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part)) or next(
                (f for f in current.model_fields.values() if f.alias == part), None)
            if field is None:
                return []
            current = field.annotation
        else:
            args = typing.get_args(current)
            current = args[-1] if args else None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _unwrap(tp: Any) -> Any:
    """Strip Optional/Annotated so we reach the model class."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = models[0] if len(models) == 1 else tp
            if len(models) != 1:
                return tp
        else:
            return tp
