"""What a page's stages share while they run: the page context, a stage's plan and verdict.

The stages themselves live in artfarm/pipeline/stages/ (one module each), their common
machinery in artfarm/pipeline/stage.py. ``STAGE_DIRS`` and ``PICTURE_STAGES`` are declared
here, beside ``StageName``'s order, so the context can find earlier stages' pictures without
importing the stages (stages/__init__.py checks that the classes agree).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

from artfarm.book.loader import LoadedBook
from artfarm.book.paths import book_relative
from artfarm.errors import RunError, SymlinkRefused, WriteError
from artfarm.families import CHECKPOINT_FAMILIES
from artfarm.fsio import sha256_file
from artfarm.models.records import STAGE_NAMES, StageRecord
from artfarm.models.renderspec import RenderSpec
from artfarm.models.review import ReviewRecord
from artfarm.pipeline.keys import cache_key
from artfarm.pipeline.tiers import TierSettings, tier_settings
from artfarm.prompts.compile import CompiledPrompt
from artfarm.references import picture_size, scaled_size
from artfarm.render.base import ProgressFn, RenderRequest, RenderResult, Renderer
from artfarm.review.base import ReviewContext, Reviewer
from artfarm.settings import Settings
from artfarm.stylepacks import LoadedStylePack

STAGE_ORDER: list[str] = list(STAGE_NAMES)
STAGE_DIRS = {"draft": "draft", "review": "selected", "refine": "refine", "inpaint": "inpaint", "loop": "loop",
              "upscale": "upscale", "final": "final"}
# Stages whose first output is the page's picture so far (the draft's is a burst, so not it).
PICTURE_STAGES = frozenset(STAGE_ORDER) - {"draft"}


class PageWaiting(Exception):
    """The page stops for a person or agent to choose a draft (not an error)."""


class PageEdited(Exception):
    """The page stops because a person edited a stage's output (not an error: the edit is kept)."""


@dataclass
class PageContext:
    book: LoadedBook
    page: int
    spec: RenderSpec
    pack: LoadedStylePack
    prompt: CompiledPrompt
    renderer: Renderer
    reviewer: Reviewer
    progress: ProgressFn | None = None
    done: dict[str, StageRecord] = field(default_factory=dict)
    review: ReviewRecord | None = None
    settings: Settings = field(default_factory=Settings)
    _file_hashes: dict[str, str | None] = field(default_factory=dict, repr=False)

    @property
    def page_dir(self) -> Path:
        return self.book.page_dir(self.page)

    def stage_dir(self, name: str) -> Path:
        return self.page_dir / name

    def rel(self, path: Path) -> str:
        return book_relative(self.book.root, path)

    def output(self, stage: str, index: int = 0) -> Path:
        record = self.done[stage]
        return self.stage_dir(STAGE_DIRS[stage]) / record.outputs[index].file

    def sha_of(self, path: Path) -> str | None:
        """A file's SHA-256: from the record of the stage that made it, else read from disk."""
        for stage, record in self.done.items():
            folder = self.stage_dir(STAGE_DIRS[stage])
            for out in record.outputs:
                if folder / out.file == path:
                    return out.sha256
        return sha256_file(path) if Path(path).is_file() else None

    def file_hashes(self, rels: Iterable[str]) -> dict[str, str | None]:
        """SHA-256 of book files (reference pictures) by book-relative path, None when missing. A picture
        shapes what reads it through its content, not its name; each file is read once per page."""
        out: dict[str, str | None] = {}
        for rel in sorted(set(rels)):
            if rel not in self._file_hashes:
                path = self.book.resolve(rel, what="reference")
                self._file_hashes[rel] = sha256_file(path) if path.is_file() else None
            out[rel] = self._file_hashes[rel]
        return out

    @property
    def family(self) -> str:
        return self.book.book.models.family

    def tier(self, tier: str) -> TierSettings:
        """The sampler settings of a tier for the book's model family (artfarm/pipeline/tiers.py)."""
        return tier_settings(self.pack.pack, self.family, tier)

    def renderer_identity(self, stage: str) -> dict[str, Any]:
        """The renderer's identity for the stage's graphs; the checkpoint families share one set of templates."""
        if self.family in CHECKPOINT_FAMILIES:
            return self.renderer.identity(stage)  # type: ignore[arg-type]
        return self.renderer.identity(stage, self.family)  # type: ignore[arg-type]

    def reference_inputs(self, paths: list[Path]) -> list[dict[str, Any]]:
        """Reference pictures a graph reads, in its order: each one's file, content hash and the size the
        family's node scales it to (for the key and stage.json)."""
        hashes = self.file_hashes(self.rel(p) for p in paths)
        out = []
        for path in paths:
            rel = self.rel(path)
            size = picture_size(path)
            out.append({"file": rel, "sha256": hashes[rel], "size": list(size) if size else None,
                        "scaled_to": list(scaled_size(self.family, size)) if size else None})
        return out

    def reviewer_refs(self, reviewer: Reviewer) -> dict[str, str | None]:
        """The reference pictures ``reviewer`` looks at (the vlm reviewer shows characters' sheets), for the
        keys of the stages it judges; {} for reviewers that read none."""
        return self.file_hashes(rel for _, rel in reviewer.reference_paths(self.review_context()))

    def pack_inputs(self, *fields: str) -> dict[str, Any]:
        """The parts of the style pack a stage reads, parsed: a comment or whitespace edit in pack.yaml
        redoes nothing, and neither does a change to a part the stage ignores. Its ``version`` is a person's
        way to say "render again with this pack", so every stage that reads the pack holds it."""
        data = self.pack.pack.model_dump(mode="json")
        return {"name": data["name"], "version": data["version"], **{f: data[f] for f in fields}}

    def input_image(self, before: str) -> Path:
        """The newest picture made by a stage before ``before`` (inpaint's if it ran, else refine's...)."""
        earlier = STAGE_ORDER[:STAGE_ORDER.index(before)]
        for name in reversed(earlier):
            if name in self.done and name in PICTURE_STAGES:
                return self.output(name)
        raise RunError("no image to work on yet", where=f"page {self.page} {before}")

    def text_placement(self) -> str:
        if self.page == 0:
            return "top"
        entry = self.book.page_entry(self.page)
        placement = entry.placement if entry is not None and entry.placement else None
        return placement or self.book.book.layout.default_placement

    def review_context(self) -> ReviewContext:
        return ReviewContext(book=self.book, page=self.page, spec=self.spec, pack=self.pack, prompt=self.prompt,
                             text_placement=self.text_placement(), page_dir=self.page_dir)

    def spec_fields(self, overrides: str | None) -> dict[str, Any]:
        # refs: no graph reads reference pictures yet; a reviewer that does puts their hashes in its keys
        data = self.spec.model_dump(mode="json", exclude={"schema_ref", "overrides", "refs"})
        if overrides:
            data["overrides"] = getattr(self.spec.overrides, overrides).model_dump(mode="json")
        return data


