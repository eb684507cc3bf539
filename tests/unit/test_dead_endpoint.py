"""A model endpoint that cannot be reached ends eval, batch and summarize runs at the first letter.

Real HTTP on 127.0.0.1 only: a port nothing listens on, and a tiny OpenAI-compatible server
that answers (badly or well) so a run can prove the endpoint exists. Backoff is zeroed so the
transport's retries cost milliseconds.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import imr_llm.batch
import imr_llm.eval_cli
from imr_llm.batch import EndpointWatch
from imr_llm.cli import main
from imr_llm.errors import EndpointUnreachableError
from tests.helpers import EVAL_LETTERS, GOLD, labeled_subset

MODEL = ["--backend", "llm", "--model", "tiny", "--no-cache", "--reasks", "0"]


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Transport retries without waiting between attempts."""
    monkeypatch.setattr("imr_llm.llm.transport.backoff_seconds", lambda *a, **k: 0.0)


@pytest.fixture
def dead_url() -> str:
    """A loopback URL whose port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


class Endpoint(ThreadingHTTPServer):
    """An OpenAI-compatible server on 127.0.0.1: one model, chat answers from a script.

    Each chat request takes the next status of `script` (then 200 forever); a 200 carries the
    content "{}", which never validates (the letter falls back to its own values).
    """

    daemon_threads = True

    def __init__(self, script: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = list(script)
        self.chats = 0
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"

    def close(self) -> None:
        """Stop answering and close the port: connections are refused from now on."""
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Endpoint

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [
            {"id": "tiny", "object": "model", "created": 0, "owned_by": "test"}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.chats += 1
        code = self.server.script.pop(0) if self.server.script else 200
        if code != 200:
            self._send(code, {"error": {"message": "scripted failure"}})
            return
        self._send(200, {
            "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "tiny",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "{}"}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}})


@pytest.fixture
def endpoint() -> Iterator[Callable[[list[int]], Endpoint]]:
    """Starts Endpoints with a chat script; every one is closed at the end."""
    started: list[Endpoint] = []

    def start(script: list[int]) -> Endpoint:
        server = Endpoint(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.socket.fileno() != -1:
            server.close()


@pytest.fixture
def labeled(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """Three labeled letters with their gold: (letters folder, gold folder, stems)."""
    stems = [g.stem for g in sorted(GOLD.glob("CM*.json"))[:3]]
    letters, gold = labeled_subset(tmp_path, stems)
    return letters, gold, stems


def count_predictions(monkeypatch: pytest.MonkeyPatch,
                      after_first: Callable[[], None] | None = None) -> list[Path]:
    """The letters the eval asks its backend for, in order; `after_first` runs after the first."""
    real = imr_llm.eval_cli.predictor
    asked: list[Path] = []

    def predictor(settings: Any, *, replay: bool) -> Callable[[Path], dict[str, Any]]:
        predict = real(settings, replay=replay)

        def counted(path: Path) -> dict[str, Any]:
            asked.append(path)
            try:
                return predict(path)
            finally:
                if len(asked) == 1 and after_first is not None:
                    after_first()

        return counted

    monkeypatch.setattr(imr_llm.eval_cli, "predictor", predictor)
    return asked


def count_letters(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The letters summarize and batch runs read, in order."""
    real = imr_llm.batch.summarize_with_text
    read: list[str] = []

    def counted(path: str, settings: Any, **kw: Any) -> tuple[dict[str, Any], str | None]:
        read.append(path)
        return real(path, settings, **kw)

    monkeypatch.setattr(imr_llm.batch, "summarize_with_text", counted)
    return read


def one_line(err: str) -> str:
    line = err.strip()
    assert line and "\n" not in line and "Traceback" not in line
    return line


def test_eval_against_a_dead_endpoint_stops_at_the_first_letter(
    labeled, dead_url, tmp_path, monkeypatch, capsys
):
    """Nothing listens: one line naming the URL and the fix, exit 2, one letter tried, no files."""
    letters, gold, _ = labeled
    asked = count_predictions(monkeypatch)
    out = tmp_path / "run"
    code = main(["eval", *MODEL, "--base-url", dead_url, "--letters", str(letters),
                 "--gold", str(gold), "--out", str(out)])
    assert code == 2
    assert one_line(capsys.readouterr().err) == (
        f"imr-llm: error: cannot reach the model at {dead_url} (connection refused): "
        "start the server or fix --base-url")
    assert len(asked) == 1
    assert not out.exists()


