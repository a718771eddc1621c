"""A ComfyUI client: httpx for HTTP (injectable transport), a sync WebSocket for progress.

A run connects the WebSocket first (``/ws?clientId=``), then ``POST /prompt``, so no event
of the run can be missed. It finishes only on ``executing`` with ``node: null`` for its own
prompt_id, because the server writes ``/history`` after ``execution_success``. If the
WebSocket drops, the run polls ``/history`` (at most once a second) and reconnects. Outputs
are fetched with ``/view`` and written to paths the caller chose; the server's file names
never decide where anything is written. Every call has a timeout and every wait a deadline.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ValidationError
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from artfarm.comfyui.api import (ErrorObject, FileRef, HistoryEntry, OutputImage, PromptAccepted, PromptRejectedBody, PromptRequest,
                                 QueueState, SystemStats)
from artfarm.comfyui.errors import (ComfyUIProtocolError, ComfyUITimeout, ComfyUIUnreachable, ExecutionFailed,
                                    Interrupted, NodeProblem, OutOfMemory, OutputMissing, ServerLost, WorkflowRejected)
from artfarm.comfyui.templates import Template
from artfarm.errors import BadInputError, ServiceError
from artfarm.fsio import atomic_write_bytes, sha256_bytes

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request drowns the progress display

OOM_PATTERN = re.compile(r"out of memory|OutOfMemory|Allocation on device|not enough memory|can't allocate memory", re.I)
UPLOAD_SUBFOLDER = "artfarm"
SAVE_NODES = ("SaveImage", "PreviewImage")  # PreviewImage: temp folder, PNG compress level 1 (the cheapest lossless)


def image_upload_name(data: bytes, suffix: str = ".png") -> str:
    """The name an image is uploaded under: the same bytes always get the same name."""
    return f"af-{sha256_bytes(data)[:40]}{suffix}"


def mask_upload_name(mask: bytes, original_filename: str) -> str:
    """The name of a mask uploaded onto an image: the hash of both inputs."""
    return f"af-mask-{sha256_bytes(mask + original_filename.encode())[:40]}.png"


RECV_TIMEOUT_S = 1.0  # the longest a run waits for a WebSocket message before checking for cancellation


@dataclass(frozen=True)
class Timeouts:
    """Seconds. ``http`` bounds one HTTP call; ``run`` bounds a whole job from submit to files on disk."""

    connect: float = 5.0
    http: float = 30.0
    upload: float = 120.0
    run: float = 1800.0
    poll: float = 1.0
    restart: float = 180.0  # how long a job waits for a server that went away mid-run to answer again


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff for a server that refuses connections."""

    attempts: int = 4
    backoff: float = 0.5
    factor: float = 2.0
    max_backoff: float = 8.0

    def delays(self) -> list[float]:
        return [min(self.backoff * self.factor ** i, self.max_backoff) for i in range(self.attempts - 1)]


@dataclass(frozen=True)
class RunProgress:
    node: str | None
    step: int | None = None
    total: int | None = None


ProgressCallback = Callable[[RunProgress], None]


@dataclass
class RunOutcome:
    prompt_id: str
    files: list[Path]
    images: list[OutputImage]
    cached_nodes: list[str] = field(default_factory=list)
    ws_reconnects: int = 0
    history_polls: int = 0
    graph: dict[str, Any] | None = None  # the graph whose run made ``files`` (differs after a resubmission)
    attempts: list[dict[str, Any]] = field(default_factory=list)


