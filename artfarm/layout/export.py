"""export-pdf as a library call: plan, preflight, write the three PDFs atomically, record, cache.

Like a render stage, the export has a cache key over everything that shapes its output (the
book's layout settings and text, the palette, the font files, each art file's SHA-256 and the
layout code version). ``layout/layout.json`` is written last; when it holds the same key and
every output still has its recorded hash, the export is a no-op. An unreadable record is a
logged miss, never a crash.
"""

from __future__ import annotations

import io
import logging
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from artfarm import __version__
from artfarm.book.loader import LoadedBook, load_book
from artfarm.book.paths import page_dir_name
from artfarm.errors import BadInputError, WriteError
from artfarm.findings import Finding
from artfarm.fsio import atomic_stream, atomic_write_json, sha256_file, sha256_json
from artfarm.layout import draw
from artfarm.layout.art import ArtSource, PlaceholderSpec, encode_jpeg, probe
from artfarm.layout.errors import MissingArtError, PreflightFailed
from artfarm.layout.fonts import load_typography
from artfarm.layout.glyphs import glyph_findings
from artfarm.layout.geometry import inches, print_page_count
from artfarm.layout.pdfstream import SlotTable, splice
from artfarm.layout.placeholder import PLACEHOLDER_PPI
from artfarm.layout.coverplan import CoverPlan, plan_cover
from artfarm.layout.plan import PagePlan, PlanContext, plan_interior
from artfarm.layout.pdfx import PdfxCanvas, PrintCanvas
from artfarm.layout.pdfx import verify as verify_pdfx
from artfarm.layout.preflight import preflight, size_findings
from artfarm.layout.printers import PrinterProfile, load_profile
from artfarm.pipeline.lock import BookLock
from artfarm.models.base import StrictModel

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
LAYOUT_VERSION = 4  # bump when a change to this package changes the PDFs it writes
RECORD = "layout/layout.json"
WEB_PPI = 150.0
WEB_JPEG_QUALITY = 72


class OutputFile(StrictModel):
    file: str
    sha256: str
    bytes: int
    pages: int


class LayoutRecord(StrictModel):
    """layout/layout.json: what was written, from what, and every decision per page."""

    schema_version: int = SCHEMA_VERSION
    cache_key: str
    key_inputs: dict
    printer: str = "generic"
    outputs: list[OutputFile]
    pages: list[PagePlan]
    padded_blank_pages: int = 0  # blank pages added at the end of pages.pdf to make the count even
    cover: CoverPlan
    preflight: list[Finding]
    started: str
    finished: str
    seconds: float


class ExportReport(StrictModel):
    """What `artfarm export-pdf --json` prints."""

    book: str
    printer: str
    cached: bool
    reason: str
    interior_pages: int
    padded_blank_pages: int = 0
    cover_width_in: float
    cover_height_in: float
    spine_width_in: float
    spine_text: bool
    outputs: list[OutputFile]
    errors: int
    warnings: int
    preflight: list[Finding]
    seconds: float


def final_art_rel(page: int) -> str:
    return f"pages/{page_dir_name(page)}/final/final.png"


def export_pdf(book_dir: Path, *, placeholders: bool = False, force: bool = False,
               printer: str | PrinterProfile | None = None) -> ExportReport:
    """``printer`` (--printer, a profile's name or the profile) overrides book.yaml's ``layout.printer``. Holds the book lock throughout, so no
    run writes finals while they are read and laid out (a run in progress makes this a LockHeldError)."""
    with BookLock(book_dir):
        return _export_pdf(book_dir, placeholders=placeholders, force=force, printer=printer)


