"""Check a graph against a server's ``/object_info`` before submitting it, as ComfyUI would.

Catches what ComfyUI's own validation rejects, but all at once and named by artfarm
parameter: unknown node classes, required inputs neither set nor linked, enum values not
in the server's list (both list formats: legacy ``[[...], {...}]`` and V3
``["COMBO", {"options": [...]}]``), numbers out of range, links to missing nodes or
outputs, and links whose types do not match. Also that some node saves an output.
"""

from __future__ import annotations

from typing import Any

from artfarm.comfyui.errors import NodeProblem
from artfarm.comfyui.templates import Template

ObjectInfo = dict[str, Any]


def combo_options(spec: list[Any]) -> list[Any] | None:
    """The allowed values of an input spec when it is an enum, else None."""
    if not spec:
        return None
    kind = spec[0]
    if isinstance(kind, list):
        return kind
    if kind == "COMBO":
        options = spec[1].get("options", []) if len(spec) > 1 and isinstance(spec[1], dict) else []
        return list(options)
    return None


def _config(spec: list[Any]) -> dict[str, Any]:
    return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}


def _types(kind: str) -> set[str]:
    return {t.strip() for t in kind.split(",")}


def is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def check_graph(graph: dict[str, Any], object_info: ObjectInfo, template: Template | None = None,
                unset: set[str] = frozenset()) -> list[NodeProblem]:
    """Every problem in ``graph``. Inputs bound to a parameter named in ``unset`` hold
    placeholders (the value comes at run time) and are not checked against the server's lists."""
    problems: list[NodeProblem] = []

    def add(node_id: str, class_type: str | None, input_name: str | None, kind: str, message: str) -> None:
        param = template.param_for(node_id, input_name) if template and input_name else None
        problems.append(NodeProblem(template=template.file if template else None, node_id=node_id, class_type=class_type,
                                    input=input_name, param=param, type=kind, message=message))

    has_output = False
    for node_id, node in graph.items():
        class_type = node.get("class_type")
        info = object_info.get(class_type)
        if info is None:
            add(node_id, class_type, None, "missing_node_type",
                f"the server has no node class {class_type!r} (a custom node that is not installed?)")
            continue
        has_output = has_output or bool(info.get("output_node"))
        inputs = node.get("inputs", {})
        declared = {**info["input"].get("optional", {}), **info["input"].get("required", {})}
        for name in info["input"].get("required", {}):
            if name not in inputs:
                add(node_id, class_type, name, "required_input_missing", "required input is neither set nor linked")
        for name, value in inputs.items():
            spec = declared.get(name)
            if spec is None:
                continue  # ComfyUI ignores inputs a node does not declare
            if is_link(value):
                _check_link(graph, object_info, node_id, class_type, name, spec, value, add)
            elif template is None or template.param_for(node_id, name) not in unset:
                _check_value(node_id, class_type, name, spec, value, add)
    if not has_output:
        problems.append(NodeProblem(template=template.file if template else None, node_id="-", type="prompt_no_outputs",
                                    message="no node saves an output (add a SaveImage)"))
    return problems


def _check_link(graph, object_info, node_id, class_type, name, spec, value, add) -> None:
    source_id, index = value
    source = graph.get(source_id)
    if source is None:
        add(node_id, class_type, name, "link_to_missing_node", f"links to node {source_id}, which is not in the graph")
        return
    source_info = object_info.get(source.get("class_type"))
    if source_info is None:
        return  # reported at the source node
    outputs = source_info.get("output", [])
    if not 0 <= index < len(outputs):
        add(node_id, class_type, name, "link_to_missing_output",
            f"links to output {index} of node {source_id} ({source['class_type']}), which has {len(outputs)} output(s)")
        return
    received, expected = outputs[index], spec[0]
    if isinstance(expected, str) and isinstance(received, str) and "*" not in (expected, received) \
            and expected != "COMBO" and not _types(expected) & _types(received):
        add(node_id, class_type, name, "return_type_mismatch",
            f"expects {expected} but node {source_id} output {index} gives {received}")


def _check_value(node_id, class_type, name, spec, value, add) -> None:
    kind, config = spec[0], _config(spec)
    options = combo_options(spec)
    if options is not None:
        if config.get("image_upload") or config.get("upload"):
            return  # a file artfarm uploads just before submitting
        if value not in options:
            shown = ", ".join(map(repr, options[:12])) + (" ..." if len(options) > 12 else "")
            add(node_id, class_type, name, "value_not_in_list", f"{value!r} is not one the server offers: {shown}")
        return
    if kind == "INT":
        if isinstance(value, bool) or not isinstance(value, int):
            add(node_id, class_type, name, "invalid_input_type", f"expects a whole number, got {value!r}")
            return
    elif kind == "FLOAT":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            add(node_id, class_type, name, "invalid_input_type", f"expects a number, got {value!r}")
            return
    elif kind == "STRING":
        if not isinstance(value, str):
            add(node_id, class_type, name, "invalid_input_type", f"expects text, got {value!r}")
        return
    elif kind == "BOOLEAN":
        if not isinstance(value, bool):
            add(node_id, class_type, name, "invalid_input_type", f"expects true or false, got {value!r}")
        return
    else:
        add(node_id, class_type, name, "invalid_input_type", f"expects a link from a {kind} output, got the value {value!r}")
        return
    if "min" in config and value < config["min"]:
        add(node_id, class_type, name, "value_smaller_than_min", f"{value} is below the minimum {config['min']}")
    if "max" in config and value > config["max"]:
        add(node_id, class_type, name, "value_bigger_than_max", f"{value} is above the maximum {config['max']}")
