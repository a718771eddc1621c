"""The MCP tools: each calls the library function its CLI command calls, and returns a typed model.

To add a tool, write a function taking ``ctx: Context`` and typed arguments (their types and
``Field`` descriptions become its JSON Schema; the return type its output schema) and append a
``ToolDef`` to ``TOOLS``. An ``ArtfarmError`` it raises reaches the client as a tool error with
the message and fix line the CLI prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ImageContent, TextContent
from pydantic import BaseModel, ConfigDict, Field

from artfarm.book.files import load_model, read_data
from artfarm.book.loader import inspect_book
from artfarm.book.paths import page_dir_name
from artfarm.book.spec_write import MAX_PAGE, SpecWriteReport, write_spec
from artfarm.book import validation
from artfarm.book.validation import ValidateReport
from artfarm.errors import BadInputError
from artfarm.findings import Finding
from artfarm.layout.export import ExportReport, export_pdf as layout_export_pdf
from artfarm.mcp.workspace import Workspace
from artfarm.models.book import Book, Printer
from artfarm.models.records import BookStatus, RunSummary
from artfarm.models.review import ReviewRecord
from artfarm.pipeline.context import STAGE_ORDER
from artfarm.pipeline.engine import RunOptions, book_status as engine_book_status, summary_text
from artfarm.pipeline.lock import BookLock
from artfarm.prompts.compile import CompiledPrompt
from artfarm.prompts.family import compile_for_family
from artfarm.review.agent import CONTACT_SHEET, record_decision
from artfarm.review.imaging import prepare_image
from artfarm.schemas import schema_models, schema_text

MAX_SPEC_BYTES = 256 * 1024  # a RenderSpec is a few KB; anything near this is a mistake or an attack
CONTACT_SHEET_EDGE = 1024  # px, the longest edge of the contact sheet sent back

BookId = Annotated[str, Field(max_length=64, description="A book id as list_books returns it (never a path).")]
Page = Annotated[int, Field(ge=0, le=MAX_PAGE, description="Page number; 0 is the cover.")]
Reason = Annotated[str, Field(min_length=1, max_length=2000, description="Why, in a few words (kept in review.json).")]
SchemaName = Literal[tuple(sorted(schema_models()))]  # type: ignore[valid-type]
StageName = Literal[tuple(STAGE_ORDER)]  # type: ignore[valid-type]


class RunFlags(BaseModel):
    """The render commands' backend flags; each unset one falls back to the server's flags, the environment,
    book.yaml's render: section, then the defaults (the CLI's precedence)."""

    model_config = ConfigDict(extra="forbid")

    renderer: Literal["proof", "comfyui"] | None = None
    reviewer: Literal["heuristic", "vlm", "agent"] | None = None
    comfyui_urls: list[Annotated[str, Field(max_length=500)]] | None = Field(None, max_length=16)
    ollama_url: Annotated[str, Field(max_length=500)] | None = None
    review_fallback: Literal["heuristic"] | None = None
    iterations_per_loop: Annotated[int, Field(ge=0, le=20)] | None = None
    max_loops: Annotated[int, Field(ge=0, le=10)] | None = None


class BookEntry(BaseModel):
    id: str
    title: str | None = None
    pages: int = Field(0, description="Pages listed in book.yaml.")
    problems: list[Finding] = Field(default_factory=list, description="Why book.yaml could not be read, if it could not.")


class BookList(BaseModel):
    books_dir: str
    books: list[BookEntry]


class SchemaResult(BaseModel):
    name: str
    json_schema: dict[str, Any] = Field(alias="schema", description="The same JSON as `artfarm schema NAME`.")


class RenderSpecRead(BaseModel):
    book: str
    page: int
    file: str
    spec: Any = Field(description="The file's JSON as it is on disk.")
    valid: bool
    findings: list[Finding]


class ContactSheetInfo(BaseModel):
    book: str
    page: int
    file: str
    width: int = Field(description="Width of the image sent (downscaled).")
    height: int
    source_width: int
    source_height: int
    candidates: int
    status: str = Field(description="review.json's status: waiting, selected, rejected_all ...")


def workspace(ctx: Context) -> Workspace:
    return ctx.request_context.lifespan_context


# -- reading -------------------------------------------------------------------------------------------

def list_books(ctx: Context) -> BookList:
    """The books under the server's --books folder, with their titles and page counts."""
    space = workspace(ctx)
    entries = []
    for book_id in space.book_ids():
        book, problems = load_model(space.books_dir / book_id / "book.yaml", Book, display=f"{book_id}/book.yaml")
        entries.append(BookEntry(id=book_id, title=book.title if book else None, pages=len(book.pages) if book else 0,
                                 problems=problems))
    return BookList(books_dir=str(space.books_dir), books=entries)


