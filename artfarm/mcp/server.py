"""The MCP server: the tools in ``tools.TOOLS`` and the book files in ``resources``, over stdio or HTTP."""

from __future__ import annotations

import functools
import inspect
import ipaddress
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import Resource as MCPResource
from mcp_types import ToolAnnotations

from artfarm import __version__
from artfarm.errors import ArtfarmError
from artfarm.mcp import resources
from artfarm.mcp.tools import TOOLS
from artfarm.mcp.workspace import Workspace

log = logging.getLogger("artfarm.mcp")

INSTRUCTIONS = (
    "artfarm turns a picture book written as data into print-ready art and PDFs. Start with list_books; "
    "write a page's RenderSpec with write_renderspec (get_schema renderspec gives its schema); render with "
    "render_page or render_book (long: progress is reported, cancel to stop); with the agent reviewer, look at "
    "contact_sheet and choose with select_draft; then export_pdf. Book files are resources at artfarm://<book>/<path>."
)


class ArtfarmServer(MCPServer[Workspace]):
    """Lists each book's files that exist as resources, besides the templates that name them."""

    def __init__(self, space: Workspace, **kwargs: Any):
        @asynccontextmanager
        async def lifespan(_: MCPServer) -> AsyncIterator[Workspace]:
            yield space

        super().__init__("artfarm", version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan, **kwargs)
        self.space = space

    async def list_resources(self) -> list[MCPResource]:
        return [*await super().list_resources(), *resources.existing(self.space)]


def build_server(space: Workspace) -> ArtfarmServer:
    server = ArtfarmServer(space, log_level="WARNING")
    for tool in TOOLS:
        server.add_tool(_tool_errors(tool.fn), annotations=ToolAnnotations(read_only_hint=tool.read_only,
                                                                            destructive_hint=False))
    resources.register(server, space)
    return server


def serve(space: Workspace, http: tuple[str, int] | None = None) -> None:
    server = build_server(space)
    if http is None:
        server.run("stdio")
    else:
        if not _loopback(http[0]):
            log.warning("serving MCP on %s without authentication: anyone who can reach it can render and write "
                        "books under %s", http[0], space.books_dir)
        server.run("streamable-http", host=http[0], port=http[1])


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tool_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """An ArtfarmError becomes a tool error carrying the CLI's text (what, where, fix), without a traceback."""
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except ArtfarmError as exc:
                raise ToolError(str(exc)) from exc
        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ArtfarmError as exc:
            raise ToolError(str(exc)) from exc
    return run
