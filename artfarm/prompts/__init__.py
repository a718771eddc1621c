"""Prompt compilation: structured page data in, prompt text out."""
