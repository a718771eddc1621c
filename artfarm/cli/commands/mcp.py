"""`artfarm mcp [--http HOST:PORT]`: serve the books as MCP tools and resources (stdio by default)."""

from __future__ import annotations

import argparse

from artfarm.book.paths import default_books_dir
from artfarm.cli.run_flags import add_backend_flags, add_review_flags, flags_from_args


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT or :PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def register(subparsers, common) -> None:
    p = subparsers.add_parser("mcp", parents=[common], help="serve the books to MCP hosts (agents)",
                              description="Run a Model Context Protocol server over stdio (or streamable HTTP with "
                                          "--http): the same engine as the commands, as tools (list_books, "
                                          "write_renderspec, render_page, contact_sheet, select_draft, export_pdf, ...) "
                                          "and the book files as resources. Only books under --books are reachable. "
                                          "The backend flags are the server's defaults for the render tools.")
    p.add_argument("--http", type=_host_port, default=None, metavar="HOST:PORT",
                   help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (':8765' is 127.0.0.1:8765)")
    add_backend_flags(p)
    add_review_flags(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from artfarm.mcp.server import serve  # the MCP SDK is imported only by this command
    from artfarm.mcp.workspace import Workspace

    books = args.books if args.books is not None else default_books_dir()
    serve(Workspace(books, flags_from_args(args)), args.http)
    return 0
