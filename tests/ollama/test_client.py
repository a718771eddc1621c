"""The Ollama client speaks the real routes and turns every failure into an exit-3 error with a fix."""

from __future__ import annotations

import socket

import httpx
import pytest

from artfarm.ollama import (ChatMessage, ChatRequest, OllamaClient, OllamaModelMissing, OllamaRefused, OllamaTimeout,
                            OllamaUnreachable, check_ollama)
from artfarm.ollama.client import OllamaTimeouts
from artfarm.settings import resolve_settings
from tests.doubles.fixtures import FAST, MODEL
from tests.doubles.ollama_server import DIGEST, Reply


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chat_sends_the_documented_body_and_reads_the_answer(ollama, client):
    ollama.push('{"ok": true}')
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    request = ChatRequest(model=MODEL, messages=[ChatMessage(role="user", content="hi", images=["aGk="])], format=schema)
    answer = client.chat(request)
    assert answer.message.content == '{"ok": true}'
    body = ollama.chats()[0]
    assert body == {"model": MODEL, "messages": [{"role": "user", "content": "hi", "images": ["aGk="]}],
                    "format": schema, "options": {"temperature": 0.0, "seed": 42}, "keep_alive": "10m", "stream": False}


def test_tags_find_model_with_digest_and_latest_tag_rule(ollama, client):
    ollama.pull("llava")
    assert client.require_model(MODEL).digest == DIGEST
    assert client.require_model("llava:latest").name == "llava"


def test_model_not_pulled_names_ollama_pull(client):
    with pytest.raises(OllamaModelMissing) as err:
        client.require_model("llama3.2-vision:11b")
    assert err.value.exit_code == 3
    assert "ollama pull llama3.2-vision:11b" in str(err.value)
    assert MODEL in str(err.value)  # says what is pulled


def test_chat_with_unpulled_model_is_model_missing(client):
    with pytest.raises(OllamaModelMissing) as err:
        client.chat(ChatRequest(model="nope:1b", messages=[ChatMessage(role="user", content="x")]))
    assert "ollama pull nope:1b" in err.value.fix


def test_unreachable_server_is_exit_3_with_the_url():
    url = f"http://127.0.0.1:{free_port()}"
    with OllamaClient(url, timeouts=FAST) as c, pytest.raises(OllamaUnreachable) as err:
        c.tags()
    assert err.value.exit_code == 3 and url in str(err.value)
    assert "--ollama-url" in err.value.fix
    assert isinstance(err.value.__cause__, httpx.TransportError)


def test_slow_answer_is_a_timeout(ollama, client):
    ollama.push(Reply(content="{}", delay=1.5))
    with pytest.raises(OllamaTimeout) as err:
        client.chat(ChatRequest(model=MODEL, messages=[ChatMessage(role="user", content="x")]))
    assert err.value.exit_code == 3 and "--review-fallback heuristic" in err.value.fix


def test_server_error_keeps_status_and_body(ollama, client):
    ollama.push(Reply(status=500, error="llama runner process has terminated"))
    with pytest.raises(OllamaRefused) as err:
        client.chat(ChatRequest(model=MODEL, messages=[ChatMessage(role="user", content="x")]))
    assert err.value.status == 500 and "llama runner" in str(err.value)


def test_a_body_that_is_not_ollamas_is_refused(ollama, client):
    ollama.push(Reply(raw_body='{"unexpected": 1}'))
    with pytest.raises(OllamaRefused, match="not what its API documents"):
        client.chat(ChatRequest(model=MODEL, messages=[ChatMessage(role="user", content="x")]))


def test_mock_transport_is_the_seam():
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/tags"
        return httpx.Response(200, json={"models": [{"name": "m:1", "digest": "abc"}]})

    with OllamaClient("http://ollama.invalid:11434", transport=httpx.MockTransport(handler)) as c:
        assert c.require_model("m:1").digest == "abc"


def test_check_ollama_reports_ok_with_digest(ollama):
    settings = resolve_settings(flags={"ollama_url": ollama.url})
    report = check_ollama(settings, MODEL)
    assert report.ok and report.reachable and report.pulled and report.vision
    assert report.digest == DIGEST and report.version


def test_check_ollama_reports_missing_model_and_non_vision(ollama):
    settings = resolve_settings(flags={"ollama_url": ollama.url})
    missing = check_ollama(settings, "other:7b")
    assert missing.reachable and not missing.pulled and not missing.ok
    assert "ollama pull other:7b" in missing.fix
    ollama.capabilities = ["completion"]
    blind = check_ollama(settings, MODEL)
    assert blind.pulled and blind.vision is False and not blind.ok


def test_check_ollama_reports_unreachable_without_raising():
    settings = resolve_settings(flags={"ollama_url": f"http://127.0.0.1:{free_port()}"})
    report = check_ollama(settings, MODEL, timeouts=OllamaTimeouts(connect=1, quick=1))
    assert not report.reachable and not report.ok and "ollama serve" in report.fix
