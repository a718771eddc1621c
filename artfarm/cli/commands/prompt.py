"""`artfarm prompt BOOK PAGE`: the prompts a page's RenderSpec compiles to (what draft sends)."""

from __future__ import annotations

from artfarm.book.loader import load_book
from artfarm.cli.common import add_book_argument, book_dir_from
from artfarm.cli.output import emit
from artfarm.prompts.compile import chunk_warnings, compile_prompt


def register(subparsers, common) -> None:
    p = subparsers.add_parser("prompt", parents=[common], help="print a page's compiled prompts",
                              description="Print the positive and negative prompts the page's RenderSpec compiles to under its style pack.")
    add_book_argument(p)
    p.add_argument("page", type=int, help="page number (0 is the cover)")
    p.set_defaults(run=run)


def run(args) -> int:
    book = load_book(book_dir_from(args))
    spec = book.require_spec(args.page)
    compiled = compile_prompt(spec, book.characters, book.style_packs[spec.style_pack].pack)
    text = (f"positive ({compiled.positive_tokens} CLIP tokens): {compiled.positive}\n"
            f"negative ({compiled.negative_tokens} CLIP tokens): {compiled.negative}")
    if compiled.dropped_constraints:
        text += "\nleft out (mention text): " + "; ".join(compiled.dropped_constraints)
    text += "".join(f"\nwarning: {line}" for line in chunk_warnings(compiled))
    emit(args, compiled, text)
    return 0

