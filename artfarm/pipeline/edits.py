"""A person's edits to stage outputs: found, kept, adopted, or moved to history/ before a forced re-render.

An output whose bytes differ from its stage record is a person's work (a retouched final, a
repainted selection). A run never overwrites it: the page stops as ``edited``. ``adopt`` makes
the edited file the stage's output (new hashes, so later stages rerun from it); ``--from``/``--force``
re-renders after moving it to ``pages/<NNNN>/history/<stage>-<UTC time>-<file>``. artfarm never
deletes anything under history/.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from artfarm.errors import BadInputError, WriteError
from artfarm.models.records import AdoptedStage, AdoptReport, StageRecord
from artfarm.pipeline.context import PageContext, Plan
from artfarm.pipeline.keys import key_inputs_with_version
from artfarm.pipeline.records import (HISTORY_DIR, describe_output, edited_files, history_path, kept_files, now_iso,
                                      read_record, write_record)
from artfarm.pipeline.stage import Stage
from artfarm.pipeline.stages import STAGES

log = logging.getLogger("artfarm.pipeline")


def move_edits_to_history(ctx: PageContext, stage: Stage) -> list[Path]:
    """Before a stage is re-rendered, its edited and adopted outputs move to history/ (never overwritten, never deleted)."""
    stage_dir = ctx.stage_dir(stage.dir_name)
    record, _ = read_record(stage_dir, quiet=True)
    moved = []
    for name in kept_files(stage_dir, record):
        try:
            target = history_path(ctx.page_dir, stage.name, name)
            os.rename(stage_dir / name, target)  # same page folder, so a rename; the bytes are never copied or lost
        except OSError as exc:
            raise WriteError(f"could not move the edited {name} to {HISTORY_DIR}/ ({exc.strerror or exc})",
                             where=str(stage_dir / name),
                             fix="make the page folder writable, or move the file away yourself, then run again") from exc
        moved.append(target)
    return moved


def adopt(ctx: PageContext, wanted: str | None = None) -> AdoptReport:
    """Record each edited output of the page (or only ``wanted``'s) as its stage's output.

    The stages are walked in order as a run would, so an adopted stage is keyed on its current
    inputs; later stages' keys hold the adopted file's hash, so they rerun from it."""
    adopted: list[AdoptedStage] = []
    blocked = False
    for stage in STAGES:
        if not stage.needed(ctx)[0]:
            continue
        stage_dir = ctx.stage_dir(stage.dir_name)
        record, _ = read_record(stage_dir, quiet=True)
        files = edited_files(stage_dir, record)
        plan = None if blocked else stage.plan(ctx)
        if plan is not None and record is not None and record.status == "done":
            refuse_other_backends(ctx, stage, record, plan, wanted)
        if files and wanted in (None, stage.name):
            assert record is not None
            new = _adopted_record(ctx, stage, record, files, plan)
            write_record(stage_dir, new)
            ctx.done[stage.name] = new
            adopted.append(AdoptedStage(stage=stage.name, files=files, keyed_on_current_inputs=plan is not None))
            continue
        if plan is None:
            continue
        verdict = stage.verdict(ctx, plan)
        if verdict.state == "hit" and verdict.record is not None:
            ctx.done[stage.name] = verdict.record
        else:
            blocked = True
    if not adopted:
        where = f"page {ctx.page}" + (f" {wanted}" if wanted else "")
        raise BadInputError(f"nothing to adopt: no output of {where} differs from its record", where=str(ctx.page_dir),
                            fix=f"`artfarm status {ctx.book.id}` lists edited pages")
    return AdoptReport(book=ctx.book.id, page=ctx.page, adopted=adopted)


def _adopted_record(ctx: PageContext, stage: Stage, record: StageRecord, files: list[str], plan) -> StageRecord:
    stage_dir = ctx.stage_dir(stage.dir_name)
    outputs = [describe_output(stage_dir / out.file, out.seed).model_copy(update={"adopted": True}) if out.file in files
               else out for out in record.outputs]
    update: dict = {"outputs": outputs, "finished": now_iso(),
                    "notes": [*record.notes, f"adopted {', '.join(files)} as edited by hand ({now_iso()})"]}
    key = stage.adopted_key(ctx, plan, record) if plan is not None else None
    if key is not None:
        update["cache_key"], update["key_inputs"] = key[0], key_inputs_with_version(key[1])
    return record.model_copy(update=update)


def refuse_other_backends(ctx: PageContext, stage: Stage, record: StageRecord, plan: Plan, wanted: str | None) -> None:
    """adopt keys the stages as a run with these settings would. When a stage was made by another renderer or
    reviewer than these settings give (a flag given to render-book but not to adopt), that run would redo the
    page, so adopt refuses and names the flag rather than guess which run comes next. A review decision holds
    under any reviewer (see ReviewStage.held_inputs), so only its renderer-free key is not compared."""
    parts = [("renderer", ("name", "backend"), "--renderer", "ARTFARM_RENDERER")]
    if stage.name != "review":
        parts.append(("reviewer", ("kind",), "--reviewer", "ARTFARM_REVIEWER"))
    for part, names, flag, env in parts:
        made, now = _backend_name(record.key_inputs.get(part), names), _backend_name(plan.key_inputs.get(part), names)
        if made is None or now is None or made == now:
            continue
        only = f" --stage {wanted}" if wanted else ""
        raise BadInputError(
            f"page {ctx.page} {stage.name} was made by the {made} {part}, but these settings give the {now} {part} "
            f"(from {ctx.settings.sources.get(part, 'default')}); adopting under them would key the page for a run you "
            "may not make", where=str(ctx.stage_dir(stage.dir_name) / "stage.json"),
            fix=f"pass the settings you render with, e.g. `artfarm adopt {ctx.book.id} {ctx.page}{only} {flag} {made}` "
                f"(or set {env} / book.yaml render.{part})")


def _backend_name(identity: Any, names: tuple[str, ...]) -> str | None:
    if not isinstance(identity, dict):
        return None
    return next((str(identity[k]) for k in names if k in identity), None)
