"""A real ComfyUI (CPU) killed in the middle of a page's draft and started again: the run finishes.
Also: a model pin the server does not have is bad input (exit 2). Select with ``-m comfyui_real``."""

from __future__ import annotations

import threading

import pytest

from artfarm.book.loader import load_book
from artfarm.cli.main import main
from artfarm.comfyui.client import ComfyClient, Timeouts
from artfarm.pipeline.engine import RunOptions, render_book
from artfarm.pipeline.progress import Reporter
from artfarm.render.comfyui import ComfyUIRenderer
from artfarm.review.heuristic import HeuristicReviewer
from artfarm.settings import resolve_settings
from tests.comfyui.conftest import load_server_script
from tests.pipeline_helpers import small_book_data, small_spec

pytestmark = [pytest.mark.comfyui_real, pytest.mark.timeout(900)]

CKPT = "tiny-sd15-taesd.safetensors"
PINS = {"draft_checkpoint": CKPT, "final_checkpoint": CKPT, "upscale_model": "tiny-esrgan-x2.safetensors"}


def real_book(make_book, **pins):
    book = small_book_data(pages=1)
    book["models"] = {**PINS, **pins}
    spec = small_spec(1)
    spec["overrides"]["draft"].update(count=1, steps=12, width=128, height=128)  # long enough to be killed in
    spec["overrides"].update(refine={"steps": 2}, upscale={"steps": 2})  # the rest quick on a shared CPU
    return make_book(book=book, specs={1: spec})


class KillDuringDraft(Reporter):
    """On the draft's first sampler step: kill the server (SIGKILL), and start it again on the same port."""

    def __init__(self, server, installation):
        super().__init__(tty=False)
        self.server, self.installation = server, installation
        self.killed = threading.Event()
        self.done = threading.Event()
        self.restarted: list = []
        self.restart_thread: threading.Thread | None = None

    def progress(self, event) -> None:
        if event.stage == "draft" and event.step and not self.killed.is_set():
            self.killed.set()
            self.server.process.kill()
            self.server.process.wait()
            self.restart_thread = threading.Thread(target=self._start_again)
            self.restart_thread.start()

    def _start_again(self) -> None:
        """The thread stays until the test is done: the server dies with the thread that started it (PDEATHSIG)."""
        port = int(self.server.url.rsplit(":", 1)[1])
        self.restarted.append(load_server_script().start_server(self.installation, self.server.run_dir, port=port))
        self.done.wait(timeout=600)


def test_a_server_restarted_mid_draft_costs_only_the_job_in_flight(comfyui_installation, make_book, tmp_path):
    script = load_server_script()
    server = script.start_server(comfyui_installation, tmp_path / "server")
    reporter = KillDuringDraft(server, comfyui_installation)
    book = load_book(real_book(make_book))
    renderer = ComfyUIRenderer([server.url], book.book.models,
                               client_factory=lambda url: ComfyClient(url, timeouts=Timeouts(run=300, restart=240)))
    try:
        summary = render_book(book, resolve_settings(book.book, {"renderer": "comfyui"}), RunOptions(jobs=1),
                              renderer=renderer, reviewer=HeuristicReviewer(), reporter=reporter)
    finally:
        renderer.close()
        for running in [server, *reporter.restarted]:
            running.stop()
        reporter.done.set()
        if reporter.restart_thread is not None:
            reporter.restart_thread.join(timeout=60)
    assert reporter.killed.is_set() and reporter.restarted, "the server was killed during the draft and started again"
    assert summary.exit_code == 0, summary.pages[0].error
    assert summary.pages[0].status == "done" and (book.root / "pages/0001/final/final.png").is_file()
    draft = (book.root / "pages/0001/draft/stage.json").read_text()
    assert '"server_lost"' in draft  # the record says the job was resubmitted


def test_a_pin_the_server_does_not_have_is_bad_input(real_comfyui, make_book, capsys):
    book = real_book(make_book, draft_checkpoint="no-such-model.safetensors")
    code = main(["render-book", str(book), "--renderer", "comfyui", "--comfyui-url", real_comfyui.url])
    said = capsys.readouterr()
    assert code == 2, said.out + said.err
    assert "no-such-model.safetensors" in said.out and "checkpoint" in said.out
