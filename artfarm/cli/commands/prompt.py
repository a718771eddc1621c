"""`artfarm prompt BOOK PAGE`: the prompts a page's RenderSpec compiles to for the book's model family (what draft sends)."""

from __future__ import annotations

from artfarm.book.loader import load_book
from artfarm.cli.common import add_book_argument, book_dir_from
from artfarm.cli.output import emit
from artfarm.families import FAMILY_NAMES
from artfarm.pipeline.tiers import tier_settings
from artfarm.prompts.compile import chunk_warnings
from artfarm.prompts.family import compile_for_family


def register(subparsers, common) -> None:
    p = subparsers.add_parser("prompt", parents=[common], help="print a page's compiled prompts",
                              description="Print the positive and negative prompts the page's RenderSpec compiles to under "
                                          "its style pack, for the book's model family (or --family), and the sampler "
                                          "settings that family's draft uses.")
    add_book_argument(p)
    p.add_argument("page", type=int, help="page number (0 is the cover)")
    p.add_argument("--family", choices=FAMILY_NAMES, help="show what this family would receive (default: models.family)")
    p.set_defaults(run=run)


def run(args) -> int:
    book = load_book(book_dir_from(args))
    spec = book.require_spec(args.page)
    family = args.family or book.book.models.family
    pack = book.style_packs[spec.style_pack].pack
    compiled = compile_for_family(spec, book.characters, pack, family)
    if compiled.form == "terms":
        text = (f"positive ({compiled.positive_tokens} CLIP tokens): {compiled.positive}\n"
                f"negative ({compiled.negative_tokens} CLIP tokens): {compiled.negative}")
    else:
        text = f"family {family} (sentences)\npositive: {compiled.positive}\nnegative: {compiled.negative or '(none: ' + family + ' has no negative prompt)'}"
    if compiled.unused_negative:
        text += f"\nunused (no negative prompt in {family}): " + ", ".join(compiled.unused_negative)
    if compiled.dropped_constraints:
        text += "\nleft out (mention text): " + "; ".join(compiled.dropped_constraints)
    text += f"\nsampler: {tier_settings(pack, family, 'draft').source}"
    text += "".join(f"\nwarning: {line}" for line in chunk_warnings(compiled))
    emit(args, compiled, text)
    return 0