def test_eval_with_a_live_endpoint_keeps_one_failing_letter_as_its_error(
    labeled, endpoint, tmp_path, monkeypatch
):
    """The server is up and fails the second letter (HTTP 500): that letter is an error record,
    the others are scored, exit 0 as before."""
    letters, gold, stems = labeled
    server = endpoint([200, 500, 500, 500, 500])  # letter 2: every transport attempt fails
    asked = count_predictions(monkeypatch)
    out = tmp_path / "run"
    code = main(["eval", *MODEL, "--base-url", server.url, "--letters", str(letters),
                 "--gold", str(gold), "--out", str(out)])
    assert code == 0
    run = json.loads((out / "run.json").read_text())
    errors = {stem: rec.get("error", {}).get("type") for stem, rec in run["letters"].items()}
    assert errors == {stems[0]: None, stems[1]: "ModelCallError", stems[2]: None}
    assert len(asked) == 3 and server.chats == 6


def test_eval_endpoint_gone_after_an_answer_is_a_per_letter_error(
    labeled, endpoint, tmp_path, monkeypatch
):
    """The server answered the first letter, then went away: the rest are per-letter errors,
    not a run-level stop (the endpoint was right; the server died mid-run)."""
    letters, gold, stems = labeled
    server = endpoint([])
    asked = count_predictions(monkeypatch, after_first=server.close)
    out = tmp_path / "run"
    code = main(["eval", *MODEL, "--base-url", server.url, "--letters", str(letters),
                 "--gold", str(gold), "--out", str(out)])
    assert code == 0
    run = json.loads((out / "run.json").read_text())
    errors = [run["letters"][s].get("error", {}).get("type") for s in stems]
    assert errors == [None, "EndpointUnreachableError", "EndpointUnreachableError"]
    assert len(asked) == 3


def test_batch_against_a_dead_endpoint_stops_and_records_nothing(
    dead_url, tmp_path, monkeypatch, capsys
):
    """summarize --out: one line, exit 2, one letter tried, and no error records written (the
    same command runs every letter once the server is up)."""
    read = count_letters(monkeypatch)
    paths = [str(p) for p in sorted(EVAL_LETTERS.glob("CM*.txt"))[:3]]
    results = tmp_path / "results.jsonl"
    code = main(["summarize", *paths, *MODEL, "--base-url", dead_url, "--out", str(results),
                 "--concurrency", "1"])
    assert code == 2
    assert one_line(capsys.readouterr().err).startswith(
        f"imr-llm: error: cannot reach the model at {dead_url} (connection refused)")
    assert len(read) == 1
    assert results.read_text() == ""


def test_summarize_many_letters_against_a_dead_endpoint_stops_at_the_first(
    dead_url, monkeypatch, capsys
):
    """summarize without --out: one line on stderr, nothing on stdout, exit 2, one letter tried."""
    read = count_letters(monkeypatch)
    paths = [str(p) for p in sorted(EVAL_LETTERS.glob("CM*.txt"))[:3]]
    code = main(["summarize", *paths, *MODEL, "--base-url", dead_url, "--format", "json"])
    assert code == 2
    captured = capsys.readouterr()
    assert one_line(captured.err).startswith("imr-llm: error: cannot reach the model at")
    assert captured.out == ""
    assert len(read) == 1


def test_watch_stops_only_before_the_endpoint_has_answered() -> None:
    """Unreachable before any answer raises; other errors, cache hits and unreachable records
    after an answered call pass."""
    unreachable = {"error": {"type": "EndpointUnreachableError", "message": "cannot reach"}}
    other = {"error": {"type": "ModelCallError", "message": "HTTP 500"}}
    cache_hit = {"outcome": "upheld", "meta": {"usage": {"calls": 0}}}
    answered = {"outcome": "upheld", "meta": {"usage": {"calls": 1}}}
    watch = EndpointWatch()
    for rec in (other, cache_hit):
        watch.check(rec)
    with pytest.raises(EndpointUnreachableError, match="cannot reach"):
        watch.check(unreachable)
    watch.check(answered)
    watch.check(unreachable)  # the endpoint exists: this letter's own error
