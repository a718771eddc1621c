"""Drive `artfarm mcp` as a host does: a real subprocess over stdio, with the SDK's own client."""

from __future__ import annotations

import json
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult

ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def connect(books_dir: Path, *, module: str = "artfarm", env: dict[str, str] | None = None) -> AsyncIterator[Client]:
    """``module`` is what ``python -m`` runs: the CLI, or a test double that wraps it (tests.doubles.slow_proof)."""
    params = StdioServerParameters(command=sys.executable, args=["-m", module, "mcp", "--books", str(books_dir)],
                                   env={**os.environ, **(env or {})}, cwd=str(ROOT))
    async with Client(params, read_timeout_seconds=120) as client:
        yield client


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result
    return result.content[0].text


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text if result.content else result
    return result.structured_content


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
