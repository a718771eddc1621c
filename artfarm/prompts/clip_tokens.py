"""Counting prompt tokens the way CLIP's tokenizer does, and what falls past a 75-token chunk.

SD1.5 and SDXL read prompts through CLIP text encoders that see 77 tokens at a time: a start
token, 75 tokens of prompt, an end token. ComfyUI cuts a longer prompt into 75-token chunks,
encodes each on its own and concatenates them, so terms past the first chunk are weighed
apart from the subject and a term cut in two loses its meaning. This is CLIP's own byte-pair
encoder (the merges ship in ``data/clip_bpe_merges.txt.gz``), pre-split as ComfyUI's tokenizer
(transformers' CLIPTokenizer without ftfy) does: NFC, lower-cased, whitespace collapsed, each CJK
ideograph alone, then words, single digits and punctuation runs, each merged pair by pair.
The tests compare it with the tokenizer ComfyUI runs.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from functools import lru_cache
from importlib import resources

CHUNK = 75  # prompt tokens per CLIP window (77 less the start and end tokens)

# CLIP's pattern with \p{L} / \p{N} spelt for Python's re: letters, one digit, other non-space runs
_WORDS = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+",
                    re.IGNORECASE)

_CJK = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002a6df\U0002a700-\U0002b73f\U0002b740-\U0002b81f"
                  "\U0002b820-\U0002ceaf\uf900-\ufaff\U0002f800-\U0002fa1f]")


@lru_cache(maxsize=1)
def _ranks() -> dict[tuple[str, str], int]:
    data = resources.files("artfarm.prompts").joinpath("data/clip_bpe_merges.txt.gz").read_bytes()
    lines = gzip.decompress(data).decode("utf-8").splitlines()[1:]  # the first line is a version header
    return {tuple(line.split()): i for i, line in enumerate(lines) if line.strip()}  # type: ignore[misc]


@lru_cache(maxsize=1)
def _byte_chars() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


@lru_cache(maxsize=4096)
def _bpe(word: str) -> int:
    """The number of tokens one pre-split word becomes."""
    ranks = _ranks()
    parts = list(word[:-1]) + [word[-1] + "</w>"]
    while len(parts) > 1:
        pairs = {(parts[i], parts[i + 1]) for i in range(len(parts) - 1)}
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        merged, i = [], 0
        while i < len(parts):
            if i < len(parts) - 1 and (parts[i], parts[i + 1]) == best:
                merged.append(parts[i] + parts[i + 1])
                i += 2
            else:
                merged.append(parts[i])
                i += 1
        parts = merged
    return len(parts)


def count_tokens(text: str) -> int:
    """How many CLIP tokens ``text`` becomes (without the start and end tokens)."""
    text = _CJK.sub(r" \g<0> ", unicodedata.normalize("NFC", text))  # each ideograph is a word of its own (transformers' CLIPTokenizer)
    text = re.sub(r"\s+", " ", text).strip().lower()
    chars = _byte_chars()
    return sum(_bpe("".join(chars[b] for b in word.encode("utf-8"))) for word in _WORDS.findall(text))


def overflow(terms: list[str], separator: str = ", ", chunk: int = CHUNK) -> tuple[int, list[str]]:
    """(total tokens of the joined terms, the terms that end past the first ``chunk`` tokens).

    Pre-splitting never joins across a space or a comma, so the joined prompt's count is the sum
    of its terms' and separators' counts."""
    sep = count_tokens(separator)
    total, past = 0, []
    for i, term in enumerate(terms):
        total += (sep if i else 0) + count_tokens(term)
        if total > chunk:
            past.append(term)
    return total, past