def book_status(ctx: Context, book: BookId, run: RunFlags | None = None) -> BookStatus:
    """Pages x stages: done, stale (and why), missing, failed, waiting for review, edited; runs nothing.
    The renderer and reviewer matter because their identity is part of every cache key."""
    space = workspace(ctx)
    loaded = space.load(book)
    return engine_book_status(loaded, space.settings(loaded, _flags(run)))


def get_schema(ctx: Context, name: SchemaName) -> SchemaResult:
    """A JSON Schema of a file format (renderspec, book, characters, ...), as `artfarm schema NAME` prints it."""
    return SchemaResult(name=name, schema=json.loads(schema_text(name)))


def validate_book(ctx: Context, book: BookId) -> ValidateReport:
    """Check the whole book; every problem at once with file, JSON path and fix."""
    return validation.validate_book(workspace(ctx).book_dir(book))


def read_renderspec(ctx: Context, book: BookId, page: Page) -> RenderSpecRead:
    """A page's renderspec.json as it is on disk, whether it is valid, and its problems."""
    book_dir = workspace(ctx).book_dir(book)
    rel = f"pages/{page_dir_name(page)}/renderspec.json"
    if not (book_dir / rel).is_file():
        raise BadInputError(f"page {page} has no RenderSpec", where=str(book_dir / rel),
                            fix="write one with write_renderspec (see get_schema renderspec)")
    data = read_data(book_dir / rel, display=rel)
    loaded, _ = inspect_book(book_dir)
    findings = loaded.page_findings.get(page, []) if loaded else []
    return RenderSpecRead(book=book, page=page, file=rel, spec=data, findings=findings,
                          valid=loaded is not None and page in loaded.specs)


def compile_prompt(ctx: Context, book: BookId, page: Page) -> CompiledPrompt:
    """The positive and negative prompts the page's RenderSpec compiles to (what the draft stage sends)."""
    loaded = workspace(ctx).load(book)
    spec = loaded.require_spec(page)
    return compile_for_family(spec, loaded.characters, loaded.style_packs[spec.style_pack].pack, loaded.book.models.family)


def contact_sheet(ctx: Context, book: BookId, page: Page) -> Annotated[CallToolResult, ContactSheetInfo]:
    """The page's numbered draft candidates as one image (downscaled), written when the agent reviewer
    stopped the page for a choice; choose with select_draft or reject_drafts."""
    loaded = workspace(ctx).load(book)
    path = loaded.page_dir(workspace(ctx).page(loaded, page)) / CONTACT_SHEET
    if not path.is_file():
        raise BadInputError(f"page {page} has no contact sheet", where=str(path),
                            fix=f"render the page with reviewer 'agent' (render_page {book} {page}, run.reviewer=agent)")
    review = _review(loaded.page_dir(page) / "review.json")
    image = prepare_image(path, max_edge=CONTACT_SHEET_EDGE)
    info = ContactSheetInfo(book=book, page=page, file=f"pages/{page_dir_name(page)}/{CONTACT_SHEET}",
                            width=image.width, height=image.height, source_width=image.source_width,
                            source_height=image.source_height, candidates=len(review.candidates) if review else 0,
                            status=review.status if review else "unknown")
    return CallToolResult(content=[ImageContent(type="image", data=image.b64(), mime_type="image/jpeg"),
                                   TextContent(type="text", text=info.model_dump_json())],
                          structured_content=info.model_dump(mode="json"))


# -- writing ---------------------------------------------------------------------------------------------

def write_renderspec(ctx: Context, book: BookId, page: Page,
                     spec: Annotated[dict[str, Any], Field(description="The RenderSpec (see get_schema renderspec).")]
                     ) -> SpecWriteReport:
    """Check a page's RenderSpec against the whole book and write it atomically only if it has no errors;
    the result lists every problem with its JSON path and fix (nothing is written when there is one).
    Refused while a render holds the book, so a page's spec never changes under its render."""
    size = len(json.dumps(spec, ensure_ascii=False).encode("utf-8"))
    if size > MAX_SPEC_BYTES:
        raise BadInputError(f"RenderSpec is {size} bytes, more than {MAX_SPEC_BYTES}", where="spec",
                            fix="a RenderSpec describes one page in a few KB; send only its fields")
    book_dir = workspace(ctx).book_dir(book)
    with BookLock(book_dir):
        return write_spec(book_dir, page, spec)