class Cancellation:
    """Shared by the runs of one renderer: ``cancel()`` (any thread) stops each run in flight.

    Each run registers its prompt once submitted. Cancelling removes the prompt from the
    server's pending queue, then interrupts it if it is running (in that order, so a prompt
    that starts in between is still caught). Followers notice within a second and raise
    Interrupted; runs started afterwards raise it at once."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: dict[str, ComfyClient] = {}

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            in_flight = list(self._in_flight.items())
        for prompt_id, client in in_flight:
            _stop_on_server(client, prompt_id)

    def check(self, where: str) -> None:
        if self.cancelled:
            raise cancelled_error(where)

    def started(self, client: ComfyClient, prompt_id: str) -> None:
        with self._lock:
            self._in_flight[prompt_id] = client
            cancelled = self._event.is_set()
        if cancelled:  # cancel() ran while this prompt was being submitted
            _stop_on_server(client, prompt_id)

    def finished(self, prompt_id: str) -> None:
        with self._lock:
            self._in_flight.pop(prompt_id, None)


def _stop_on_server(client: ComfyClient, prompt_id: str) -> None:
    try:
        client.delete_queued([prompt_id])
        client.interrupt(prompt_id)
    except ServiceError as exc:  # the run is abandoned either way; say so and go on
        log.warning("could not stop prompt %s on %s: %s", prompt_id, client.base_url, exc.what)


def cancelled_error(where: str, prompt_id: str | None = None) -> Interrupted:
    return Interrupted("cancelled: the job was stopped before it finished", where=where,
                       fix="run the same command again; finished work is kept and skipped", prompt_id=prompt_id)


class Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end


def is_out_of_memory(exception_type: str, exception_message: str) -> bool:
    return bool(OOM_PATTERN.search(exception_type or "") or OOM_PATTERN.search(exception_message or ""))


def execution_error(data: dict[str, Any], *, server: str, prompt_id: str) -> ExecutionFailed:
    """The typed error for an ``execution_error`` event (from the WebSocket or from /history)."""
    node_id, node_type = data.get("node_id"), data.get("node_type")
    exc_type, exc_message = str(data.get("exception_type", "")), str(data.get("exception_message", "")).strip()
    where = f"{server} prompt {prompt_id} node {node_id} ({node_type})"
    if is_out_of_memory(exc_type, exc_message):
        return OutOfMemory(f"the server ran out of memory: {exc_type}: {exc_message}", where=where,
                           fix="lower the batch or the image size, close other GPU jobs, or use a server with more memory",
                           node_id=node_id, node_type=node_type, exception_type=exc_type,
                           exception_message=exc_message, prompt_id=prompt_id)
    return ExecutionFailed(f"node failed while running: {exc_type}: {exc_message}", where=where,
                           fix="read the ComfyUI server log for the traceback; check the model files and inputs this node uses",
                           node_id=node_id, node_type=node_type, exception_type=exc_type,
                           exception_message=exc_message, prompt_id=prompt_id)


class ComfyClient:
    """One ComfyUI server. ``transport`` replaces httpx's network layer (tests, proxies)."""

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None,
                 timeouts: Timeouts = Timeouts(), retry: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] = time.sleep):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BadInputError(f"not an http(s) URL: {base_url!r}", where="ComfyUI URL (--comfyui-url, ARTFARM_COMFYUI_URL, book.yaml)",
                                fix="write it like http://127.0.0.1:8188")
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self.retry = retry
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.base_url, transport=transport,
                                  timeout=httpx.Timeout(timeouts.http, connect=timeouts.connect))
        self._object_info: dict[str, Any] | None = None
        self.answered = False  # the server has answered this client once: a later refusal is a restart, not a typo

    def __enter__(self) -> ComfyClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ HTTP plumbing
    def _request(self, method: str, path: str, *, retry_on_disconnect: bool = True, **kwargs: Any) -> httpx.Response:
        """Retries connection failures with backoff. A request the server may have received
        is retried only when repeating it is harmless (``retry_on_disconnect``)."""
        url = f"{self.base_url}{path}"
        delays = self.retry.delays()
        for attempt in range(len(delays) + 1):
            try:
                response = self._http.request(method, path, **kwargs)
                self.answered = True
                return response
            except httpx.TimeoutException as exc:
                if isinstance(exc, httpx.ConnectTimeout) and attempt < len(delays):
                    self._sleep(delays[attempt])
                    continue
                raise ComfyUITimeout(f"no answer within the timeout ({type(exc).__name__})", where=f"{method} {url}",
                                     fix="the server may be busy or stuck: check it, or raise the timeout") from exc
            except httpx.TransportError as exc:
                retryable = isinstance(exc, httpx.ConnectError) or retry_on_disconnect
                if retryable and attempt < len(delays):
                    log.debug("%s %s failed (%s); retrying in %.1fs", method, url, exc, delays[attempt])
                    self._sleep(delays[attempt])
                    continue
                raise ComfyUIUnreachable(f"cannot reach ComfyUI after {attempt + 1} attempt(s): {exc}",
                                         where=f"{method} {url}",
                                         fix="start ComfyUI or fix --comfyui-url / ARTFARM_COMFYUI_URL / book.yaml render.comfyui_url") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _expect_ok(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise ComfyUIProtocolError(f"HTTP {response.status_code}: {response.text[:300]}",
                                       where=f"{response.request.method} {response.request.url}",
                                       fix="is this URL a ComfyUI server of version 0.3.x? Its log may say more")

    def _json(self, response: httpx.Response) -> Any:
        self._expect_ok(response)
        try:
            return response.json()
        except ValueError as exc:
            raise ComfyUIProtocolError("response is not JSON", where=f"{response.request.method} {response.request.url}",
                                       fix="is this URL a ComfyUI server of version 0.3.x?") from exc

    def _parse(self, response: httpx.Response, model: type[BaseModel]) -> Any:
        body = self._json(response)
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise ComfyUIProtocolError(f"unexpected response body: {exc}", where=f"{response.request.method} {response.request.url}",
                                       fix="is this URL a ComfyUI server of version 0.3.x?") from exc

    def wait_until_answering(self, seconds: float, cancel: Cancellation | None = None) -> bool:
        """After the server went away: poll ``/system_stats`` until it answers (True) or ``seconds`` pass (False)."""
        deadline = Deadline(seconds)
        while True:
            if cancel is not None:
                cancel.check(self.base_url)
            try:
                if self._http.get("/system_stats", timeout=self.timeouts.connect).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if deadline.expired():
                return False
            self._sleep(min(self.timeouts.poll, deadline.remaining()))

    # ------------------------------------------------------------------ endpoints
    def system_stats(self) -> SystemStats:
        return self._parse(self._request("GET", "/system_stats"), SystemStats)

    def object_info(self, *, refresh: bool = False) -> dict[str, Any]:
        """Every node class the server has, with input specs; fetched once per client (one server)."""
        if self._object_info is None or refresh:
            body = self._json(self._request("GET", "/object_info", timeout=max(self.timeouts.http, 60.0)))
            if not isinstance(body, dict):
                raise ComfyUIProtocolError("/object_info is not an object", where=f"{self.base_url}/object_info",
                                           fix="is this URL a ComfyUI server?")
            self._object_info = body
        return self._object_info

    def queue(self) -> QueueState:
        return self._parse(self._request("GET", "/queue"), QueueState)

    def interrupt(self, prompt_id: str | None = None) -> None:
        """Stop the running prompt; with ``prompt_id``, only if that prompt is the one running."""
        self._expect_ok(self._request("POST", "/interrupt", json={"prompt_id": prompt_id} if prompt_id else {}))

    def delete_queued(self, prompt_ids: list[str]) -> None:
        """Remove prompts from the pending queue (ids not pending are ignored by the server)."""
        self._expect_ok(self._request("POST", "/queue", json={"delete": prompt_ids}))

    def free(self, *, unload_models: bool = True, free_memory: bool = True) -> None:
        self._expect_ok(self._request("POST", "/free", json={"unload_models": unload_models, "free_memory": free_memory}))

    def upload_image(self, data: bytes, *, suffix: str = ".png") -> FileRef:
        """Upload under a name made from the bytes' hash: the same bytes always get the same name."""
        return self._upload("/upload/image", image_upload_name(data, suffix), data, {})

    def upload_mask(self, mask: bytes, original: FileRef) -> FileRef:
        """ComfyUI's mask upload: the server stores ``original`` with the mask's alpha as its alpha
        (LoadImage then gives MASK = 1 - alpha). Named by the hash of both inputs."""
        name = mask_upload_name(mask, original.filename)
        ref = {"filename": original.filename, "subfolder": original.subfolder, "type": original.type}
        return self._upload("/upload/mask", name, mask, {"original_ref": json.dumps(ref)})

    def _upload(self, path: str, name: str, data: bytes, extra: dict[str, str]) -> FileRef:
        fields = {"type": "input", "subfolder": UPLOAD_SUBFOLDER, "overwrite": "true", **extra}
        response = self._request("POST", path, files={"image": (name, data, "image/png")}, data=fields,
                                 timeout=self.timeouts.upload)
        ref = self._parse(response, FileRef)
        if ref.filename != name:
            raise ComfyUIProtocolError(f"uploaded {name} but the server stored it as {ref.filename}",
                                       where=f"POST {self.base_url}{path}", fix="check the server's input folder")
        return ref

    def submit(self, graph: dict[str, Any], client_id: str, template: Template | None = None) -> str:
        body = PromptRequest(prompt=graph, client_id=client_id).model_dump()
        response = self._request("POST", "/prompt", json=body, retry_on_disconnect=False)
        if response.status_code == 400:
            raise rejected_from_body(response, template, self.base_url)
        return self._parse(response, PromptAccepted).prompt_id

    def history(self, prompt_id: str) -> HistoryEntry | None:
        """The run's history entry, or None while the server has not written it."""
        body = self._json(self._request("GET", f"/history/{prompt_id}"))
        if not isinstance(body, dict) or prompt_id not in body:
            return None
        try:
            return HistoryEntry.model_validate(body[prompt_id])
        except ValidationError as exc:
            raise ComfyUIProtocolError(f"unexpected history entry: {exc}", where=f"{self.base_url}/history/{prompt_id}",
                                       fix="is this a ComfyUI 0.3.x server?") from exc

    def view(self, image: OutputImage | FileRef) -> bytes:
        params = {"filename": image.filename, "subfolder": image.subfolder, "type": image.type}
        response = self._request("GET", "/view", params=params)
        if response.status_code == 404:
            raise OutputMissing(f"the server has no file {image.filename!r} (subfolder {image.subfolder!r})",
                                where=f"{self.base_url}/view",
                                fix="something deleted it from ComfyUI's output folder; run the job again (artfarm "
                                    "resubmits under a new file name prefix when the server answers from its cache)",
                                filename=image.filename, subfolder=image.subfolder)
        if response.status_code != 200:
            raise ComfyUIProtocolError(f"/view answered HTTP {response.status_code} for {image.filename!r}",
                                       where=f"{self.base_url}/view",
                                       fix="the server refuses this file name; is this URL a ComfyUI server of version 0.3.x?")
        return response.content

    # ------------------------------------------------------------------ WebSocket
    def _ws_url(self, client_id: str) -> str:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", f"clientId={client_id}", ""))

    def _open_ws(self, client_id: str) -> ClientConnection:
        ws = connect(self._ws_url(client_id), open_timeout=self.timeouts.connect, close_timeout=1.0,
                     max_size=64 * 1024 * 1024, proxy=None)
        return ws.__enter__()  # websockets >= 17.1 wants connections entered; ours are closed explicitly

    def connect_ws(self, client_id: str) -> ClientConnection:
        delays = self.retry.delays()
        for attempt in range(len(delays) + 1):
            try:
                return self._open_ws(client_id)
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                if attempt < len(delays) and not isinstance(exc, InvalidURI):
                    self._sleep(delays[attempt])
                    continue
                raise ComfyUIUnreachable(f"cannot open the WebSocket after {attempt + 1} attempt(s): {exc}",
                                         where=self._ws_url(client_id),
                                         fix="start ComfyUI or fix --comfyui-url / ARTFARM_COMFYUI_URL") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ a whole run
    def run(self, graph: dict[str, Any], *, out_dir: Path, stem: str, output_node: str,
            progress: ProgressCallback | None = None, deadline_s: float | None = None,
            template: Template | None = None, cancel: Cancellation | None = None) -> RunOutcome:
        """Submit ``graph``, follow it to the end, write its images as ``out_dir/<stem>_NN.png``.

        If the history names outputs the server no longer has (404) and every node came from
        the server's cache, an identical resubmission would name the same missing files again;
        so the graph is resubmitted once with a new ``filename_prefix`` on the output node,
        which makes that node run again (from the cached image) and write new files."""
        deadline = Deadline(deadline_s if deadline_s is not None else self.timeouts.run)
        follower, entry = self._follow_run(graph, progress, deadline, template, cancel)
        attempts: list[dict[str, Any]] = []
        try:
            images, data = self._fetch_outputs(entry, output_node, follower.prompt_id)
        except OutputMissing as exc:
            cached = set(follower.cached) | set(entry.cached_nodes())
            if not set(graph) <= cached or graph.get(output_node, {}).get("class_type") not in SAVE_NODES:
                raise
            graph = with_fresh_prefix(graph, output_node)
            attempts.append({"attempt": 1, "error": "output_missing", "prompt_id": follower.prompt_id,
                             "filename": exc.payload.get("filename"),
                             "action": "resubmit with filename_prefix " + graph[output_node]["inputs"]["filename_prefix"]})
            log.warning("%s: %s; resubmitting under a new file name prefix", self.base_url, exc.what)
            follower, entry = self._follow_run(graph, progress, deadline, template, cancel)
            images, data = self._fetch_outputs(entry, output_node, follower.prompt_id)
        files = [atomic_write_bytes(Path(out_dir) / f"{stem}_{index:02d}.png", body) for index, body in enumerate(data)]
        return RunOutcome(prompt_id=follower.prompt_id, files=files, images=images, cached_nodes=follower.cached,
                          ws_reconnects=follower.reconnects, history_polls=follower.polls, graph=graph, attempts=attempts)

    def _follow_run(self, graph: dict[str, Any], progress: ProgressCallback | None, deadline: Deadline,
                    template: Template | None, cancel: Cancellation | None) -> tuple[_RunFollower, HistoryEntry]:
        if cancel is not None:
            cancel.check(self.base_url)
        client_id = uuid.uuid4().hex
        ws: ClientConnection | None = self.connect_ws(client_id)
        prompt_id: str | None = None
        try:
            prompt_id = self.submit(graph, client_id, template)
            if cancel is not None:
                cancel.started(self, prompt_id)
            follower = _RunFollower(self, prompt_id, client_id, progress, deadline, cancel)
            ws = follower.follow(ws)
            return follower, follower.final_history()
        except ComfyUIUnreachable as exc:
            if prompt_id is None or isinstance(exc, ServerLost):
                raise
            raise ServerLost(f"the server went away while running prompt {prompt_id} ({exc.what})", where=self.base_url,
                             fix="start ComfyUI again; artfarm resubmits the job once it answers",
                             prompt_id=prompt_id) from exc
        finally:
            if ws is not None:
                ws.close()
            if cancel is not None and prompt_id is not None:
                cancel.finished(prompt_id)

    def _fetch_outputs(self, entry: HistoryEntry, output_node: str, prompt_id: str) -> tuple[list[OutputImage], list[bytes]]:
        """Every output's bytes, or an error before any file is written."""
        images = entry.images(output_node)
        if not images:
            raise ComfyUIProtocolError(f"the run finished but node {output_node} saved no images",
                                       where=f"{self.base_url}/history/{prompt_id}",
                                       fix="check that the workflow's output node is a SaveImage")
        return images, [self.view(image) for image in images]


def with_fresh_prefix(graph: dict[str, Any], output_node: str) -> dict[str, Any]:
    """A copy of ``graph`` whose output node saves under a prefix the server has not used (a
    PreviewImage, which has no prefix, becomes a SaveImage for it)."""
    graph = copy.deepcopy(graph)
    node = graph[output_node]
    prefix = node["inputs"].get("filename_prefix", "artfarm/resubmitted")
    graph[output_node] = {**node, "class_type": "SaveImage",
                          "inputs": {**node["inputs"], "filename_prefix": f"{prefix}-{uuid.uuid4().hex[:8]}"}}
    return graph


class _RunFollower:
    """Follows one prompt over the WebSocket, falling back to /history when it drops."""

    def __init__(self, client: ComfyClient, prompt_id: str, client_id: str, progress: ProgressCallback | None,
                 deadline: Deadline, cancel: Cancellation | None = None):
        self.client, self.prompt_id, self.client_id = client, prompt_id, client_id
        self.progress, self.deadline, self.cancel = progress, deadline, cancel
        self.cached: list[str] = []
        self.reconnects = 0
        self.polls = 0
        self._entry: HistoryEntry | None = None
        self._unseen = 0

    def _timeout(self) -> ComfyUITimeout:
        return ComfyUITimeout(f"prompt {self.prompt_id} did not finish within {self.deadline.seconds:.0f}s",
                              where=self.client.base_url,
                              fix="the server may be overloaded: check its /queue, interrupt it, or raise the run deadline")

    def follow(self, ws: ClientConnection | None) -> ClientConnection | None:
        """Returns when the run is over (the connection still open, or None if it dropped)."""
        while True:
            self._check_cancelled()
            if self.deadline.expired():
                raise self._timeout()
            if ws is None:
                if self._history_done():
                    return None
                ws = self._reconnect()
                if ws is None:
                    self.client._sleep(min(self.client.timeouts.poll, self.deadline.remaining()))
                    continue
                if self._history_done():  # the end may have passed while disconnected
                    return ws
            wait = min(self.deadline.remaining(), self.client.timeouts.poll if self.reconnects else RECV_TIMEOUT_S)
            try:
                raw = ws.recv(timeout=wait)
            except TimeoutError:
                if self.reconnects and self._history_done():
                    return ws
                continue
            except (ConnectionClosed, OSError) as exc:
                log.info("WebSocket to %s dropped (%s); polling /history for %s", self.client.base_url, exc, self.prompt_id)
                ws = None
                continue
            if isinstance(raw, bytes):
                continue  # preview images
            if self._handle(json.loads(raw)):
                return ws

    def _check_cancelled(self) -> None:
        if self.cancel is not None and self.cancel.cancelled:
            raise cancelled_error(f"{self.client.base_url} prompt {self.prompt_id}", self.prompt_id)

    def _reconnect(self) -> ClientConnection | None:
        try:
            ws = self.client._open_ws(self.client_id)
        except (OSError, TimeoutError, InvalidHandshake):
            return None
        self.reconnects += 1
        return ws

    def _handle(self, message: dict[str, Any]) -> bool:
        kind, data = message.get("type"), message.get("data") or {}
        if not isinstance(data, dict) or data.get("prompt_id") != self.prompt_id:
            return False
        if kind == "executing":
            node = data.get("node")
            if node is None:
                return True
            self._report(RunProgress(node=str(node)))
        elif kind == "progress":
            self._report(RunProgress(node=str(data.get("node")), step=data.get("value"), total=data.get("max")))
        elif kind == "execution_cached":
            self.cached = [str(n) for n in data.get("nodes", [])]
        elif kind == "execution_error":
            raise execution_error(data, server=self.client.base_url, prompt_id=self.prompt_id)
        elif kind == "execution_interrupted":
            raise _interrupted(self.client.base_url, self.prompt_id, data)
        return False

    def _report(self, event: RunProgress) -> None:
        if self.progress is not None:
            self.progress(event)

    def _history_done(self) -> bool:
        self.polls += 1
        entry = self.client.history(self.prompt_id)
        if entry is None:
            self._check_still_queued()
            return False
        if not (entry.status.completed or entry.status.status_str in ("success", "error") or entry.outputs):
            return False
        self._entry = entry
        return True

    def _check_still_queued(self) -> None:
        """A prompt that is neither queued nor in history twice in a row was lost (server restarted)."""
        queue = self.client.queue()
        ids = {item[1] for item in queue.queue_running + queue.queue_pending if len(item) > 1}
        self._unseen = 0 if self.prompt_id in ids else self._unseen + 1
        if self._unseen >= 2:
            raise ServerLost(f"prompt {self.prompt_id} is neither queued nor in the history: the server lost it (restarted?)",
                             where=self.client.base_url, fix="run the job again", prompt_id=self.prompt_id)

    def final_history(self) -> HistoryEntry:
        """The history entry; it can lag the end of the run by a moment, so poll briefly."""
        entry = self._entry
        while entry is None:
            self._check_cancelled()
            entry = self.client.history(self.prompt_id)
            if entry is not None:
                break
            if self.deadline.expired():
                raise self._timeout()
            self.polls += 1
            self.client._sleep(min(0.1, self.deadline.remaining()))
        failure = entry.error_message()
        if failure is not None:
            if failure["type"] == "execution_interrupted":
                raise _interrupted(self.client.base_url, self.prompt_id, failure)
            raise execution_error(failure, server=self.client.base_url, prompt_id=self.prompt_id)
        return entry


def _interrupted(server: str, prompt_id: str, data: dict[str, Any]) -> Interrupted:
    return Interrupted(f"the run was interrupted at node {data.get('node_id')} ({data.get('node_type')})",
                       where=f"{server} prompt {prompt_id}", fix="run the same command again to redo it",
                       prompt_id=prompt_id, node_id=data.get("node_id"))


def rejected_from_body(response: httpx.Response, template: Template | None, server: str) -> WorkflowRejected:
    """Map a 400 from POST /prompt to one problem per node error, named by template file and parameter."""
    try:
        body = PromptRejectedBody.model_validate(response.json())
    except (ValueError, ValidationError):
        return WorkflowRejected(f"the server rejected the workflow: {response.text[:300]}", problems=[],
                                where=f"POST {server}/prompt", fix="check the workflow against the server's nodes")
    error = body.error.model_dump() if isinstance(body.error, ErrorObject) else {"type": "error", "message": body.error}
    problems = []
    for node_id, node_errors in body.node_errors.items():
        for item in node_errors.errors:
            input_name = item.extra_info.get("input_name")
            problems.append(NodeProblem(
                template=template.file if template else None, node_id=node_id, class_type=node_errors.class_type,
                input=input_name, param=template.param_for(node_id, input_name) if template else None,
                type=item.type, message=f"{item.message}: {item.details}" if item.details else item.message))
    what = f"the server rejected the workflow: {error.get('type')}: {error.get('message')}"
    if error.get("details"):
        what += f" ({error['details']})"
    return WorkflowRejected(what, problems=problems, error=error, where=f"POST {server}/prompt"
                            + (f" ({template.file})" if template else ""),
                            fix="fix the parameters named above (a model name must be one the server lists; "
                                "`artfarm doctor` shows them)")
