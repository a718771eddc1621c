"""`artfarm render-book BOOK`: every page from its RenderSpec to final art, cached stage by stage."""

from __future__ import annotations

from artfarm.book.loader import load_book
from artfarm.cli.common import add_book_argument, book_dir_from
from artfarm.cli.output import emit
from artfarm.cli.run_flags import add_run_flags, settings_from_args
from artfarm.pipeline.engine import RunOptions, render_book, summary_text


def register(subparsers, common) -> None:
    p = subparsers.add_parser("render-book", parents=[common], help="render every page to final art",
                              description="Take every page through draft, review, refine, inpaint (when needed), the "
                                          "self-improving loop (vlm reviewer), upscale and final. Unchanged stages are skipped; the log says why each stage ran. "
                                          "Exit 0 when every page is done or waiting for review; when pages failed: 2 if only "
                                          "their RenderSpecs were bad, 3 if only a service was unreachable, else 1.")
    add_book_argument(p)
    add_run_flags(p)
    p.set_defaults(run=run)


def run(args) -> int:
    book = load_book(book_dir_from(args))
    settings = settings_from_args(args, book)
    summary = render_book(book, settings, RunOptions(jobs=args.jobs, keep_going=args.keep_going))
    emit(args, summary, summary_text(summary))
    return summary.exit_code
