"""The test-wide network guard refuses anything but loopback, loudly."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkAccessError


def test_connecting_outside_the_machine_fails_at_once() -> None:
    with socket.socket() as sock, pytest.raises(NetworkAccessError, match="only loopback"):
        sock.connect(("93.184.216.34", 443))


def test_resolving_a_public_name_fails_at_once() -> None:
    with pytest.raises(NetworkAccessError, match=r"huggingface\.co"):
        socket.getaddrinfo("huggingface.co", 443)


def test_loopback_still_works() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()):
            pass
