"""A loopback ComfyUI double: real HTTP and WebSocket on 127.0.0.1, no models, faults on demand.

It answers like the recorded ComfyUI 0.3.75 (tests/comfyui/data): the same 400 bodies for
invalid prompts, checked against the recorded ``object_info.json`` with its own code (not
artfarm's); the same WebSocket message order as ``protocol/ws_txt2img.json``; history
written between ``execution_success`` and ``executing {node: null}``; the same ``/view``
statuses as ``protocol/view_behaviour.json``; a node whose inputs it has run before is
answered from its cache, so an identical resubmission names the old output files again
(``protocol/ws_txt2img_rerun_cached.json``). ``/interrupt`` with a ``prompt_id`` stops only
that prompt, and ``POST /queue {"delete": [...]}`` drops pending prompts, as in 0.3.75.
Images are flat PNGs of the size the graph asks for. Faults the real server will not
produce on demand: dying mid-run, dropping WebSockets, empty or late history,
out-of-memory and other node errors, slow answers, hostile output file names. Like 0.3.75,
it does not check the values of V3 ``["COMBO", {"options": ...}]`` inputs when validating;
a missing upscale model fails at run time.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import io
import json
import posixpath
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from PIL import Image

DATA = Path(__file__).parent / "data"
SAVE_CLASSES = ("SaveImage", "PreviewImage")  # PreviewImage writes the temp folder (type "temp")
OOM_MESSAGE = ("Allocation on device 0 would exceed allowed memory. (out of memory)\n"
               "Currently allocated     : 7.80 GiB\nRequested               : 2.00 GiB")


def recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@dataclass
class Faults:
    die_at_node: str | None = None          # the whole server stops when execution reaches this node id
    drop_ws_at_node: str | None = None      # every WebSocket is closed there; the run goes on
    history_delay_s: float = 0.0            # history appears this long after executing {node: null} (the real
                                            # server never does this; a defensive case)
    history_gap_s: float = 0.0              # the real race: execution_success, then this long with an empty
                                            # history, then history, status and executing {node: null}
    oom: dict[str, int] = field(default_factory=dict)   # class_type -> how many times it runs out of memory
    fail_class: str | None = None           # this class raises FileNotFoundError at run time
    http_delay_s: float = 0.0               # every HTTP answer waits this long
    node_delay_s: float = 0.0               # each node takes this long
    hostile_names: bool = False             # outputs named like "../../escape_00001_.png" (subfolder "artfarm"),
                                            # and /view serves them: a hostile server ignores its own rules


class ComfyDouble:
    def __init__(self, faults: Faults | None = None, object_info: dict[str, Any] | None = None):
        self.faults = faults or Faults()
        self.object_info = object_info or recorded("object_info.json")
        self.events: list[str] = []           # "ws <clientId>", "POST /prompt <clientId>", "POST /free", ...
        self.prompts: dict[str, dict[str, Any]] = {}
        self.history: dict[str, Any] = {}
        self.inputs: dict[str, bytes] = {}    # "subfolder/name" -> bytes
        self.outputs: dict[tuple[str, str], bytes] = {}
        self.sent: list[dict[str, Any]] = []  # every WebSocket text message, in order
        self.queue: list[str] = []
        self.running: str | None = None
        self.interrupted = False
        self.deleted: set[str] = set()
        self.cache: dict[str, Any] = {}       # node signature -> its output (SaveImage/PreviewImage: the image list)
        self.kinds: dict[tuple[str, str], str] = {}  # (subfolder, name) of an output -> "output" or "temp"
        self._sockets: dict[str, list[web.WebSocketResponse]] = {}
        self._counter = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._work: asyncio.Queue | None = None
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.dead = threading.Event()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> ComfyDouble:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="comfy-double", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the ComfyUI double did not start")

    def stop(self) -> None:
        if self._loop is None or not self._loop.is_running():
            return  # never started, or already stopped
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _start(self) -> None:
        app = web.Application(middlewares=[self._slow], client_max_size=64 * 1024 * 1024)
        app.add_routes([
            web.get("/ws", self._ws), web.get("/system_stats", self._system_stats),
            web.get("/object_info", self._object_info), web.get("/queue", self._queue),
            web.post("/prompt", self._prompt), web.get("/history/{prompt_id}", self._history),
            web.get("/view", self._view), web.post("/upload/image", self._upload_image),
            web.post("/upload/mask", self._upload_mask), web.post("/interrupt", self._interrupt),
            web.post("/free", self._free), web.post("/queue", self._queue_edit),
        ])
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()
        self._work = asyncio.Queue()
        self._worker = asyncio.ensure_future(self._execute_queue())

    async def _shutdown(self) -> None:
        if self.dead.is_set():
            return
        self.dead.set()
        if asyncio.current_task() is not self._worker:
            self._worker.cancel()
        for sockets in self._sockets.values():
            for ws in list(sockets):
                await ws.close()
        await self._runner.cleanup()

    # ------------------------------------------------------------------ HTTP
    @web.middleware
    async def _slow(self, request: web.Request, handler):
        if self.faults.http_delay_s and request.path != "/ws":
            await asyncio.sleep(self.faults.http_delay_s)
        return await handler(request)

    async def _system_stats(self, request):
        return web.json_response(recorded("system_stats.json"))

    async def _object_info(self, request):
        return web.json_response(self.object_info)

    async def _queue(self, request):
        running = [[0, self.running, {}, {}, []]] if self.running else []
        pending = [[i + 1, pid, {}, {}, []] for i, pid in enumerate(self.queue)]
        return web.json_response({"queue_running": running, "queue_pending": pending})

    async def _interrupt(self, request):
        try:
            prompt_id = (await request.json()).get("prompt_id")
        except ValueError:
            prompt_id = None
        self.events.append(f"POST /interrupt {prompt_id}" if prompt_id else "POST /interrupt")
        if prompt_id is None or prompt_id == self.running:  # 0.3.75 skips a prompt_id that is not running
            self.interrupted = True
        return web.Response()

    async def _queue_edit(self, request):
        body = await request.json()
        for pid in body.get("delete", []):
            self.events.append(f"POST /queue delete {pid}")
            if pid in self.queue:
                self.queue.remove(pid)
                self.deleted.add(pid)
        return web.Response()

    async def _free(self, request):
        body = await request.json()
        self.events.append(f"POST /free {json.dumps(body, sort_keys=True)}")
        return web.Response()

    async def _upload_image(self, request):
        return await self._store_upload(request, mask=False)

    async def _upload_mask(self, request):
        return await self._store_upload(request, mask=True)

    async def _store_upload(self, request, *, mask: bool):
        form = await request.post()
        upload = form["image"]
        data = upload.file.read()
        sub, name = form.get("subfolder", ""), upload.filename
        key = f"{sub}/{name}" if sub else name
        if key in self.inputs and self.inputs[key] != data and form.get("overwrite") != "true":
            stem, dot, ext = name.rpartition(".")
            name = f"{stem} (1).{ext}"
            key = f"{sub}/{name}" if sub else name
        event = f"POST {request.path} {key}"
        if mask:
            ref = json.loads(form["original_ref"])
            original_key = f"{ref['subfolder']}/{ref['filename']}" if ref.get("subfolder") else ref["filename"]
            image = Image.open(io.BytesIO(self.inputs[original_key])).convert("RGBA")
            image.putalpha(Image.open(io.BytesIO(data)).convert("RGBA").getchannel("A"))  # sizes must match, as in 0.3.75
            data = _png(image)
            event += f" onto {original_key}"
        self.inputs[key] = data
        self.events.append(event)
        return web.json_response({"name": name, "subfolder": sub, "type": "input"})

    async def _view(self, request):
        """The checks and statuses of 0.3.75's /view, in its order (protocol/view_behaviour.json)."""
        q = request.query
        if "filename" not in q:
            return web.Response(status=404)
        name, sub, kind = q["filename"], q.get("subfolder", ""), q.get("type", "output")
        made_up = self.faults.hostile_names and (sub, name) in self.outputs
        if not made_up and (not name or name[0] == "/" or ".." in name):
            return web.Response(status=400)
        if kind not in ("output", "input", "temp"):
            return web.Response(status=400)
        if posixpath.normpath(posixpath.join("/root", sub)).split("/")[1] != "root":
            return web.Response(status=403)
        name = name if made_up else posixpath.basename(name)
        data = self.outputs.get((sub, name)) if self.kinds.get((sub, name), "output") == kind else None
        if kind == "input":
            data = self.inputs.get(f"{sub}/{name}" if sub else name)
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="image/png")

    async def _history(self, request):
        pid = request.match_info["prompt_id"]
        return web.json_response({pid: self.history[pid]} if pid in self.history else {})

    async def _prompt(self, request):
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=500, text="500 Internal Server Error")
        if "prompt" not in body:
            return web.json_response(_error("no_prompt", "No prompt provided"), status=400)
        graph = body["prompt"]
        self.events.append(f"POST /prompt {body.get('client_id')}")
        rejection = self.validate(graph)
        if rejection is not None:
            return web.json_response(rejection, status=400)
        pid = str(uuid.uuid4())
        self.prompts[pid] = {"graph": graph, "client_id": body.get("client_id")}
        self.queue.append(pid)
        await self._send(body.get("client_id"), "status", {"status": {"exec_info": {"queue_remaining": len(self.queue)}}})
        await self._work.put(pid)
        return web.json_response({"prompt_id": pid, "number": len(self.prompts) - 1, "node_errors": {}})

    # ------------------------------------------------------------------ validation, as ComfyUI answers it
    def validate(self, graph: dict[str, Any]) -> dict[str, Any] | None:
        for node_id, node in graph.items():
            if node.get("class_type") not in self.object_info:
                return _error("invalid_prompt", f"Cannot execute because node {node.get('class_type')} does not exist.",
                              f"Node ID '#{node_id}'")
        outputs = [nid for nid, n in graph.items() if self.object_info[n["class_type"]].get("output_node")]
        if not outputs:
            return _error("prompt_no_outputs", "Prompt has no outputs")
        node_errors = {}
        for node_id, node in graph.items():
            errors = self._node_errors(graph, node)
            if errors:
                node_errors[node_id] = {"errors": errors, "dependent_outputs": outputs, "class_type": node["class_type"]}
        if node_errors:
            body = _error("prompt_outputs_failed_validation", "Prompt outputs failed validation")
            body["node_errors"] = node_errors
            return body
        return None

    def _node_errors(self, graph, node) -> list[dict[str, Any]]:
        info = self.object_info[node["class_type"]]["input"]
        errors = []
        for name, spec in info.get("required", {}).items():
            value = node["inputs"].get(name)
            if name not in node["inputs"]:
                errors.append(_item("required_input_missing", "Required input is missing", name, name))
                continue
            if isinstance(value, list):
                source = graph.get(value[0])
                if source is None:
                    continue  # ComfyUI reports this under another node; not needed here
                received = self.object_info[source["class_type"]]["output"][value[1]]
                if isinstance(spec[0], str) and spec[0] not in ("COMBO", "*") and received != spec[0]:
                    errors.append(_item("return_type_mismatch", "Return type mismatch between linked nodes",
                                        f"{name}, received_type({received}) mismatch input_type({spec[0]})", name,
                                        received_type=received, linked_node=value))
                continue
            options = spec[0] if isinstance(spec[0], list) else None  # 0.3.75 does not check V3 ["COMBO", {...}] values
            config = spec[1] if len(spec) > 1 else {}
            if config.get("image_upload"):
                if value not in self.inputs:
                    errors.append(_item("custom_validation_failed", "Custom validation failed for node",
                                        f"image - Invalid image file: {value}", name))
            elif options is not None and value not in options:
                errors.append(_item("value_not_in_list", "Value not in list", f"{name}: '{value}' not in {options}", name,
                                    received_value=value))
            elif spec[0] in ("INT", "FLOAT"):
                if "min" in config and value < config["min"]:
                    errors.append(_item("value_smaller_than_min", f"Value {value} smaller than min of {config['min']}",
                                        f"{name}", name, received_value=value))
                if "max" in config and value > config["max"]:
                    errors.append(_item("value_bigger_than_max", f"Value {value} bigger than max of {config['max']}",
                                        f"{name}", name, received_value=value))
        return errors

    # ------------------------------------------------------------------ WebSocket and execution
    async def _ws(self, request):
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        client_id = request.query.get("clientId") or uuid.uuid4().hex
        self.events.append(f"ws {client_id}")
        self._sockets.setdefault(client_id, []).append(ws)
        await ws.send_json({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": len(self.queue)}},
                                                       "sid": client_id}})
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
        if ws in self._sockets.get(client_id, []):
            self._sockets[client_id].remove(ws)
        return ws

    async def _send(self, client_id: str, kind: str, data: dict[str, Any]) -> None:
        message = {"type": kind, "data": data}
        self.sent.append(message)
        for ws in list(self._sockets.get(client_id, [])):
            try:
                await ws.send_json(message)
            except (ConnectionError, RuntimeError):
                pass

    async def _drop_sockets(self) -> None:
        for sockets in self._sockets.values():
            for ws in list(sockets):
                await ws.close()
            sockets.clear()

    async def _execute_queue(self) -> None:
        while True:
            pid = await self._work.get()
            if pid in self.deleted:
                continue
            self.queue.remove(pid)
            self.running = pid
            try:
                await self._execute(pid)
            finally:
                self.running = None

    async def _execute(self, pid: str) -> None:
        graph, cid = self.prompts[pid]["graph"], self.prompts[pid]["client_id"]
        status = lambda: {"status": {"exec_info": {"queue_remaining": len(self.queue) + 1}}}  # noqa: E731
        messages: list[list[Any]] = []
        order = _order(graph)
        signatures = _signatures(graph)
        cached = [nid for nid in order if signatures[nid] in self.cache]
        await self._send(cid, "status", status())
        for kind, data in (("execution_start", {"prompt_id": pid, "timestamp": _now()}),
                           ("execution_cached", {"nodes": cached, "prompt_id": pid, "timestamp": _now()})):
            await self._send(cid, kind, data)
            messages.append([kind, data])
        outputs: dict[str, Any] = {}
        failure = None
        self.interrupted = False
        for node_id in order:
            node = graph[node_id]
            if node_id in cached:
                if node["class_type"] in SAVE_CLASSES:  # the old file names, as the recorded rerun shows
                    images = self.cache[signatures[node_id]]
                    outputs[node_id] = {"images": images}
                    await self._send(cid, "executed", {"node": node_id, "display_node": node_id,
                                                       "output": {"images": images}, "prompt_id": pid})
                continue
            if self.faults.die_at_node == node_id:
                await self._shutdown()
                return
            if self.faults.drop_ws_at_node == node_id:
                await self._drop_sockets()
            await self._send(cid, "executing", {"node": node_id, "display_node": node_id, "prompt_id": pid})
            if self.faults.node_delay_s:
                await asyncio.sleep(self.faults.node_delay_s)
            if self.interrupted:
                failure = ("execution_interrupted", {"prompt_id": pid, "node_id": node_id, "node_type": node["class_type"],
                                                     "executed": [], "timestamp": _now()})
                break
            error = self._runtime_error(node)
            if error is not None:
                failure = ("execution_error", {"prompt_id": pid, "node_id": node_id, "node_type": node["class_type"],
                                               "executed": [], "exception_message": error[1], "exception_type": error[0],
                                               "traceback": ["  File \"/opt/ComfyUI/execution.py\", line 510, in execute\n"],
                                               "current_inputs": {}, "current_outputs": {}, "timestamp": _now()})
                break
            if node["class_type"] == "KSampler":
                steps = node["inputs"]["steps"]
                for step in range(1, steps + 1):
                    await self._send(cid, "progress", {"value": step, "max": steps, "prompt_id": pid, "node": node_id})
            self.cache[signatures[node_id]] = True
            if node["class_type"] in SAVE_CLASSES:
                images = self._save(graph, node, pid)
                outputs[node_id] = {"images": images}
                self.cache[signatures[node_id]] = images
                await self._send(cid, "executed", {"node": node_id, "display_node": node_id, "output": {"images": images},
                                                   "prompt_id": pid})
        if failure is not None:
            await self._send(cid, *failure)
            messages.append(list(failure))
            entry = {"prompt": [0, pid, graph, {"client_id": cid}, []], "outputs": {},
                     "status": {"status_str": "error", "completed": False, "messages": messages}, "meta": {}}
        else:
            success = {"prompt_id": pid, "timestamp": _now()}
            await self._send(cid, "execution_success", success)
            messages.append(["execution_success", success])
            entry = {"prompt": [0, pid, graph, {"client_id": cid}, list(outputs)], "outputs": outputs,
                     "status": {"status_str": "success", "completed": True, "messages": messages},
                     "meta": {nid: {"node_id": nid, "display_node": nid} for nid in outputs}}
        if self.faults.history_gap_s:
            await asyncio.sleep(self.faults.history_gap_s)
        if not self.faults.history_delay_s:
            self.history[pid] = entry
        await self._send(cid, "status", {"status": {"exec_info": {"queue_remaining": len(self.queue)}}})
        await self._send(cid, "executing", {"node": None, "prompt_id": pid})
        if self.faults.history_delay_s:
            await asyncio.sleep(self.faults.history_delay_s)
            self.history[pid] = entry

    def _runtime_error(self, node) -> tuple[str, str] | None:
        cls = node["class_type"]
        if self.faults.oom.get(cls, 0) > 0:
            self.faults.oom[cls] -= 1
            return "torch.OutOfMemoryError", OOM_MESSAGE
        if cls == "UpscaleModelLoader":
            options = self.object_info[cls]["input"]["required"]["model_name"][1]["options"]
            if node["inputs"]["model_name"] not in options:
                return "FileNotFoundError", f"Model in folder 'upscale_models' with filename '{node['inputs']['model_name']}' not found."
        if self.faults.fail_class == cls:
            return "FileNotFoundError", "[Errno 2] No such file or directory: '/srv/comfy/in/artfarm/missing.png'"
        return None

    def _save(self, graph, node, pid: str) -> list[dict[str, str]]:
        width, height, batch = _shape(graph, node["inputs"]["images"], self.inputs)
        kind = "temp" if node["class_type"] == "PreviewImage" else "output"
        prefix = node["inputs"].get("filename_prefix", "ComfyUI") if kind == "output" else "ComfyUI_temp_abcde"
        sub, _, base = prefix.rpartition("/")
        upstream = _signatures(graph)[node["inputs"]["images"][0]]
        images = []
        for index in range(batch):
            self._counter += 1
            name = f"{base}_{self._counter:05d}_.png"
            if self.faults.hostile_names:
                name = f"../../escape_{self._counter:05d}_.png"
            shade = hashlib.sha256(f"{upstream}/{index}".encode()).digest()  # same work, same pixels
            self.outputs[(sub, name)] = _png(Image.new("RGB", (width, height), tuple(shade[:3])))
            self.kinds[(sub, name)] = kind
            images.append({"filename": name, "subfolder": sub, "type": kind})
        return images


