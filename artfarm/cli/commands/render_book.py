"""`artfarm render-book BOOK`: every page from its RenderSpec to final art, cached stage by stage."""

from __future__ import annotations

from artfarm.cli.common import add_book_argument
from artfarm.cli.run_flags import add_run_flags, render_and_report
from artfarm.pipeline.engine import RunOptions


def register(subparsers, common) -> None:
    p = subparsers.add_parser("render-book", parents=[common], help="render every page to final art",
                              description="Take every page through draft, review, refine, inpaint (when needed), the "
                                          "self-improving loop (vlm reviewer), upscale and final. Unchanged stages are skipped; the log says why each stage ran. "
                                          "Exit 0 when every page is done or waiting for review; when pages failed: 2 if only "
                                          "their RenderSpecs were bad, 3 if only a service was unreachable, else 1.")
    add_book_argument(p)
    add_run_flags(p)
    p.add_argument("--force", action="store_true",
                   help="redo every stage of every page; a hand-edited output is first moved to pages/NNNN/history/")
    p.set_defaults(run=run)


def run(args) -> int:
    return render_and_report(args, RunOptions(jobs=args.jobs, keep_going=args.keep_going, force=args.force))
