"""The checks a print service runs: ppi, page count and numbering, and the chosen printer profile's rules.

Each printer finding names the rule (the profile and its number, from data/printers.yaml) and the fix.
"""

from __future__ import annotations

from artfarm.findings import Finding
from artfarm.layout.art import ArtPlacement
from artfarm.layout.coverplan import CoverPlan
from artfarm.layout.geometry import Rect, pt
from artfarm.layout.plan import PagePlan
from artfarm.layout.printers import PrinterProfile
from artfarm.models.book import Book

PRINT_PPI = 300.0
MIN_PPI = 200.0


def art_finding(where: str, placement: ArtPlacement, render_hint: str) -> Finding | None:
    if placement.source.placeholder is not None:
        return None
    ppi = placement.ppi
    file = placement.source.file or where
    if ppi < MIN_PPI:
        return Finding(severity="error", file=file, message=f"{where}: art is {ppi:.0f} ppi at its placed size "
                       f"(under {MIN_PPI:.0f} prints blurred; {PRINT_PPI:.0f} is the target)",
                       fix=f"render larger final art ({render_hint}), or choose a smaller trim size")
    if ppi < PRINT_PPI:
        return Finding(severity="warning", file=file, message=f"{where}: art is {ppi:.0f} ppi at its placed size "
                       f"(below the {PRINT_PPI:.0f} ppi print services ask for)",
                       fix=f"render larger final art ({render_hint}) for a sharper print")
    return None


def preflight(pages: list[PagePlan], cover: CoverPlan, book_id: str, book: Book, printer: PrinterProfile) -> list[Finding]:
    findings: list[Finding] = []
    for plan in pages:
        if plan.art is not None:
            art_page = plan.page - 1 if plan.spread == "right" else plan.page
            found = art_finding(f"page {plan.page}", plan.art, f"`artfarm render-page {book_id} {art_page}`")
            if found:
                findings.append(found)
    if cover.art is not None:
        found = art_finding("cover", cover.art, f"`artfarm render-page {book_id} 0`")
        if found:
            findings.append(found)
    count = len(pages)
    blanks = sum(p.blank for p in pages)
    if blanks:
        findings.append(Finding(severity="warning", file="book.yaml", path="$.pages",
                                message=f"the book has {count - blanks} pages; added {blanks} blank page at the end "
                                        "so the page count is even (print books need an even count)",
                                fix="add a page of your own (a dedication, an endpaper) to end on it instead"))
    findings += printer_findings(pages, cover, book, printer)
    numbers = [p.page for p in pages if not p.blank]
    if numbers != list(range(1, len(numbers) + 1)):
        findings.append(Finding(severity="warning", file="book.yaml", path="$.pages",
                                message=f"page numbers are not 1..{len(numbers)} in order ({_brief(numbers)}); pages are printed in "
                                        "this order and page 1 is a right-hand page",
                                fix="number the pages 1, 2, 3, ... without gaps"))
    return findings


def printer_findings(pages: list[PagePlan], cover: CoverPlan, book: Book, printer: PrinterProfile) -> list[Finding]:
    """The profile's rules: bleed, page count, paper, margins, barcode area."""
    name, layout, count = printer.name, book.layout, len(pages)
    out: list[Finding] = []

    def add(severity: str, path: str, message: str, fix: str) -> None:
        out.append(Finding(severity=severity, file="book.yaml", path=path, message=f"{name}: {message}", fix=fix))

    if layout.bleed_in < printer.bleed_in:
        add("error", "$.layout.bleed_in", f"bleed is {layout.bleed_in} in; the rule is at least {printer.bleed_in} in",
            f"set layout.bleed_in: {printer.bleed_in}")
    if count < printer.min_pages:
        many = "needs" if printer.page_count_severity == "error" else "many print services need"
        add(printer.page_count_severity, "$.pages", f"the interior has {count} pages; {many} at least {printer.min_pages}",
            f"add pages up to {printer.min_pages} (endpapers, a dedication, blank pages count)")
    if count > printer.max_pages:
        add("error", "$.pages", f"the interior has {count} pages; the most is {printer.max_pages}",
            f"split the book, or shorten it to {printer.max_pages} pages")
    if layout.paper not in printer.paper:
        add("error", "$.layout.paper", f"paper '{layout.paper}' is not offered (offered: {', '.join(printer.paper)})",
            f"set layout.paper to one of: {', '.join(printer.paper)}")
    if printer.premium_colour_below_pages and count < printer.premium_colour_below_pages and layout.paper != "premium-color":
        add("error", "$.layout.paper", f"a colour book under {printer.premium_colour_below_pages} pages prints only on "
            f"premium colour paper (this one has {count} pages on '{layout.paper}')",
            f"set layout.paper: premium-color, or grow the book to {printer.premium_colour_below_pages} pages")
    for plan in pages:
        if plan.text is not None and not _inside(plan.trim, plan.text.block, pt(printer.margin_in)):
            add("error", f"$.pages[{plan.position - 1}]", f"page {plan.page}: text comes closer to the trim than the "
                f"{printer.margin_in} in margin", "choose another placement, or shorten the text")
    for where, layout_ in (("back cover text", cover.back_text), ("title", cover.title), ("author", cover.author)):
        if layout_ is not None and _overlaps(layout_.block, cover.barcode):
            add("warning", "$.cover", f"the {where} falls in the {printer.barcode.width_in} x {printer.barcode.height_in} in "
                "barcode area at the back cover's lower right (the service prints the ISBN barcode over it)",
                "shorten the back cover text so it ends above the barcode area")
    return out


def size_findings(interior_bytes: int, printer: PrinterProfile, jpeg_quality: int) -> list[Finding]:
    """After writing: the print interior's size against the service's advice and limit (reported either way)."""
    mb = interior_bytes / 1e6
    if printer.file_size_max_mb and mb > printer.file_size_max_mb:
        return [Finding(severity="error", file="layout/pages.pdf", message=f"{printer.name}: the interior is {mb:.1f} MB; "
                        f"the most the service accepts is {printer.file_size_max_mb:g} MB",
                        fix="use smaller final art (300 ppi at the trim size is enough)")]
    if printer.file_size_advice_mb is None:
        return []
    within = mb <= printer.file_size_advice_mb
    return [Finding(severity="info" if within else "warning", file="layout/pages.pdf",
                    message=f"{printer.name}: the interior is {mb:.1f} MB (art as JPEG quality {jpeg_quality}); "
                            f"{'within' if within else 'over'} the advised {printer.file_size_advice_mb:g} MB",
                    fix=None if within else "use final art no larger than 300 ppi at the trim size")]


def _inside(trim: Rect, block: Rect, margin: float) -> bool:
    return trim.inset(margin, margin, margin, margin).contains(block, tol=0.01)


def _overlaps(a: Rect, b: Rect) -> bool:
    inter = a.intersect(b)
    return inter.w > 0.01 and inter.h > 0.01


def _brief(numbers: list[int]) -> str:
    text = ", ".join(map(str, numbers[:8]))
    return text + (", ..." if len(numbers) > 8 else "")
