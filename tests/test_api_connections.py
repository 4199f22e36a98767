"""Idle and slow clients cost the API nothing: many silent or trickling sockets stay open while
ordinary requests keep answering quickly, and the silent ones are closed after the keep-alive."""
from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

IDLE_SOCKETS, SLOW_SOCKETS = 40, 20


def _address(base_url: str) -> tuple[str, int]:
    host, port = base_url.removeprefix("http://").split(":")
    return host, int(port)


def _trickle(sock: socket.socket, stop: threading.Event) -> None:
    """A slowloris client: a request line, then one header byte every 0.3 s, never finishing."""
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        while not stop.wait(0.3):
            sock.sendall(b"X")
    except OSError:
        pass  # the server closed it: allowed, it owes a trickling client nothing


@pytest.fixture
def hostile_sockets(stack):
    address = _address(stack["base_url"])
    idle = [socket.create_connection(address, timeout=30) for _ in range(IDLE_SOCKETS)]
    slow = [socket.create_connection(address, timeout=30) for _ in range(SLOW_SOCKETS)]
    stop = threading.Event()
    threads = [threading.Thread(target=_trickle, args=(sock, stop), daemon=True) for sock in slow]
    for thread in threads:
        thread.start()
    yield idle
    stop.set()
    for sock in idle + slow:
        sock.close()


def test_ordinary_requests_answer_quickly_while_idle_and_slow_sockets_are_open(
        stack, api, hostile_sockets):
    timings = []
    for _ in range(20):
        started = time.monotonic()
        assert requests.get(stack["base_url"] + "/healthz", timeout=5).status_code == 200
        assert api.request("GET", "/api/v1/training/jobs").status_code == 200
        timings.append(time.monotonic() - started)
    assert max(timings) < 2.0, timings


def test_a_silent_connection_is_closed_after_the_keepalive(stack, settings, hostile_sockets):
    sock = hostile_sockets[0]
    started = time.monotonic()
    assert sock.recv(1) == b""  # EOF: the server hung up on a client that never spoke
    waited = time.monotonic() - started
    assert waited <= settings.api_keepalive_seconds + 3, waited
