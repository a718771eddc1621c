"""Cache keys: SHA-256 over the canonical JSON of everything that shapes a stage's output.

The key inputs are kept in the stage record, so a miss can say *which* input changed.
No timestamps, URLs or other volatile data go in.
"""

from __future__ import annotations

from typing import Any

from artfarm.fsio import sha256_json
from artfarm.models.records import RECORD_SCHEMA_VERSION

# Top-level key input -> how the log names a change to it.
REASONS = {
    "spec": "renderspec changed",
    "style_pack": "style pack changed",
    "prompts": "prompts changed",
    "params": "stage parameters changed",
    "models": "model pins changed",
    "inputs": "input image changed",
    "refs": "reference image changed",
    "reviewer": "reviewer changed",
    "review": "review decision changed",
    "layout": "book layout changed",
    "target": "print size changed",
    "mask": "inpaint mask changed",
    "fixes": "defects or masks to inpaint changed",
    "limits": "loop limits changed",
    "schema_version": "record format changed",
    "stage": "stage changed",
}

DERIVED = {"prompts", "params", "inputs"}
ORDER = ["schema_version", "stage", "renderer", "spec", "refs", "style_pack", "reviewer", "models", "layout", "target", "mask", "fixes", "limits",
         "review", "params", "prompts", "inputs"]


def cache_key(key_inputs: dict[str, Any]) -> str:
    return sha256_json({**key_inputs, "schema_version": RECORD_SCHEMA_VERSION})


def key_inputs_with_version(key_inputs: dict[str, Any]) -> dict[str, Any]:
    return {**key_inputs, "schema_version": RECORD_SCHEMA_VERSION}


def changed_inputs(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The top-level key inputs whose values differ."""
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


def why_changed(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Name the inputs that differ between an old record's key inputs and the new ones.

    Root causes (the RenderSpec, the style pack, the template...) are named alone; what follows
    from them (prompts, parameters, input images) only when nothing upstream explains it. Where an
    input is a mapping, the entries that changed are named too: "stage parameters changed (steps)".
    """
    changed = changed_inputs(old, new)
    roots = [k for k in changed if k not in DERIVED] or changed
    reasons: list[str] = []
    for name in sorted(roots, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k)):
        before, after = old.get(name), new.get(name)
        if name == "renderer":
            reason = "renderer changed" if (before or {}).get("name") != (after or {}).get("name") else "workflow template changed"
        else:
            reason = REASONS.get(name, f"{name} changed") + _which(before, after)
        if reason not in reasons:
            reasons.append(reason)
    return ", ".join(reasons) or "inputs changed"


def _which(before: Any, after: Any, most: int = 3) -> str:
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ""
    keys = changed_inputs(before, after)
    if not keys:
        return ""
    return f" ({', '.join(keys[:most])}{', ...' if len(keys) > most else ''})"
