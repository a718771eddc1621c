"""The page pipeline: stages, cache keys, records, the book lock and the scheduler.

The engine only talks to the Renderer and Reviewer seams (artfarm.render.base,
artfarm.review.base) and finds backends through artfarm.registry.
"""