def _export_pdf(book_dir: Path, *, placeholders: bool, force: bool, printer: str | PrinterProfile | None) -> ExportReport:
    started, t0 = _now(), time.perf_counter()
    loaded = load_book(book_dir)
    book = loaded.book
    profile = printer if isinstance(printer, PrinterProfile) else load_profile(printer or book.layout.printer)
    if not book.pages:
        raise BadInputError("book.yaml lists no pages, so there is nothing to lay out", where=f"{loaded.root}/book.yaml $.pages",
                            fix="add pages (`- page: 1` with its `text:`) to book.yaml")
    fonts = load_typography(book.layout.typography, loaded.root)
    missing_glyphs = glyph_findings(book, fonts, loaded.root)
    if missing_glyphs:
        _fail(missing_glyphs, loaded.root)
    palette = _palette(loaded)
    sources = _art_sources(loaded, placeholders, profile)
    key_inputs = layout_key_inputs(book, palette, fonts.hashes, sources, profile)
    cache_key = sha256_json(key_inputs)
    previous = _read_record(loaded.root)
    reason = _cache_miss_reason(previous, cache_key, key_inputs, loaded.root) if not force else "forced with --force"
    if reason is None:
        log.info("%s export-pdf: cached (art and layout unchanged)", loaded.id)
        return _report(loaded.id, previous, cached=True, reason="art and layout unchanged", seconds=time.perf_counter() - t0)
    log.info("%s export-pdf: %s", loaded.id, reason)

    ctx = PlanContext(book=book, book_dir=loaded.root, fonts=fonts, palette=palette, sources=sources, printer=profile)
    pages = plan_interior(ctx)
    cover_plan = plan_cover(ctx, len(pages))
    findings = preflight(pages, cover_plan, loaded.id, book, profile)
    if any(f.severity == "error" for f in findings):
        _fail(findings, loaded.root)

    book_pages = [p for p in pages if not p.blank]  # the web PDF is read on screens: no padding page
    targets = {"interior": "layout/pages.pdf", "cover": "layout/cover.pdf", "web": f"exports/web/{loaded.id}.pdf"}
    meta = dict(title=book.title, author=book.author, subject=book.subtitle or book.title, lang=book.language,
                font=fonts.regular.name, print_quality=profile.interior_jpeg_quality)
    pdfx = profile.pdfx == "x1a_2001"  # the print files; the web PDF stays RGB for screens
    with ExitStack() as stack:
        files = {name: stack.enter_context(atomic_stream(loaded.root / rel)) for name, rel in targets.items()}
        counts = {
            "interior": _write(files["interior"], meta, loaded.root, lambda c, s: [draw.interior_page(c, s, p, "print") for p in pages], pdfx=pdfx),
            "cover": _write(files["cover"], meta, loaded.root, lambda c, s: draw.cover_sheet(c, s, cover_plan, fonts), pdfx=pdfx),
            "web": _write(files["web"], meta, loaded.root, lambda c, s: (draw.front_cover_page(c, s, cover_plan),
                                                                       [draw.interior_page(c, s, p, "web") for p in book_pages])),
        }
    outputs = [OutputFile(file=rel, sha256=sha256_file(loaded.root / rel), bytes=(loaded.root / rel).stat().st_size,
                          pages=counts[name]) for name, rel in targets.items()]
    findings += size_findings(outputs[0].bytes, profile, profile.interior_jpeg_quality)
    if pdfx:
        for rel in (targets["interior"], targets["cover"]):
            findings += verify_pdfx(loaded.root / rel, rel, profile.total_ink_max, profile.total_ink_advised)
    if any(f.severity == "error" for f in findings):  # the files are written but fail their checks: not a result
        _forget_record(loaded.root)
        _fail(findings, loaded.root, written=True)
    record = LayoutRecord(cache_key=cache_key, key_inputs=key_inputs, printer=profile.name, outputs=outputs, pages=pages,
                          padded_blank_pages=sum(p.blank for p in pages), cover=cover_plan,
                          preflight=findings, started=started, finished=_now(), seconds=round(time.perf_counter() - t0, 3))
    atomic_write_json(loaded.root / RECORD, record)
    return _report(loaded.id, record, cached=False, reason=reason, seconds=time.perf_counter() - t0)


def _forget_record(root: Path) -> None:
    """The PDFs just written failed the checks made after writing; without a record the next run redoes them
    rather than report them as cached."""
    try:
        (root / RECORD).unlink(missing_ok=True)
    except OSError as exc:
        raise WriteError(f"could not remove the old layout record ({exc.strerror or exc})", where=str(root / RECORD),
                         fix="make layout/ writable, then run again") from exc


def _fail(findings: list[Finding], root: Path, *, written: bool = False) -> None:
    """``written``: the errors were found in the files already written, which must not be sent to a printer."""
    errors = [f for f in findings if f.severity == "error"]
    head = "the PDFs written fail the checks made after writing (do not send them to a printer); " if written else ""
    raise PreflightFailed(head + f"preflight found {len(errors)} error(s): " + "; ".join(f.message for f in errors),
                          where=str(root), fix="; ".join(sorted({f.fix for f in errors if f.fix})), findings=findings)


def layout_key_inputs(book, palette: list[str], font_hashes: list[str], sources: dict[int, ArtSource],
                      printer: PrinterProfile) -> dict:
    """Everything that shapes the PDFs; the export's cache key is the SHA-256 of its canonical JSON."""
    return {
        "printer": printer.model_dump(mode="json"),
        "schema_version": SCHEMA_VERSION, "layout_version": LAYOUT_VERSION, "artfarm": __version__,
        "book": book.model_dump(mode="json", include={"title", "subtitle", "author", "language", "layout", "cover", "pages"}),
        "palette": palette, "fonts": font_hashes,
        "art": {str(page): src.sha256 or src.model_dump(mode="json") for page, src in sorted(sources.items())},
    }


def _write(out, meta: dict, book_dir: Path, draw_pages, pdfx: bool = False) -> int:
    """Draw the skeleton in memory, then stream it to ``out`` with each image encoded as it is reached."""
    buffer = io.BytesIO()
    # The initial font is ours, so no page names an unembedded standard font.
    canvas = (PdfxCanvas if pdfx else PrintCanvas)(buffer, lang=meta["lang"], pageCompression=1, initialFontName=meta["font"])
    canvas.setTitle(meta["title"])
    canvas.setAuthor(meta["author"])
    canvas.setSubject(meta["subject"])
    canvas.setCreator(f"artfarm {__version__}")
    slots = SlotTable()
    draw_pages(canvas, slots)
    pages = canvas.getPageNumber() - 1
    canvas.save()

    def encode(item) -> tuple[bytes, int, int]:
        placement, profile = item
        if profile == "web":
            return encode_jpeg(placement, book_dir, max_ppi=WEB_PPI, quality=WEB_JPEG_QUALITY)
        return encode_jpeg(placement, book_dir, max_ppi=None, quality=meta["print_quality"], cmyk=pdfx)

    splice(buffer.getvalue(), out, slots, encode, cmyk=pdfx)
    return pages


