"""The checks a print service runs, done before anything is written: ppi, page count, page numbering."""

from __future__ import annotations

from artfarm.findings import Finding
from artfarm.layout.art import ArtPlacement
from artfarm.layout.coverplan import CoverPlan
from artfarm.layout.plan import PagePlan

PRINT_PPI = 300.0
MIN_PPI = 200.0
MIN_PAGES = 24


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


def preflight(pages: list[PagePlan], cover: CoverPlan, book_id: str) -> list[Finding]:
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
    if count < MIN_PAGES:
        findings.append(Finding(severity="warning", file="book.yaml", path="$.pages",
                                message=f"the interior has {count} pages; many print services need at least {MIN_PAGES}",
                                fix=f"add pages up to {MIN_PAGES} (endpapers, a dedication, blank pages count)"))
    numbers = [p.page for p in pages if not p.blank]
    if numbers != list(range(1, len(numbers) + 1)):
        findings.append(Finding(severity="warning", file="book.yaml", path="$.pages",
                                message=f"page numbers are not 1..{len(numbers)} in order ({_brief(numbers)}); pages are printed in "
                                        "this order and page 1 is a right-hand page",
                                fix="number the pages 1, 2, 3, ... without gaps"))
    return findings


def _brief(numbers: list[int]) -> str:
    text = ", ".join(map(str, numbers[:8]))
    return text + (", ..." if len(numbers) > 8 else "")