def _shape(graph, link, inputs) -> tuple[int, int, int]:
    """(width, height, batch) of the image or latent a link carries, followed up the graph."""
    node = graph[link[0]]
    cls, ins = node["class_type"], node["inputs"]
    if cls in ("EmptyLatentImage", "EmptySD3LatentImage"):
        return ins["width"], ins["height"], ins["batch_size"]
    if cls in ("LoadImage", "LoadImageMask"):
        with Image.open(io.BytesIO(inputs[ins["image"]])) as image:
            return image.width, image.height, 1
    if cls == "ImageScale":
        return ins["width"], ins["height"], _shape(graph, ins["image"], inputs)[2]
    upstream = next(v for k, v in ins.items() if isinstance(v, list) and k in ("image", "pixels", "samples", "latent_image", "destination"))
    width, height, batch = _shape(graph, upstream, inputs)
    if cls == "ImageUpscaleWithModel":
        return width * 2, height * 2, batch
    return width, height, batch


def _signatures(graph: dict[str, Any]) -> dict[str, str]:
    """Each node's class and inputs, with links replaced by the linked node's signature: equal
    signatures mean the same work, which the server answers from its cache."""
    signatures: dict[str, str] = {}
    for node_id in _order(graph):
        node = graph[node_id]
        inputs = {k: [signatures[v[0]], v[1]] if isinstance(v, list) and len(v) == 2 and v[0] in graph else v
                  for k, v in node["inputs"].items()}
        signatures[node_id] = hashlib.sha256(json.dumps([node["class_type"], inputs], sort_keys=True).encode()).hexdigest()
    return signatures


def _order(graph: dict[str, Any]) -> list[str]:
    done: list[str] = []

    def visit(node_id: str) -> None:
        if node_id in done:
            return
        for value in graph[node_id]["inputs"].values():
            if isinstance(value, list) and len(value) == 2 and value[0] in graph:
                visit(value[0])
        done.append(node_id)

    for node_id in graph:
        visit(node_id)
    return done


def _error(kind: str, message: str, details: str = "") -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "details": details, "extra_info": {}}, "node_errors": {}}


def _item(kind: str, message: str, details: str, input_name: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details,
            "extra_info": {"input_name": input_name, "input_config": None, **extra}}


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _now() -> int:
    return int(time.time() * 1000)


class NotAccepting:
    """A server that stopped accepting connections: a loopback socket that listens and never
    accepts, its backlog filled, so every new connection times out (the kernel drops the SYN)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(0)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._fill: list[socket.socket] = []
        while True:
            client = socket.socket()
            client.settimeout(0.2)
            try:
                client.connect(self._sock.getsockname())
            except OSError:  # the backlog is full: this one timed out
                client.close()
                break
            self._fill.append(client)

    def close(self) -> None:
        for client in self._fill:
            client.close()
        self._sock.close()
