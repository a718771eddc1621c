"""Flags shared by the commands that render: backends, service URLs, concurrency."""

from __future__ import annotations

import argparse

from artfarm.book.loader import LoadedBook, load_book
from artfarm.cli.common import book_dir_from
from artfarm.cli.output import emit
from artfarm.pipeline.engine import RunOptions, render_book, summary_text
from artfarm.registry import renderers, reviewers
from artfarm.settings import Settings, resolve_settings


def _whole_number(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from exc
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value
    return parse


def add_backend_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--renderer", choices=renderers.names(), default=None,
                        help="image backend (default: $ARTFARM_RENDERER, book.yaml render.renderer, else proof)")
    parser.add_argument("--reviewer", choices=reviewers.names(), default=None,
                        help="who chooses among the drafts (default: $ARTFARM_REVIEWER, book.yaml, else heuristic)")
    parser.add_argument("--comfyui-url", dest="comfyui_urls", action="append", default=None, metavar="URL",
                        help="ComfyUI server; repeat for a pool (default: $ARTFARM_COMFYUI_URL, book.yaml, http://127.0.0.1:8188)")
    parser.add_argument("--ollama-url", default=None, metavar="URL",
                        help="Ollama server for the vlm reviewer (default: $ARTFARM_OLLAMA_URL, book.yaml, http://127.0.0.1:11434)")


def add_review_flags(parser: argparse.ArgumentParser) -> None:
    """What the reviewer may do in a run: stand in for Ollama, and how long the self-improving loop goes on."""
    parser.add_argument("--review-fallback", choices=["heuristic"], default=None,
                        help="when Ollama is unreachable or too slow, review with this reviewer instead of failing the "
                             "page (default: $ARTFARM_REVIEW_FALLBACK, book.yaml render.review.fallback, else none)")
    parser.add_argument("--iterations-per-loop", type=_whole_number(0), default=None, metavar="N",
                        help="self-improving loop (vlm reviewer): renders per loop, 0 switches it off "
                             "(default: book.yaml render.review.iterations_per_loop, else 3)")
    parser.add_argument("--max-loops", type=_whole_number(0), default=None, metavar="N",
                        help="self-improving loop: loops per page, 0 switches it off "
                             "(default: book.yaml render.review.max_loops, else 1)")


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    add_backend_flags(parser)
    add_review_flags(parser)
    parser.add_argument("--jobs", type=_whole_number(1), default=None, metavar="N",
                        help="pages worked on at once (default: 2 per ComfyUI server + 1, so no server waits)")
    parser.add_argument("--keep-going", action="store_true",
                        help="finish the other pages when one fails (its later stages are skipped)")


def flags_from_args(args: argparse.Namespace) -> dict:
    """The settings given as flags (None where not given), for ``resolve_settings``."""
    names = ("renderer", "reviewer", "comfyui_urls", "ollama_url", "jobs", "review_fallback", "iterations_per_loop",
             "max_loops")
    return {name: getattr(args, name, None) for name in names}


def settings_from_args(args: argparse.Namespace, book: LoadedBook) -> Settings:
    return resolve_settings(book.book, flags_from_args(args))


def render_and_report(args: argparse.Namespace, options: RunOptions) -> int:
    """The body of render-book and render-page: load, resolve settings, run, print the summary."""
    book = load_book(book_dir_from(args))
    summary = render_book(book, settings_from_args(args, book), options)
    emit(args, summary, summary_text(summary))
    return summary.exit_code
