"""Colour helpers shared by the proof renderer and the reviewers."""

from __future__ import annotations


def hex_to_rgb(hex_colour: str) -> tuple[int, int, int]:
    """'#F2C14E' -> (242, 193, 78); style packs validate the format."""
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
