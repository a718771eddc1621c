"""Typed ComfyUI errors; each carries the server's payload and says what to do.

    ServiceError (exit 3)
    ├── ComfyUIUnreachable      connection refused / reset after bounded retries
    │   └── ServerLost          the server went away (or restarted) with our prompt in flight
    ├── ComfyUITimeout          a call or a whole run passed its deadline
    ├── ComfyUIProtocolError    the server answered something that is not ComfyUI's protocol
    │   └── OutputMissing       /view has no file for an output the history names (404)
    └── WorkflowRejected        POST /prompt said 400, or artfarm's own check against /object_info failed;
                                exit 2 when every problem is a bad value (a model pin or LoRA the server
                                does not have, a number out of range): the input is wrong, not the server
    BadInputError (exit 2)
    └── MissingModelFile        a LoRA or ControlNet the book names is not in the server's lists
    RunError (exit 1)
    ├── ExecutionFailed         a node raised while running (node id, type, exception)
    │   └── OutOfMemory         ... and the exception is the device running out of memory
    └── Interrupted             someone pressed cancel (POST /interrupt)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from artfarm import errors
from artfarm.errors import BadInputError, RunError, ServiceError


class NodeProblem(BaseModel):
    """One thing wrong with one input of one node, named the way the user wrote it."""

    model_config = ConfigDict(extra="forbid")

    template: str | None = None
    node_id: str
    class_type: str | None = None
    input: str | None = None
    param: str | None = None
    type: str
    message: str

    def render(self) -> str:
        where = f"{self.template or 'workflow'} node {self.node_id}"
        if self.class_type:
            where += f" ({self.class_type})"
        if self.input:
            where += f" input {self.input!r}"
        if self.param:
            where += f" [artfarm parameter {self.param!r}]"
        return f"{where}: {self.type}: {self.message}"


class ComfyUIUnreachable(ServiceError):
    pass


class ServerLost(ComfyUIUnreachable):
    """Carries ``prompt_id``: the job that was in flight, to be resubmitted once the server answers again."""


class ComfyUITimeout(ServiceError):
    pass


class ComfyUIProtocolError(ServiceError):
    pass


class OutputMissing(ComfyUIProtocolError):
    """/view answered 404 for an output the run's history names."""


# ComfyUI's (and artfarm's own check's) node error types that mean "this value is wrong", not "this server is"
BAD_VALUE_TYPES = frozenset({"value_not_in_list", "value_smaller_than_min", "value_bigger_than_max",
                             "invalid_input_type", "custom_validation_failed"})


class WorkflowRejected(ServiceError):
    """Carries ``error`` (the 400 body's error object) and ``problems`` (one per node error)."""

    def __init__(self, what: str, *, problems: list[NodeProblem], error: dict[str, Any] | None = None,
                 where: str | None = None, fix: str | None = None, source: str = "server"):
        super().__init__(what, where=where, fix=fix, problems=problems, error=error, source=source)
        self.problems = problems
        self.error = error or {}
        self.source = source
        if problems and all(p.type in BAD_VALUE_TYPES for p in problems):
            self.exit_code = errors.BadInputError.exit_code

    def __str__(self) -> str:
        return "\n".join([f"  - {p.render()}" for p in self.problems] + [super().__str__()]) if self.problems else super().__str__()


class ExecutionFailed(RunError):
    """Carries node_id, node_type, exception_type, exception_message and prompt_id."""

    def __init__(self, what: str, *, node_id: str | None, node_type: str | None, exception_type: str,
                 exception_message: str, prompt_id: str | None, where: str | None = None, fix: str | None = None,
                 attempts: list[dict[str, Any]] | None = None):
        super().__init__(what, where=where, fix=fix, node_id=node_id, node_type=node_type,
                         exception_type=exception_type, exception_message=exception_message, prompt_id=prompt_id)
        self.node_id, self.node_type = node_id, node_type
        self.exception_type, self.exception_message = exception_type, exception_message
        self.prompt_id = prompt_id
        self.attempts = attempts or []


class OutOfMemory(ExecutionFailed):
    pass


class Interrupted(errors.Interrupted):
    """ComfyUI stopped the run (our /interrupt, or another client's)."""


class MissingModelFile(BadInputError):
    """The book names a model file (LoRA, ControlNet) the server does not list: the page fails with exit 2."""