@dataclass
class Plan:
    key_inputs: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    forced: bool = False

    @property
    def cache_key(self) -> str:
        return cache_key(self.key_inputs)


@dataclass
class Verdict:
    state: Literal["hit", "miss", "waiting", "rejected", "edited"]
    reason: str
    record: StageRecord | None = None
    failed: bool = False  # the miss is a failed earlier attempt



def refuse_linked_stage_dir(out_dir: Path) -> None:
    """artfarm deletes and rewrites files in a stage folder; through a symlink that could be anywhere,
    so a stage folder that is a link stops the page (``pages/`` or a whole page folder may be a link)."""
    if out_dir.is_symlink():
        raise SymlinkRefused(f"the stage folder is a symlink (to {os.readlink(out_dir)}); artfarm does not clean "
                             "or write through links it did not make", where=str(out_dir),
                             fix="remove the link (the folder it points to is untouched) and run again; to keep the "
                                 "book on another disk, link the whole pages/ folder or the page's folder instead")


def clear_stage_dir(out_dir: Path, *patterns: str) -> Path:
    """Make the stage folder and remove the pictures an earlier run left (they would be mistaken for new ones)."""
    refuse_linked_stage_dir(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for pattern in patterns:
            for old in out_dir.glob(pattern):
                old.unlink(missing_ok=True)
    except OSError as exc:
        raise WriteError(f"could not prepare the stage folder ({exc.strerror or exc})", where=str(out_dir),
                         fix="make sure it is a writable folder (not a file), then run again") from exc
    return out_dir


def render_job(ctx: PageContext, stage: str, params: dict[str, Any], out_dir: Path, stem: str) -> RenderResult:
    """Send one job to the renderer; every image it returns is a file ``out_dir/<stem>_NN.png``."""
    request = RenderRequest(stage=stage, page=ctx.page, params=params, out_dir=out_dir, filename_stem=stem)
    result = ctx.renderer.render(request, ctx.progress)
    if not result.images:
        raise RunError(f"the {ctx.renderer.name} renderer returned no images for {stage}",
                       where=f"page {ctx.page} {stage}", fix="check the renderer's log; run again")
    for image in result.images:
        path = Path(image.path)
        if path.resolve().parent != out_dir.resolve() or not path.is_file():
            raise RunError(f"renderer output {path} is not a file in {out_dir}", where=f"page {ctx.page} {stage}",
                           fix="the renderer must write out_dir/<stem>_NN.png; report this as a renderer bug")
    return result


def relative_params(ctx: PageContext, params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if isinstance(value, list) and value and all(isinstance(v, Path) for v in value):
            value = [ctx.rel(v) for v in value]
        out[key] = ctx.rel(value) if isinstance(value, Path) else value
    return json.loads(json.dumps(out, default=str))

