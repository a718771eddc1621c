"""Which ComfyUI server runs the next job, and when it may be sent there.

A GPU is kept busy when every server has one job running and one waiting in its own queue,
and no more: a job queued inside ComfyUI can no longer be moved to a server that frees up
first, nor overtaken by a more urgent one. So each server takes at most ``depth`` of
artfarm's jobs at once; the others wait here and leave in order of urgency (an earlier
stage first: drafts feed the reviews that make the next jobs, so a long upscale never makes
them wait), then of arrival. A job goes to the free server with the least queued work: the
expected seconds of artfarm's own jobs there (a running mean per stage, measured here) and
nothing else: asking each server's ``/queue`` before every job would cost a round trip per
server, and a dead server's retries, on the critical path.

A job that fails on one server for a reason another server may not share is tried once on
another: the server unreachable (every other server is tried), out of memory after the
runner's own recovery, or a model file the server does not have. Each failure is recorded
in the attempts, so a stage record says where and why its job moved.

A server that could not be reached is left out while any untried server answers: a job
waits for room on a live server rather than going to one that is down. The job is told
whether the pool could still move it (``can_move``): a job that loses its server mid-run
then fails at once and moves, and waits for the server to come back only when no other
server answers.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar

from artfarm.comfyui.errors import ComfyUIUnreachable, MissingModelFile, OutOfMemory, WorkflowRejected
from artfarm.errors import ArtfarmError

T = TypeVar("T")

STAGE_URGENCY = {"draft": 0, "refine": 1, "inpaint": 2, "upscale": 3}
MODEL_INPUTS = frozenset({"ckpt_name", "model_name", "unet_name", "vae_name", "lora_name", "control_net_name",
                          "clip_name", "clip_name1", "clip_name2", "style_model_name"})
DEFAULT_DEPTH = 2          # one job running on each server, one waiting in its queue
DOWN_S = 60.0              # how long a server that could not be reached is left out while others answer
WAIT_TICK_S = 0.1          # how often a waiting job checks for cancellation


def moves_elsewhere(error: BaseException) -> str | None:
    """Why another server might succeed where this one failed, or None when it would fail the same way."""
    if isinstance(error, ComfyUIUnreachable):
        return "unreachable"
    if isinstance(error, OutOfMemory):
        return "out_of_memory"
    if isinstance(error, MissingModelFile):
        return "model_missing"
    if isinstance(error, WorkflowRejected) and any(p.type == "value_not_in_list" and p.input in MODEL_INPUTS
                                                   for p in error.problems):
        return "model_missing"
    return None


@dataclass
class ServerLoad:
    """artfarm's view of one server: its jobs in flight and the seconds they are expected to take."""

    name: str
    in_flight: int = 0
    queued_s: float = 0.0
    down_until: float = -1.0     # unreachable lately: left out while an untried server answers
    busy_s: float = 0.0          # seconds artfarm's jobs spent on it, submission to result
    jobs: int = 0


@dataclass(order=True)
class _Ticket:
    urgency: int
    seq: int
    stage: str = field(compare=False)
    exclude: frozenset[int] = field(compare=False, default=frozenset())


