"""Reviewers: what picks the best draft and names its defects (heuristic, agent, vision LLM)."""
