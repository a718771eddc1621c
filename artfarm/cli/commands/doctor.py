"""`artfarm doctor [BOOK]`: are the ComfyUI server(s), and Ollama when reviews use it, ready for this book?"""

from __future__ import annotations

from artfarm.book.loader import inspect_book
from artfarm.cli.common import book_dir_from
from artfarm.cli.output import emit
from artfarm.comfyui.client import ComfyClient, RetryPolicy
from artfarm.comfyui.doctor import diagnose, family_warnings
from artfarm.doctor import DoctorReport
from artfarm.errors import ValidationFailed
from artfarm.models.book import ModelPins
from artfarm.pipeline.identity import model_files
from artfarm.ollama.health import check_ollama
from artfarm.settings import resolve_settings


def register(subparsers, common) -> None:
    p = subparsers.add_parser("doctor", parents=[common], help="check the ComfyUI server(s) artfarm will use",
                              description="Report whether each configured ComfyUI server is reachable, its version, "
                                          "devices and memory, whether every workflow template validates against its "
                                          "/object_info, and (given a book) whether the models the book pins exist "
                                          "there, with every LoRA and ControlNet file its pages load; and, when the reviewer is `vlm` (or --ollama-url is given), whether "
                                          "Ollama answers and has the vision model pulled. Exit 0 only when all is well.")
    p.add_argument("book", nargs="?", default=None, help="book id or folder whose model pins to check (optional)")
    p.add_argument("--comfyui-url", action="append", default=None, metavar="URL", dest="comfyui_urls",
                   help="ComfyUI server URL (repeat for several; default: $ARTFARM_COMFYUI_URL, book.yaml, http://127.0.0.1:8188)")
    p.add_argument("--ollama-url", default=None, metavar="URL",
                   help="check this Ollama server too (default: checked when the reviewer is vlm; $ARTFARM_OLLAMA_URL, book.yaml)")
    p.add_argument("--reviewer", default=None, choices=["heuristic", "vlm", "agent"],
                   help="the reviewer to check for (default: $ARTFARM_REVIEWER, book.yaml, heuristic)")
    p.set_defaults(run=run)


def run(args) -> int:
    book, files = None, []
    if args.book is not None:
        book_dir = book_dir_from(args)
        loaded, findings = inspect_book(book_dir)
        if loaded is None:
            raise ValidationFailed(findings, where=str(book_dir))
        book, files = loaded.book, model_files(loaded)
    settings = resolve_settings(book, {"comfyui_urls": args.comfyui_urls, "ollama_url": args.ollama_url,
                                       "reviewer": args.reviewer})
    servers = []
    for url in settings.comfyui_urls:
        with ComfyClient(url, retry=RetryPolicy(attempts=2)) as client:
            servers.append(diagnose(client, book.models if book else None, files=files))
    vision = None
    if settings.reviewer == "vlm" or args.ollama_url:
        vision = check_ollama(settings, (book.models if book else ModelPins()).vlm)
    report = DoctorReport.of(args.book, servers, vision, family_warnings(book.models) if book else [])
    emit(args, report, report.render())
    return report.exit_code
