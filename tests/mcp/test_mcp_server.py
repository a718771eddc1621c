"""`artfarm mcp` as an agent host sees it: a real server process over stdio, driven by the SDK's client.

Each test is one session (starting the server costs seconds), walking through what an agent does.
"""

from __future__ import annotations

import base64
import io
import subprocess
import sys

import anyio
from PIL import Image

from artfarm.models.records import RunSummary
from tests.bookbuilder import default_spec, write_book
from tests.mcp.client import ROOT, connect, error_text, read_json, structured
from tests.pipeline_helpers import small_book_data, small_spec, write_small_book

TOOLS = {"list_books", "book_status", "get_schema", "validate_book", "read_renderspec", "write_renderspec",
         "compile_prompt", "render_page", "render_book", "contact_sheet", "select_draft", "reject_drafts", "export_pdf"}


def test_an_agent_lists_tools_and_books_and_writes_renderspecs_only_when_valid(make_book, books_dir):
    book = write_small_book(make_book, pages=2)
    target = book / "pages/0002/renderspec.json"
    before = target.read_bytes()
    bad = default_spec(2, scen="typo for scene", characters=[{"id": "wolf"}])
    del bad["scene"]
    good = small_spec(2, scene="the bear waves goodbye from the hill")

    async def session():
        async with connect(books_dir) as client:
            out = {"tools": {t.name: t for t in (await client.list_tools()).tools},
                   "books": structured(await client.call_tool("list_books", {})),
                   "listed": [r.uri for r in (await client.list_resources()).resources],
                   "schema": structured(await client.call_tool("get_schema", {"name": "renderspec"})),
                   "rejected": structured(await client.call_tool("write_renderspec", {"book": "testbook", "page": 2, "spec": bad})),
                   "after_reject": target.read_bytes(),
                   "written": structured(await client.call_tool("write_renderspec", {"book": "testbook", "page": 2, "spec": good})),
                   "read": structured(await client.call_tool("read_renderspec", {"book": "testbook", "page": 2})),
                   "resource": await client.read_resource("artfarm://testbook/pages/0002/renderspec.json")}
            return out

    out = anyio.run(session)
    tools = out["tools"]
    assert TOOLS <= set(tools)
    assert set(tools["write_renderspec"].input_schema["required"]) == {"book", "page", "spec"}
    assert tools["render_page"].output_schema["title"] == "RunSummary"
    assert tools["read_renderspec"].annotations.read_only_hint and not tools["render_book"].annotations.read_only_hint
    assert out["books"]["books"] == [{"id": "testbook", "title": "Test Book", "pages": 2, "problems": []}]
    assert set(out["listed"]) == {"artfarm://testbook/book.yaml", "artfarm://testbook/bible/characters.yaml",
                                  "artfarm://testbook/pages/0001/renderspec.json", "artfarm://testbook/pages/0002/renderspec.json"}
    assert out["schema"]["schema"]["$id"] == "renderspec.schema.json"

    assert out["rejected"]["written"] is False and out["after_reject"] == before
    problems = {f["path"]: f for f in out["rejected"]["findings"]}
    assert "did you mean 'scene'" in problems["$.scen"]["fix"]
    assert problems["$.scene"]["message"] == "required key 'scene' is missing"
    assert "not in bible/characters.yaml" in problems["$.characters[0].id"]["message"]
    assert out["written"] == {"book": "testbook", "page": 2, "file": "pages/0002/renderspec.json", "written": True,
                              "findings": []}
    assert read_json(target) == good and out["read"]["valid"] and out["read"]["spec"] == good
    assert out["resource"].contents[0].text == target.read_text()