def select_draft(ctx: Context, book: BookId, page: Page,
                 candidate: Annotated[int, Field(ge=0, description="Candidate number as on the contact sheet.")],
                 reason: Reason) -> ReviewRecord:
    """Choose the page's draft (as `artfarm review --select N --by agent`); the next render continues from it."""
    return _decide(ctx, book, page, select=candidate, reason=reason)


def reject_drafts(ctx: Context, book: BookId, page: Page, reason: Reason) -> ReviewRecord:
    """Reject every draft of the page (as `artfarm review --reject-all --by agent`); change the RenderSpec, then render again."""
    return _decide(ctx, book, page, select=None, reason=reason)


def export_pdf(ctx: Context, book: BookId, placeholders: bool = False, force: bool = False,
               printer: Annotated[Printer | None, Field(description="The print service's rules to follow and check "
                                                                   "(default: book.yaml layout.printer, else generic); "
                                                                   "ingramspark writes PDF/X-1a:2001 in CMYK.")] = None
               ) -> ExportReport:
    """Lay out the print interior, the cover and the web PDF; returns the preflight report and the files' paths
    (relative to the book). `placeholders` lays out pages without final art with marked stand-ins."""
    return layout_export_pdf(workspace(ctx).book_dir(book), placeholders=placeholders, force=force, printer=printer)


# -- rendering -------------------------------------------------------------------------------------------

async def render_page(ctx: Context, book: BookId, page: Page, from_stage: StageName | None = None, force: bool = False,
                      run: RunFlags | None = None) -> Annotated[CallToolResult, RunSummary]:
    """Render one page (draft -> review -> refine -> inpaint -> loop -> upscale -> final), cached stages skipped.
    Long: reports progress (stage, sampler steps); cancel the call to stop the jobs (finished stages are kept)."""
    options = RunOptions(pages=[page], jobs=1, from_stage=from_stage, force=force)
    return await _render(ctx, book, options, f"render_page {book} {page}", run)


async def render_book(ctx: Context, book: BookId, jobs: Annotated[int, Field(ge=1, le=64)] | None = None,
                      keep_going: bool = False, run: RunFlags | None = None) -> Annotated[CallToolResult, RunSummary]:
    """Render every page to final art, cached stages skipped; `jobs` pages at once, `keep_going` finishes the
    other pages when one fails. Long: reports progress; cancel the call to stop the jobs."""
    flags = _flags(run) | {"jobs": jobs}
    return await _render(ctx, book, RunOptions(jobs=jobs, keep_going=keep_going), f"render_book {book}", run, flags)


@dataclass(frozen=True)
class ToolDef:
    fn: Callable[..., Any]
    read_only: bool = False


TOOLS: list[ToolDef] = [
    ToolDef(list_books, read_only=True),
    ToolDef(book_status, read_only=True),
    ToolDef(get_schema, read_only=True),
    ToolDef(validate_book, read_only=True),
    ToolDef(read_renderspec, read_only=True),
    ToolDef(compile_prompt, read_only=True),
    ToolDef(contact_sheet, read_only=True),
    ToolDef(write_renderspec),
    ToolDef(render_page),
    ToolDef(render_book),
    ToolDef(select_draft),
    ToolDef(reject_drafts),
    ToolDef(export_pdf),
]


# -- helpers ---------------------------------------------------------------------------------------------

def _flags(run: RunFlags | None) -> dict[str, Any]:
    return run.model_dump() if run is not None else {}


def _review(path) -> ReviewRecord | None:
    try:
        return ReviewRecord.model_validate_json(path.read_bytes())
    except (OSError, ValueError):
        return None


def _decide(ctx: Context, book: BookId, page: int, *, select: int | None, reason: str) -> ReviewRecord:
    loaded = workspace(ctx).load(book)
    with BookLock(loaded.root):
        return record_decision(loaded, workspace(ctx).page(loaded, page), select=select, reason=reason,
                               reject_all=select is None, decided_by="agent")


async def _render(ctx: Context, book: BookId, options: RunOptions, what: str, run: RunFlags | None,
                  flags: dict[str, Any] | None = None) -> CallToolResult:
    space = workspace(ctx)
    loaded = space.load(book)
    if options.pages:
        space.page(loaded, options.pages[0])
    settings = space.settings(loaded, flags if flags is not None else _flags(run))
    summary = await space.jobs.run(loaded, settings, options, what, ctx.report_progress)
    return CallToolResult(content=[TextContent(type="text", text=summary_text(summary))],
                          structured_content=summary.model_dump(mode="json"), is_error=summary.exit_code != 0)
