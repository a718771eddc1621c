"""Fixtures for the ComfyUI tests: the loopback double and clients tuned for fast failure."""

from __future__ import annotations

import pytest

from artfarm.comfyui.client import ComfyClient, RetryPolicy, Timeouts
from tests.comfyui.double import ComfyDouble, Faults

FAST_RETRY = RetryPolicy(attempts=3, backoff=0.05, factor=2.0)
FAST_TIMEOUTS = Timeouts(connect=2.0, http=5.0, run=20.0, poll=0.1)


@pytest.fixture
def double():
    """``double(**faults)`` starts a ComfyUI double on 127.0.0.1; all are stopped after the test."""
    started: list[ComfyDouble] = []

    def start(**faults) -> ComfyDouble:
        server = ComfyDouble(Faults(**faults))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def client_for():
    clients: list[ComfyClient] = []

    def make(url: str, **kwargs) -> ComfyClient:
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("timeouts", FAST_TIMEOUTS)
        client = ComfyClient(url, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