def test_an_agent_renders_with_progress_reviews_from_the_contact_sheet_and_exports_the_pdf(make_book, books_dir):
    book_data = small_book_data(2)
    book_data["layout"].update(trim="3x3", typography={"min_size_pt": 8})  # pages big enough for their words
    book = write_small_book(make_book, pages=2, book=book_data)
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value, total, message):
        progress.append((value, total, message))

    async def session():
        async with connect(books_dir) as client:
            out = {"page 1": await client.call_tool("render_page", {"book": "testbook", "page": 1}, progress_callback=on_progress)}
            agent = {"reviewer": "agent"}
            out["waiting"] = structured(await client.call_tool("render_page", {"book": "testbook", "page": 2, "run": agent}))
            out["sheet"] = await client.call_tool("contact_sheet", {"book": "testbook", "page": 2})
            out["chosen"] = structured(await client.call_tool("select_draft", {"book": "testbook", "page": 2, "candidate": 2,
                                                                               "reason": "clearest silhouette"}))
            out["page 2"] = structured(await client.call_tool("render_page", {"book": "testbook", "page": 2, "run": agent}))
            out["exported"] = structured(await client.call_tool("export_pdf", {"book": "testbook", "placeholders": True}))
            out["art"] = await client.read_resource("artfarm://testbook/pages/0001/final/final.png")
            return out

    out = anyio.run(session)
    summary = RunSummary.model_validate(structured(out["page 1"]))
    assert summary.renderer == "proof" and summary.reviewer == "heuristic" and summary.done == 1
    assert summary.pages[0].final == "pages/0001/final/final.png"
    messages = [m for _, _, m in progress]
    assert "page 1 draft: running" in messages and "page 1 draft: step 3/3" in messages  # the burst of 3 drafts
    assert "page 1 upscale: running" in messages and messages[-1] == "page 1: finished"
    values = [v for v, _, _ in progress]
    assert values == sorted(set(values)) and values[-1] == 1.0 and {t for _, t, _ in progress} == {1.0}

    assert out["waiting"]["waiting"] == 1 and out["waiting"]["reviewer"] == "agent"
    sheet = out["sheet"]
    image = next(c for c in sheet.content if c.type == "image")
    shown = Image.open(io.BytesIO(base64.b64decode(image.data)))
    assert image.mime_type == "image/jpeg" and shown.size == (sheet.structured_content["width"], sheet.structured_content["height"])
    assert max(shown.size) <= 1024 and sheet.structured_content["candidates"] == 3
    assert out["chosen"]["selection"]["index"] == 2 and out["chosen"]["selection"]["decided_by"] == "agent"
    assert read_json(book / "pages/0002/review.json")["selection"]["rationale"] == "clearest silhouette"
    assert out["page 2"]["done"] == 1 and (book / "pages/0002/final/final.png").is_file()

    exported = out["exported"]
    assert exported["errors"] == 0 and exported["interior_pages"] == 2
    assert {o["file"] for o in exported["outputs"]} == {"layout/pages.pdf", "layout/cover.pdf", "exports/web/testbook.pdf"}
    assert (book / "layout/pages.pdf").is_file() and (book / "exports/web/testbook.pdf").is_file()
    assert base64.b64decode(out["art"].contents[0].blob) == (book / "pages/0001/final/final.png").read_bytes()


def test_hostile_inputs_are_clean_tool_errors_with_the_clis_message_and_touch_nothing(make_book, books_dir, tmp_path):
    book = write_small_book(make_book, pages=2)
    outside = write_book(tmp_path / "elsewhere", book_id="outside")
    (books_dir / "escape").symlink_to(outside)
    spec_before = (book / "pages/0001/renderspec.json").read_bytes()
    huge = small_spec(1, scene="x" * 10_000_000)
    cli = subprocess.run([sys.executable, "-m", "artfarm", "review", "testbook", "1", "--select", "0", "--reason", "x",
                          "--books", str(books_dir)], cwd=ROOT, capture_output=True, text=True, timeout=60)

    async def session():
        async with connect(books_dir) as client:
            calls = {
                "dotdot": ("book_status", {"book": "../testbook"}),
                "absolute": ("validate_book", {"book": "/etc"}),
                "symlink out": ("validate_book", {"book": "escape"}),
                "10 MB spec": ("write_renderspec", {"book": "testbook", "page": 1, "spec": huge}),
                "page out of range": ("render_page", {"book": "testbook", "page": 10000}),
                "page not in book": ("render_page", {"book": "testbook", "page": 7}),
                "no review yet": ("select_draft", {"book": "testbook", "page": 1, "candidate": 0, "reason": "x"}),
            }
            out = {name: error_text(await client.call_tool(tool, args)) for name, (tool, args) in calls.items()}
            try:
                await client.read_resource("artfarm://testbook/pages/..%2F..%2Fescape/renderspec.json")
            except Exception as exc:  # the SDK raises the server's refusal of a resource
                out["resource"] = str(exc)
            return out

    out = anyio.run(session)
    assert all("Traceback" not in text for text in out.values())
    assert "book id '../testbook' is not a plain book id" in out["dotdot"] and "\n  fix: " in out["dotdot"]
    assert "is not a plain book id" in out["absolute"]
    assert "leads outside the books folder" in out["symlink out"]
    assert "more than 262144" in out["10 MB spec"]
    assert "less than or equal to 9999" in out["page out of range"]
    assert "page 7 is not in the book" in out["page not in book"] and "pages with art: 1, 2" in out["page not in book"]
    assert cli.returncode == 2 and out["no review yet"].endswith(cli.stderr.strip())  # word for word what the CLI says
    assert "Unknown resource" in out["resource"] or "security" in out["resource"]
    assert (book / "pages/0001/renderspec.json").read_bytes() == spec_before
    assert not (book / "pages/0007").exists() and not (book / "pages/0001/draft").exists()
