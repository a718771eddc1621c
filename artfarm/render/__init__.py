"""Renderers: what turns a stage's parameters into images (ComfyUI, or the built-in proof renderer)."""
