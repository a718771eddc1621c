"""artfarm as an MCP server: the CLI's library calls as tools and the book's files as resources.

``workspace`` keeps every book id and path inside ``--books``; ``tools`` lists the tools (add one
there); ``jobs`` runs renders in the background with progress and cancellation; ``resources``
serves a book's files under ``artfarm://<book>/<path>``; ``server`` puts them together.
"""
