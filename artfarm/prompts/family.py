"""The prompts a page's graphs receive, for the book's model family: CLIP terms or sentences."""

from __future__ import annotations

from artfarm.families import family_info
from artfarm.models.characters import CharacterBible
from artfarm.models.renderspec import RenderSpec
from artfarm.models.stylepack import StylePack
from artfarm.prompts.compile import CompiledPrompt, compile_prompt
from artfarm.prompts.sentences import compile_sentences


def compile_for_family(spec: RenderSpec, bible: CharacterBible, pack: StylePack, family: str = "sd15") -> CompiledPrompt:
    if family_info(family).prompt_style == "sentences":
        return compile_sentences(spec, bible, pack, family)
    compiled = compile_prompt(spec, bible, pack)
    return compiled if family == "sd15" else compiled.model_copy(update={"family": family})
