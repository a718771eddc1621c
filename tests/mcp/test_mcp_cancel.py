"""A render started over MCP holds the book, and cancelling the call stops its jobs as Ctrl-C does."""

from __future__ import annotations

import json

import anyio

from tests.mcp.client import connect, error_text, structured
from tests.pipeline_helpers import write_small_book


def test_cancelling_a_render_stops_its_jobs_and_the_next_call_resumes_the_page(make_book, books_dir, tmp_path):
    write_small_book(make_book, pages=1)
    events = tmp_path / "events.jsonl"
    refine_running = anyio.Event()

    async def on_progress(value, total, message):
        if message == "page 1 refine: running":
            refine_running.set()

    async def session():
        # tests.doubles.slow_proof is the CLI with a proof renderer whose jobs take 2 s and stop on cancel()
        async with connect(books_dir, module="tests.doubles.slow_proof", env={"SLOW_PROOF_EVENTS": str(events)}) as client:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(client.call_tool, "render_page", {"book": "testbook", "page": 1}, None, on_progress)
                with anyio.fail_after(60):
                    await refine_running.wait()
                refused = await client.call_tool("render_book", {"book": "testbook"})
                tasks.cancel_scope.cancel()  # the SDK sends notifications/cancelled for the call
            resumed = structured(await client.call_tool("render_page", {"book": "testbook", "page": 1}))
            return refused, resumed

    refused, resumed = anyio.run(session)
    text = error_text(refused)
    assert "book is being rendered by another call: render_page testbook 1" in text and "pid " in text
    assert "fix: wait for that call to finish, or cancel it" in text
    stages = {s["stage"]: s["action"] for s in resumed["pages"][0]["stages"]}
    assert stages["draft"] == "cached" and stages["review"] == "cached" and stages["refine"] == "ran"
    assert resumed["done"] == 1
    started = [e["stage"] for e in map(json.loads, events.read_text().splitlines()) if e["event"] == "start"]
    assert started[:3] == ["draft", "refine", "refine"]  # the cancelled refine went no further; the next call redid it
