"""`artfarm render-page BOOK PAGE [--from STAGE] [--force]`: rerun one page."""

from __future__ import annotations

from artfarm.cli.common import add_book_argument
from artfarm.cli.run_flags import add_backend_flags, add_review_flags, render_and_report
from artfarm.pipeline.engine import RunOptions
from artfarm.pipeline.context import STAGE_ORDER


def register(subparsers, common) -> None:
    p = subparsers.add_parser("render-page", parents=[common], help="render one page (optionally redo it from a stage on)",
                              description="Render one page. Cached stages are skipped unless --from or --force says otherwise.")
    add_book_argument(p)
    p.add_argument("page", type=int, help="page number (0 is the cover)")
    p.add_argument("--from", dest="from_stage", choices=STAGE_ORDER, default=None,
                   help="redo this stage and every later one, even if cached (earlier stages stay cached)")
    p.add_argument("--force", action="store_true", help="redo every stage of the page (same as --from draft); a hand-edited "
                                                        "output is first moved to pages/NNNN/history/")
    add_backend_flags(p)
    add_review_flags(p)
    p.set_defaults(run=run)


def run(args) -> int:
    return render_and_report(args, RunOptions(pages=[args.page], jobs=1, from_stage=args.from_stage, force=args.force))
