"""A ComfyUI API-format graph as data: typed output handles, deterministic node ids, rewiring.

What varies between jobs (LoRA chains, ControlNet, SDXL text encoders, tiles) is inserted
into a template's graph through this builder, never by editing serialized JSON. In the
spirit of krita-ai-diffusion's ``ComfyWorkflow``:

    graph = Graph.from_api(template_graph)
    lora = graph.add("LoraLoader", model=model, clip=clip, lora_name="x.safetensors",
                     strength_model=0.8, strength_clip=0.8)
    graph.rewire(model, lora.out(0), exclude={lora.id})

Template node ids are kept; new nodes are numbered after the largest numeric id, in the
order they are added, so the same inputs always give byte-identical JSON.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable

from artfarm.errors import BadInputError


@dataclass(frozen=True)
class Output:
    """One output of one node: what a link points at (``[node_id, index]`` in API format)."""

    node: str
    index: int

    def to_api(self) -> list[Any]:
        return [self.node, self.index]

    @classmethod
    def parse(cls, value: Any) -> Output | None:
        """The link a raw input value holds, or None for a plain value."""
        if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) \
                and isinstance(value[1], int) and not isinstance(value[1], bool):
            return cls(value[0], value[1])
        return None


@dataclass(frozen=True)
class Node:
    """A handle on a node of a graph: its id, its class, and its outputs."""

    id: str
    class_type: str

    def out(self, index: int = 0) -> Output:
        return Output(self.id, index)


@dataclass(frozen=True)
class Consumer:
    """A node input linked to some output."""

    node: str
    input: str


class Graph:
    """A mutable API-format graph; ``to_api()`` gives a copy, never the builder's own data."""

    def __init__(self) -> None:
        self._nodes: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_api(cls, api: dict[str, Any]) -> Graph:
        """A deep copy of ``api``: the template it came from is never changed."""
        graph = cls()
        for node_id, node in api.items():
            graph._nodes[str(node_id)] = {"class_type": node["class_type"], "inputs": copy.deepcopy(node["inputs"]),
                                          **{k: copy.deepcopy(v) for k, v in node.items() if k not in ("class_type", "inputs")}}
        return graph

    def to_api(self) -> dict[str, Any]:
        return copy.deepcopy(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def node(self, node_id: str) -> Node:
        return Node(node_id, self._require(node_id)["class_type"])

    def nodes(self) -> list[Node]:
        return [Node(i, n["class_type"]) for i, n in self._nodes.items()]

    def inputs(self, node_id: str) -> dict[str, Any]:
        """A copy of a node's inputs (links as ``Output``)."""
        return {k: Output.parse(v) or copy.deepcopy(v) for k, v in self._require(node_id)["inputs"].items()}

    def add(self, class_type: str, **inputs: Any) -> Node:
        """A new node, numbered after the largest numeric id; inputs are values or ``Output``s."""
        for value in inputs.values():
            self._check_source(value)
        node_id = str(max((int(i) for i in self._nodes if i.isdigit()), default=0) + 1)
        self._nodes[node_id] = {"class_type": class_type, "inputs": {k: _api_value(v) for k, v in inputs.items()}}
        return Node(node_id, class_type)

    def set(self, node_id: str, **inputs: Any) -> None:
        """Set (or link) inputs of an existing node."""
        node = self._require(node_id)
        for name, value in inputs.items():
            self._check_source(value)
            node["inputs"][name] = _api_value(value)

    def replace(self, node_id: str, class_type: str, **inputs: Any) -> Node:
        """Give a node another class and new inputs, keeping its id, so links to it stay."""
        node = self._require(node_id)
        for value in inputs.values():
            self._check_source(value)
        node["class_type"] = class_type
        node["inputs"] = {k: _api_value(v) for k, v in inputs.items()}
        return Node(node_id, class_type)

    def consumers(self, output: Output) -> list[Consumer]:
        """Every node input linked to ``output``, in graph order."""
        return [Consumer(node_id, name) for node_id, node in self._nodes.items()
                for name, value in node["inputs"].items() if Output.parse(value) == output]

    def rewire(self, old: Output, new: Output, exclude: Iterable[str] = ()) -> list[Consumer]:
        """Link every input that reads ``old`` to ``new`` instead (except on the nodes in ``exclude``)."""
        self._check_source(new)
        skip = set(exclude)
        moved = [c for c in self.consumers(old) if c.node not in skip]
        for consumer in moved:
            self._nodes[consumer.node]["inputs"][consumer.input] = new.to_api()
        return moved

    def keep_reachable(self, roots: Iterable[str]) -> None:
        """Remove every node none of ``roots`` reads, directly or through others (work a
        rewiring left without a consumer, which ComfyUI would not run anyway)."""
        keep: set[str] = set()
        stack = list(roots)
        while stack:
            node_id = stack.pop()
            if node_id in keep:
                continue
            keep.add(node_id)
            stack += [link.node for link in map(Output.parse, self._require(node_id)["inputs"].values()) if link]
        self._nodes = {k: v for k, v in self._nodes.items() if k in keep}

    def _require(self, node_id: str) -> dict[str, Any]:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise BadInputError(f"the graph has no node {node_id}", where=f"node {node_id}",
                                fix="check the template's anchors in workflows/<name>.params.json") from None

    def _check_source(self, value: Any) -> None:
        if isinstance(value, Output):
            self._require(value.node)


def _api_value(value: Any) -> Any:
    return value.to_api() if isinstance(value, Output) else copy.deepcopy(value)
