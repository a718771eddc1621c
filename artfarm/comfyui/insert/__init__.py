"""Structural insertions into a template's graph, one small module each, found through its anchors."""
