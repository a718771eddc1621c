"""`artfarm export-pdf BOOK`: the print interior and cover, the web PDF, and the preflight report."""

from __future__ import annotations

from artfarm.cli.common import add_book_argument, book_dir_from
from artfarm.cli.output import emit
from artfarm.layout.export import export_pdf
from artfarm.layout.printers import PRINTERS


def register(subparsers, common) -> None:
    p = subparsers.add_parser(
        "export-pdf", parents=[common], help="lay out the print and web PDFs",
        description="Write layout/pages.pdf (interior, with bleed), layout/cover.pdf (back, spine, front) and "
                    "exports/web/<id>.pdf (trimmed, downsampled), and print the preflight report. "
                    "A no-op when the art and the layout settings have not changed.")
    add_book_argument(p)
    p.add_argument("--placeholders", action="store_true",
                   help="lay out pages without final art using clearly marked placeholder images")
    p.add_argument("--force", action="store_true", help="lay out again even when nothing changed")
    p.add_argument("--printer", choices=PRINTERS, default=None,
                   help="the print service's rules to follow and check (default: book.yaml layout.printer, else generic); "
                        "ingramspark writes PDF/X-1a:2001 in CMYK")
    p.set_defaults(run=run)


def run(args) -> int:
    report = export_pdf(book_dir_from(args), placeholders=args.placeholders, force=args.force, printer=args.printer)
    lines = [f.render() for f in report.preflight]
    state = "cached, nothing to do" if report.cached else report.reason
    lines.append(f"{report.book} ({report.printer}): {report.interior_pages} interior pages"
                 f"{f' ({report.padded_blank_pages} blank added)' if report.padded_blank_pages else ''}, cover {report.cover_width_in:.3f} x "
                 f"{report.cover_height_in:.3f} in (spine {report.spine_width_in:.3f} in"
                 f"{', with text' if report.spine_text else ', no text'}); {state}")
    lines += [f"  {o.file}  {o.pages} page(s), {o.bytes / 1e6:.1f} MB" for o in report.outputs]
    lines.append(f"preflight: {report.errors} error(s), {report.warnings} warning(s)")
    emit(args, report, "\n".join(lines))
    return 0
