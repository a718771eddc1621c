"""Entry point: parse flags, run one command, map errors to exit codes.

Exit codes: 0 ok, 1 a run failed, 2 bad input, 3 a service unreachable or refusing.
No traceback unless --debug.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from pathlib import Path

from artfarm import __version__
from artfarm.cli.output import err
from artfarm.errors import ArtfarmError

# One module per command under artfarm/cli/commands; each has register(subparsers).
COMMANDS = [
    "new_book",
    "validate",
    "schema",
    "prompt",
    "export_pdf",
    "render_book",
    "render_page",
    "status",
    "review",
    "doctor",
    "graph",
    "mcp",
    "adopt",
]


class ArgumentError(ArtfarmError):
    exit_code = 2


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad flags already; keep its message but without the usage dump on stderr twice."""

    def error(self, message: str):  # noqa: D102
        raise ArgumentError(message, where=self.prog, fix=f"see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="artfarm", description="Turn a picture book written as data into print-ready art and PDFs.")
    parser.add_argument("--version", action="version", version=f"artfarm {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--books", type=Path, default=None, metavar="DIR",
                        help="folder holding books (default: $ARTFARM_BOOKS, else ./books)")
    common.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"artfarm.cli.commands.{name}")
        module.register(subparsers, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.DEBUG if debug else logging.WARNING)  # one line per request is noise
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args) or 0)
    except ArtfarmError as exc:
        if debug:
            traceback.print_exc()
        err(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        err("interrupted; finished stages are kept, rerun the same command to continue")
        return 130
    except Exception as exc:  # a bug: say so plainly, show the traceback only on request
        if debug:
            traceback.print_exc()
        err(f"internal error: {type(exc).__name__}: {exc}\n  fix: rerun with --debug and report the traceback")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