def _art_sources(loaded: LoadedBook, placeholders: bool, printer: PrinterProfile) -> dict[int, ArtSource]:
    """Final art for the cover and every page with art of its own; missing art is one error naming every page."""
    book = loaded.book
    continuations = book.spread_continuations()
    needed = [0] + [e.page for e in sorted(book.pages, key=lambda e: e.page) if e.page not in continuations]
    count = print_page_count(len(book.pages))
    sources, missing = {}, []
    for page in needed:
        rel = final_art_rel(page)
        path = loaded.root / rel
        if path.is_file():
            width, height = probe(path, rel)
            sources[page] = ArtSource(file=rel, sha256=sha256_file(path), width=width, height=height)
        elif placeholders:
            w_in, h_in = _art_size_in(loaded, page, count, printer)
            spec = PlaceholderSpec(label=f"page {page}" if page else "cover", seed=page,
                                   width=round(w_in * PLACEHOLDER_PPI), height=round(h_in * PLACEHOLDER_PPI))
            sources[page] = ArtSource(placeholder=spec, width=spec.width, height=spec.height)
        else:
            missing.append(page)
    if missing:
        names = ", ".join("cover (page 0)" if p == 0 else f"page {p}" for p in missing)
        commands = ", ".join(f"`artfarm render-page {loaded.id} {p}`" for p in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise MissingArtError(f"no final art (pages/NNNN/final/final.png) for {names}", where=str(loaded.root),
                              fix=f"render it: {commands}; or lay out with clearly marked placeholder art: "
                                  f"`artfarm export-pdf {loaded.id} --placeholders`")
    return sources


def _art_size_in(loaded: LoadedBook, page: int, count: int, printer: PrinterProfile) -> tuple[float, float]:
    """The size the art of ``page`` is printed at (bleed included), so placeholders come out at 300 ppi."""
    layout = loaded.book.layout
    if page == 0:
        geo = printer.cover(layout, count)
        return inches(geo.front_bleed.w), inches(geo.front_bleed.h)
    geo = printer.page(layout, 1, count)
    entry = loaded.page_entry(page)
    wide = 2 if entry is not None and entry.spread else 1
    return inches(geo.media.w) * wide, inches(geo.media.h)


def _palette(loaded: LoadedBook) -> list[str]:
    pack = loaded.style_packs.get(loaded.book.style_pack)
    return list(pack.pack.palette.values()) if pack else []


def _read_record(root: Path) -> LayoutRecord | None:
    path = root / RECORD
    if not path.is_file():
        return None
    try:
        return LayoutRecord.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError) as exc:
        log.warning("%s: unreadable layout record, laying out again (%s)", path, type(exc).__name__)
        return None


def _cache_miss_reason(record: LayoutRecord | None, cache_key: str, key_inputs: dict, root: Path) -> str | None:
    """Why the export must run again (the log says it), or None when the recorded output is current."""
    if record is None:
        return "no layout record yet"
    if any(f.severity == "error" for f in record.preflight):  # written before such a record was refused
        return "the last export's checks found errors"
    if record.cache_key != cache_key:
        old = record.key_inputs
        changed = [k for k in sorted(set(old) | set(key_inputs)) if old.get(k) != key_inputs.get(k)]
        if changed == ["art"]:
            pages = sorted({*old["art"], *key_inputs["art"]} - {p for p in key_inputs["art"] if old["art"].get(p) == key_inputs["art"][p]}, key=int)
            return f"art changed on page(s) {', '.join(pages)}"
        return f"changed since the last export: {', '.join(changed) or 'record format'}"
    for out in record.outputs:
        path = root / out.file
        if not path.is_file():
            return f"{out.file} is missing"
        if path.stat().st_size != out.bytes or sha256_file(path) != out.sha256:
            return f"{out.file} was changed since it was written"
    return None


def _report(book_id: str, record: LayoutRecord, *, cached: bool, reason: str, seconds: float) -> ExportReport:
    findings = record.preflight
    return ExportReport(book=book_id, printer=record.printer, cached=cached, reason=reason, interior_pages=len(record.pages),
                        padded_blank_pages=record.padded_blank_pages,
                        cover_width_in=record.cover.width_in, cover_height_in=record.cover.height_in,
                        spine_width_in=record.cover.spine_width_in, spine_text=record.cover.spine_text is not None,
                        outputs=record.outputs, errors=sum(f.severity == "error" for f in findings),
                        warnings=sum(f.severity == "warning" for f in findings), preflight=findings,
                        seconds=round(seconds, 3))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
