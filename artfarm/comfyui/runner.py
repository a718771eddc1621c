"""Run a template on one server: check it first, then recover from out-of-memory and from a restart.

Recovery after an out-of-memory error: ``POST /free`` (unload models, free memory), then
the same job with the decode switched to ``VAEDecodeTiled``, then with half the batch,
down to one image. Every attempt is recorded, so a record shows how its images were made.

A server that went away after it had answered (killed and started again, say) costs only the
jobs in flight: each waits until the server answers again (``Timeouts.restart``), then uploads
its inputs and submits again (at most ``MAX_RESUBMITS`` times). If it does not come back in
time the job fails as unreachable (exit 3). A server that never answered fails at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from artfarm.comfyui.client import Cancellation, ComfyClient, ProgressCallback, RunOutcome
from artfarm.comfyui.errors import ComfyUIUnreachable, OutOfMemory, ServerLost, WorkflowRejected
from artfarm.comfyui.templates import Template
from artfarm.comfyui.validate import check_graph

log = logging.getLogger(__name__)
MAX_RESUBMITS = 3


@dataclass
class JobResult:
    graph: dict[str, Any]
    outcome: RunOutcome
    values: dict[str, Any]
    attempts: list[dict[str, Any]] = field(default_factory=list)


def validate_for_server(client: ComfyClient, template: Template, graph: dict[str, Any]) -> None:
    """Raise WorkflowRejected (source artfarm) with every problem; refetch /object_info once
    first, in case the server gained a model since it was cached."""
    problems = check_graph(graph, client.object_info(), template)
    if problems:
        problems = check_graph(graph, client.object_info(refresh=True), template)
    if problems:
        raise WorkflowRejected(f"{template.file} does not fit the server's nodes ({len(problems)} problem(s))",
                               problems=problems, where=client.base_url, source="artfarm",
                               fix="fix the parameters named above; `artfarm doctor` lists the server's models")


def run_job(client: ComfyClient, template: Template, values: dict[str, Any], *, out_dir: Path, stem: str,
            progress: ProgressCallback | None = None, deadline_s: float | None = None,
            cancel: Cancellation | None = None, build: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
            prepare: Callable[[], None] | None = None) -> JobResult:
    """``build`` makes the graph from the values (default: the template's parameters only); a retry
    with half the batch builds again, so insertions (LoRAs, ControlNet) survive it. ``prepare`` uploads
    the input images; it runs again after a restart, since a restarted server may have lost them."""
    lost: list[dict[str, Any]] = []
    while True:
        try:
            if prepare is not None:
                prepare()
            job = _run_on_server(client, template, values, out_dir=out_dir, stem=stem, progress=progress,
                                 deadline_s=deadline_s, cancel=cancel, build=build or template.instantiate)
        except ComfyUIUnreachable as exc:
            if not (isinstance(exc, ServerLost) or client.answered) or len(lost) >= MAX_RESUBMITS:
                raise
            wait = client.timeouts.restart
            log.warning("%s went away with a job in flight (%s); waiting up to %.0fs for it to answer again",
                        client.base_url, exc.what, wait)
            if not client.wait_until_answering(wait, cancel):
                raise ComfyUIUnreachable(f"the server went away and did not answer again within {wait:.0f}s",
                                         where=client.base_url, fix="start ComfyUI again, then run the same command; "
                                                                    "finished stages are kept") from exc
            lost.append({"attempt": len(lost) + 1, "error": "server_lost", "prompt_id": exc.payload.get("prompt_id"),
                         "message": exc.what, "action": "resubmitted once the server answered again"})
            log.warning("%s answers again; resubmitting the job", client.base_url)
            continue
        job.attempts = lost + [{**a, "attempt": len(lost) + a["attempt"]} for a in job.attempts]
        return job


def _run_on_server(client: ComfyClient, template: Template, values: dict[str, Any], *, out_dir: Path, stem: str,
                   progress: ProgressCallback | None, deadline_s: float | None, cancel: Cancellation | None,
                   build: Callable[[dict[str, Any]], dict[str, Any]]) -> JobResult:
    values = dict(values)
    graph = build(values)
    validate_for_server(client, template, graph)
    attempts: list[dict[str, Any]] = []
    tiled = False
    while True:
        try:
            outcome = client.run(graph, out_dir=out_dir, stem=stem, output_node=template.decl.output_node,
                                 progress=progress, deadline_s=deadline_s, template=template, cancel=cancel)
            for record in outcome.attempts:
                attempts.append({**record, "attempt": len(attempts) + 1})
            return JobResult(graph=outcome.graph or graph, outcome=outcome, values=values, attempts=attempts)
        except OutOfMemory as exc:
            record = {"attempt": len(attempts) + 1, "error": "out_of_memory", "node_id": exc.node_id,
                      "node_type": exc.node_type, "exception_type": exc.exception_type, "prompt_id": exc.prompt_id}
            next_graph, action = None, None
            if not tiled:
                tiled, next_graph = True, template.with_tiled_decode(graph)
                action = "free memory, decode with VAEDecodeTiled" if next_graph is not None else None
            batch = values.get("batch", template.graph_value("batch"))
            if next_graph is None and isinstance(batch, int) and batch > 1:
                values["batch"] = batch // 2
                next_graph = build(values)
                if tiled:
                    next_graph = template.with_tiled_decode(next_graph) or next_graph
                action = f"free memory, batch {batch} -> {values['batch']}"
            record["action"] = action or "give up"
            attempts.append(record)
            if next_graph is None:
                exc.attempts = attempts
                exc.payload["attempts"] = attempts
                raise
            log.warning("%s: out of memory at node %s; retrying: %s", client.base_url, exc.node_id, action)
            client.free()
            graph = next_graph
