"""`artfarm doctor` against the loopback double."""

from __future__ import annotations

import json

from artfarm.cli.main import main
from tests.bookbuilder import default_book
from tests.comfyui.double import ComfyDouble, Faults, recorded


def book_with(make_book, **models):
    book = default_book()
    book["models"] = models
    make_book(book=book)
    return "testbook"


def doctor(capsys, *args):
    code = main(["doctor", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_all_well_exits_zero_with_json(double, make_book, capsys):
    server = double()
    book = book_with(make_book, draft_checkpoint="tiny-sd15-taesd.safetensors",
                     final_checkpoint="tiny-sd15-kl.safetensors", upscale_model="tiny-esrgan-x2.safetensors")
    code, out, _ = doctor(capsys, book, "--comfyui-url", server.url, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True
    (srv,) = report["servers"]
    assert srv["comfyui_version"] == "0.3.75" and srv["devices"][0]["type"] == "cpu"
    assert [t["template"] for t in srv["templates"]] == ["workflows/draft.json", "workflows/refine.json",
                                                         "workflows/inpaint.json", "workflows/upscale_print.json"]
    assert all(p["ok"] for p in srv["pins"]) and len(srv["pins"]) == 3


def test_a_pinned_model_the_server_lacks_fails(double, make_book, capsys):
    server = double()
    book = book_with(make_book, draft_checkpoint="sdxl-turbo.safetensors", final_checkpoint="tiny-sd15-kl.safetensors",
                     upscale_model="tiny-esrgan-x2.safetensors")
    code, out, _ = doctor(capsys, book, "--comfyui-url", server.url)
    assert code == 3
    assert "models.draft_checkpoint = sdxl-turbo.safetensors: PROBLEM" in out
    assert "the server has: tiny-sd15-kl.safetensors, tiny-sd15-taesd.safetensors" in out


def test_unset_pins_are_a_book_problem(double, make_book, capsys):
    server = double()
    code, out, _ = doctor(capsys, book_with(make_book), "--comfyui-url", server.url)
    assert code == 2 and "not pinned: set models.draft_checkpoint" in out


def test_unreachable_server_exits_three(capsys):
    code, out, _ = doctor(capsys, "--comfyui-url", "http://127.0.0.1:9", "--json")
    report = json.loads(out)
    assert code == 3 and report["servers"][0]["reachable"] is False
    assert "start ComfyUI" in report["servers"][0]["error"]


def test_a_template_the_server_cannot_run_fails(capsys):
    info = {k: v for k, v in recorded("object_info.json").items() if k != "UpscaleModelLoader"}
    with ComfyDouble(Faults(), object_info=info) as server:
        code, out, _ = doctor(capsys, "--comfyui-url", server.url)
    assert code == 3
    assert "template workflows/upscale_print.json: 1 problem(s)" in out and "UpscaleModelLoader" in out


def test_url_comes_from_the_environment(double, monkeypatch, capsys):
    server = double()
    monkeypatch.setenv("ARTFARM_COMFYUI_URL", server.url)
    code, out, _ = doctor(capsys)
    assert code == 0 and server.url in out


def tiny_pins(make_book, vlm="qwen2.5vl:7b"):
    return book_with(make_book, draft_checkpoint="tiny-sd15-taesd.safetensors", final_checkpoint="tiny-sd15-kl.safetensors",
                     upscale_model="tiny-esrgan-x2.safetensors", vlm=vlm)


def test_vlm_reviewer_checks_ollama_and_its_model(double, make_book, capsys):
    from tests.doubles.ollama_server import OllamaDouble

    server = double()
    book = tiny_pins(make_book)
    with OllamaDouble() as ollama:
        ollama.pull("qwen2.5vl:7b")
        code, out, _ = doctor(capsys, book, "--comfyui-url", server.url, "--ollama-url", ollama.url, "--json")
    report = json.loads(out)
    assert code == 0 and report["vision_reviewer"]["pulled"] is True and report["vision_reviewer"]["ok"] is True


def test_vision_model_not_pulled_says_how_to_pull_it(double, make_book, capsys):
    from tests.doubles.ollama_server import OllamaDouble

    server = double()
    book = tiny_pins(make_book)
    with OllamaDouble() as ollama:
        code, out, _ = doctor(capsys, book, "--comfyui-url", server.url, "--ollama-url", ollama.url)
    assert code == 3
    assert "ollama pull qwen2.5vl:7b" in out


def test_ollama_is_only_checked_when_reviews_use_it(double, make_book, capsys, monkeypatch):
    server = double()
    book = tiny_pins(make_book)
    code, out, _ = doctor(capsys, book, "--comfyui-url", server.url, "--json")
    assert code == 0 and json.loads(out)["vision_reviewer"] is None
    monkeypatch.setenv("ARTFARM_OLLAMA_URL", "http://127.0.0.1:9")
    code, out, _ = doctor(capsys, book, "--comfyui-url", server.url, "--reviewer", "vlm", "--json")
    report = json.loads(out)
    assert code == 3 and report["vision_reviewer"]["reachable"] is False


def test_doctor_says_which_urls_share_a_device(double, capsys):
    one, two = double(), double()  # one host, the same device name and memory
    other_host = two.url.replace("127.0.0.1", "localhost")
    code, out, _ = doctor(capsys, "--comfyui-url", one.url, "--comfyui-url", two.url, "--comfyui-url", other_host, "--json")
    shared = {s["url"]: s["shares_device_with"] for s in json.loads(out)["servers"]}
    assert shared == {one.url: [two.url], two.url: [one.url], other_host: []}
    _, text, _ = doctor(capsys, "--comfyui-url", one.url, "--comfyui-url", two.url)
    assert f"shares its device with {two.url}" in text
