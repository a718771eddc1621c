"""artfarm's CLIP token counts against the tokenizer ComfyUI itself runs (transformers' CLIPTokenizer
with ComfyUI 0.3.75's sd1_tokenizer files), on the example book's prompts and awkward text."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from artfarm.book.loader import load_book
from artfarm.prompts.clip_tokens import count_tokens
from artfarm.prompts.compile import compile_prompt
from tests.test_clip_tokens import SAMPLES

pytestmark = [pytest.mark.comfyui_real, pytest.mark.timeout(900)]

REAL_COUNT = """
import json, sys
from transformers import CLIPTokenizer
tok = CLIPTokenizer.from_pretrained(sys.argv[1])
print(json.dumps([len(tok(t)["input_ids"]) - 2 for t in json.load(sys.stdin)]))
"""


def test_counts_agree_with_comfyuis_tokenizer(comfyui_installation):
    book = load_book(Path(__file__).resolve().parents[2] / "books" / "gingerbear_01")
    texts = list(SAMPLES)
    for page, spec in sorted(book.specs.items()):
        compiled = compile_prompt(spec, book.characters, book.style_packs[spec.style_pack].pack)
        texts += [compiled.positive, compiled.negative]
    vocab = comfyui_installation.comfyui / "comfy" / "sd1_tokenizer"
    proc = subprocess.run([str(comfyui_installation.python), "-c", REAL_COUNT, str(vocab)], input=json.dumps(texts),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    real = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [count_tokens(t) for t in texts] == real
