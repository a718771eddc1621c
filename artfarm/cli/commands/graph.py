"""`artfarm graph BOOK PAGE --stage S`: the exact ComfyUI workflow a stage would submit now, and its uploads."""

from __future__ import annotations

import json

from artfarm.book.loader import load_book
from artfarm.cli.common import add_book_argument, book_dir_from
from artfarm.cli.output import emit
from artfarm.pipeline.preview import PREVIEW_STAGES, StageGraph, stage_graph
from artfarm.settings import resolve_settings


def register(subparsers, common) -> None:
    p = subparsers.add_parser("graph", parents=[common], help="print the workflow a page's stage would submit",
                              description="Print the exact ComfyUI workflow (API format) the stage would submit now, "
                                          "after every parameter and insertion (LoRAs, ControlNet, SDXL), and the files "
                                          "it would upload under which names. Contacts no server. A picture an earlier "
                                          "stage has not made yet is a marked placeholder, and a note says so.")
    add_book_argument(p)
    p.add_argument("page", type=int, help="page number (0 is the cover)")
    p.add_argument("--stage", required=True, choices=PREVIEW_STAGES, help="the render stage")
    p.set_defaults(run=run)


def run(args) -> int:
    book = load_book(book_dir_from(args))
    result = stage_graph(book, resolve_settings(book.book, {}), args.page, args.stage)
    emit(args, result, _text(result))
    return 0


def _text(result: StageGraph) -> str:
    lines = []
    for job in result.jobs:
        lines.append(f"# page {result.page} {job.label} ({result.template}); models: {', '.join(job.models) or '-'}")
        lines.append(json.dumps(job.workflow, indent=2, ensure_ascii=False))
        for u in job.uploads:
            state = "NOT MADE YET" if u.missing else f"{u.bytes} bytes"
            lines.append(f"# upload {u.param}: {u.source} -> {u.server_name} ({state})")
    lines.append(f"# family {result.family}; sampler settings: {result.sampler_settings}")
    lines += [f"# note: {note}" for note in result.notes]
    return "\n".join(lines)