class ServerPool(Generic[T]):
    """Admission, routing and retry for jobs over several servers (``names`` for the records)."""

    def __init__(self, names: Sequence[str], *, depth: int = DEFAULT_DEPTH, clock: Callable[[], float] = time.monotonic):
        self.servers = [ServerLoad(name) for name in names]
        self.depth = max(1, depth)
        self._clock = clock
        self._cond = threading.Condition()
        self._waiting: list[_Ticket] = []
        self._seq = itertools.count()
        self._mean_s: dict[str, float] = {}
        self._cancelled = False
        self._turn = 0

    # ---------------------------------------------------------------- the one entry point
    def run(self, stage: str, job: Callable[[int, bool], T]) -> tuple[T, int, list[dict[str, Any]]]:
        """Run ``job(server_index, can_move)`` on the best server; returns (result, server index, attempts).

        ``can_move``: another untried server answers, so a job whose server goes away should fail
        at once (it is moved there) rather than wait for that server to come back.
        Unreachable servers are skipped for the next one; out of memory and a missing model
        move the job to another server once. Any other error, or the last one, is raised with
        the attempts in its payload."""
        attempts: list[dict[str, Any]] = []
        tried: set[int] = set()
        moved = False
        while True:
            admitted = self._admit(stage, exclude=tried)
            if admitted is None:
                break
            index, weight = admitted
            tried.add(index)
            start = self._clock()
            try:
                result = job(index, self._others_answer(tried))
            except ArtfarmError as exc:
                self._release(index, stage, weight, start, ok=False)
                reason = moves_elsewhere(exc)
                if reason == "unreachable":
                    self.servers[index].down_until = self._clock() + DOWN_S
                others = len(tried) < len(self.servers)
                may_move = reason is not None and others and (reason == "unreachable" or not moved)
                for inner in exc.payload.get("attempts") or []:  # the runner's own recovery on that server
                    attempts.append({**inner, "server": self.servers[index].name, "attempt": len(attempts) + 1})
                attempts.append({"attempt": len(attempts) + 1, "server": self.servers[index].name,
                                 "error": reason or type(exc).__name__, "message": exc.what,
                                 "action": "next server" if may_move else "give up"})
                if not may_move:
                    exc.payload["attempts"] = attempts
                    raise
                moved = moved or reason != "unreachable"
                continue
            except BaseException:
                self._release(index, stage, weight, start, ok=False)
                raise
            self._release(index, stage, weight, start, ok=True)
            return result, index, attempts
        raise AssertionError("a pool always has a server to try")  # pragma: no cover - tried < servers checked above

    def cancel(self) -> None:
        """Jobs waiting for a server stop waiting (the caller's job then raises its cancellation)."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    def expected_s(self, stage: str) -> float:
        """The running mean of a stage's seconds on any server (1.0 until one finished)."""
        return self._mean_s.get(stage, 1.0)

    # ---------------------------------------------------------------- admission
    def _admit(self, stage: str, exclude: set[int]) -> tuple[int, float] | None:
        """Wait until no more urgent waiting job could take a server, and one this job may use has room."""
        if len(exclude) >= len(self.servers):
            return None
        ticket = _Ticket(STAGE_URGENCY.get(stage, len(STAGE_URGENCY)), next(self._seq), stage, frozenset(exclude))
        with self._cond:
            self._waiting.append(ticket)
            try:
                while True:
                    index = self._least_loaded(exclude, full_ok=self._cancelled)
                    ahead = [t for t in self._waiting if t < ticket and self._least_loaded(set(t.exclude)) is not None]
                    if index is not None and (self._cancelled or not ahead):
                        weight = self.expected_s(stage)
                        self.servers[index].in_flight += 1
                        self.servers[index].queued_s += weight
                        self._turn = (index + 1) % len(self.servers)
                        return index, weight
                    self._cond.wait(WAIT_TICK_S)
            finally:
                self._waiting.remove(ticket)
                self._cond.notify_all()

    def _least_loaded(self, exclude: set[int], full_ok: bool = False) -> int | None:
        """The server with room and the least expected work; ties go round, so idle servers all warm up.
        Servers that are down count only when every untried server is down: otherwise a job waits
        for room on one that answers."""
        untried = [i for i in range(len(self.servers)) if i not in exclude]
        candidates = self._answering(untried) or untried
        free = [i for i in candidates if full_ok or self.servers[i].in_flight < self.depth]
        if not free:
            return None
        count = len(self.servers)
        return min(free, key=lambda i: (round(self.servers[i].queued_s, 6), (i - self._turn) % count))

    def _answering(self, indices: list[int]) -> list[int]:
        now = self._clock()
        return [i for i in indices if self.servers[i].down_until <= now]

    def _others_answer(self, tried: set[int]) -> bool:
        """Whether a server this job has not tried yet is not known to be down."""
        with self._cond:
            return bool(self._answering([i for i in range(len(self.servers)) if i not in tried]))

    def _release(self, index: int, stage: str, weight: float, start: float, ok: bool) -> None:
        seconds = max(0.0, self._clock() - start)
        with self._cond:
            load = self.servers[index]
            load.in_flight -= 1
            load.queued_s = max(0.0, load.queued_s - weight) if load.in_flight else 0.0
            load.busy_s += seconds
            load.jobs += 1
            if ok:
                load.down_until = -1.0   # it answers again
                old = self._mean_s.get(stage)
                self._mean_s[stage] = seconds if old is None else 0.7 * old + 0.3 * seconds
            self._cond.notify_all()
