"""Tests for pdqa.llm and the LLM path of QA and the CLI: backends, fallback, --strict, flags."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from pdqa.cli import cli
from pdqa.errors import BackendUnavailable, LLMFallbackWarning
from pdqa.llm import LOCAL_LLM_HINT, PLACEHOLDER_KEY, make_llm, uses_chat
from pdqa.qa import QA
from pdqa.settings import LLMSettings, Settings

QUESTION = "Who wrote the Innovation in Action report?"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unreachable(settings: Settings, **extra) -> Settings:
    config = LLMSettings(
        backend="openai-like", base_url=f"http://127.0.0.1:{closed_port()}/v1", model="m",
        timeout_s=2, max_retries=0, **extra,
    )
    return settings.model_copy(update={"llm": config})


def invoke(args, settings, obj=None, **env):
    variables = {name: None for name in os.environ if name.startswith("PDQA_")}
    variables.update(PDQA_CORPUS_DIR=str(settings.corpus_dir), PDQA_INDEX_DIR=str(settings.index_dir), **env)
    return CliRunner().invoke(cli, args, env=variables, prog_name="pdqa", obj=obj)


# ---------------------------------------------------------------- settings and the factory


def test_llm_settings_default_to_no_llm_and_temperature_zero():
    config = Settings().llm
    assert config.backend == "none"
    assert config.temperature == 0


def test_every_llm_setting_has_a_description():
    assert all(field.description for field in LLMSettings.model_fields.values())


def test_llm_settings_come_from_nested_environment_variables(monkeypatch):
    monkeypatch.setenv("PDQA_LLM__BACKEND", "ollama")
    monkeypatch.setenv("PDQA_LLM__MODEL", "llama3.2")
    monkeypatch.setenv("PDQA_LLM__STOP", '["\\n"]')
    config = Settings().llm
    assert (config.backend, config.model, config.stop) == ("ollama", "llama3.2", ["\n"])


def test_openai_like_takes_its_key_from_the_named_environment_variable(monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", "sk-test-123")
    config = LLMSettings(backend="openai-like", model="m", base_url="http://127.0.0.1:1/v1",
                         api_key_env="MY_LLM_KEY", timeout_s=7, max_retries=2, max_tokens=33, stop=["\n"])
    llm = make_llm(config)
    assert type(llm).__name__ == "OpenAILike"
    assert (llm.api_key, llm.api_base, llm.model) == ("sk-test-123", "http://127.0.0.1:1/v1", "m")
    assert (llm.timeout, llm.max_retries, llm.max_tokens, llm.temperature) == (7, 2, 33, 0)
    assert llm.additional_kwargs == {"stop": ["\n"]}


def test_openai_like_without_a_key_uses_a_placeholder_for_local_servers(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert make_llm(LLMSettings(backend="openai-like", model="m")).api_key == PLACEHOLDER_KEY


def test_ollama_backend_is_built_with_its_settings():
    llm = make_llm(LLMSettings(backend="ollama", model="llama3.2", timeout_s=9, max_tokens=50))
    assert type(llm).__name__ == "Ollama"
    assert (llm.model, llm.base_url, llm.request_timeout) == ("llama3.2", "http://localhost:11434", 9)
    assert llm.additional_kwargs["num_predict"] == 50


@pytest.mark.parametrize("backend", ["openai-like", "ollama"])
def test_a_server_backend_without_a_model_name_is_refused(backend):
    with pytest.raises(BackendUnavailable, match="needs a model name"):
        make_llm(LLMSettings(backend=backend))


def test_llama_cpp_without_its_extra_names_the_extra_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "llama_index.llms.llama_cpp", None)  # as if not installed
    with pytest.raises(BackendUnavailable) as caught:
        make_llm(LLMSettings(backend="llama-cpp", model_path=tmp_path / "m.gguf"))
    assert caught.value.hint == LOCAL_LLM_HINT == "pip install 'pdqa[local-llm]'"


def test_importing_the_llm_modules_does_not_import_llama_index():
    code = "import sys, pdqa.llm, pdqa.generate, pdqa.verify; print('llama_index' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- unreachable server


def test_unreachable_server_warns_and_answers_extractively(built_settings, qa):
    with pytest.warns(LLMFallbackWarning, match="did not answer") as caught:
        answer = QA(unreachable(built_settings)).ask(QUESTION)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert answer.mode == "extractive-fallback"
    assert answer.answer == qa.ask(QUESTION).answer
    assert answer.llm is not None and answer.llm.backend == "openai-like"
    assert answer.raw_answer is None


def test_unreachable_server_with_strict_raises(built_settings):
    with warnings.catch_warnings():
        warnings.simplefilter("error", LLMFallbackWarning)  # strict must raise, not warn
        with pytest.raises(BackendUnavailable, match="did not answer"):
            QA(unreachable(built_settings, strict=True)).ask(QUESTION)


def test_cli_unreachable_server_prints_one_warning_line_and_the_answer(built_settings):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = invoke(["ask", "--json", "--llm", "openai-like", "--base-url", url, "--model", "m", QUESTION],
                    built_settings, PDQA_LLM__TIMEOUT_S="2", PDQA_LLM__MAX_RETRIES="0")
    assert result.exit_code == 0, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("Warning: LLM openai-like m at " + url) and "answering without the LLM" in line
    assert json.loads(result.stdout)["mode"] == "extractive-fallback"


def test_cli_strict_unreachable_server_is_a_one_line_error(built_settings):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = invoke(["ask", "--llm", "openai-like", "--base-url", url, "--model", "m", "--strict", QUESTION],
                    built_settings, PDQA_LLM__TIMEOUT_S="2", PDQA_LLM__MAX_RETRIES="0")
    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: LLM openai-like m at ") and "(hint: " in line
    assert "Traceback" not in result.output


def test_cli_llama_cpp_without_extra_is_a_one_line_error(built_settings, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "llama_index.llms.llama_cpp", None)
    result = invoke(["ask", "--llm", "llama-cpp", QUESTION], built_settings,
                    PDQA_LLM__MODEL_PATH=str(tmp_path / "m.gguf"))
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert "pip install 'pdqa[local-llm]'" in line


# ---------------------------------------------------------------- CLI flags with a fake LLM injected


@pytest.fixture
def factory(scripted_llm, qa):
    """An llm_factory for ``cli(obj=...)`` that records the settings it got and returns a fake."""
    hits = qa.retrieve(QUESTION)
    n = next(i for i, h in enumerate(hits, start=1) if "Lisa Wilson" in h.text)
    reply = f"The report was written by Dr Lisa Wilson and Dr Rex Haigh [{n}]. It cost 5 pounds [{n}]."
    seen = []

    def make(config):
        seen.append(config)
        return scripted_llm(reply)

    make.seen = seen
    return make


def test_cli_flags_override_settings_and_reach_the_backend(built_settings, factory):
    args = ["ask", "--json", "--llm", "openai-like", "--base-url", "http://h:1/v1", "--model", "tiny", "--strict", QUESTION]
    result = invoke(args, built_settings, obj={"llm_factory": factory}, PDQA_LLM__MODEL="other", PDQA_LLM__BACKEND="ollama")
    assert result.exit_code == 0, result.output
    [config] = factory.seen
    assert (config.backend, config.base_url, config.model, config.strict) == ("openai-like", "http://h:1/v1", "tiny", True)
    data = json.loads(result.stdout)
    assert data["mode"] == "llm"
    assert data["llm"] == {"backend": "openai-like", "model": "tiny"}
    assert data["raw_answer"].startswith("The report was written by Dr Lisa Wilson")
    assert data["answer"] == "The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]"
    assert data["removed"] == [{"sentence": "It cost 5 pounds.", "reason": "number '5' is not in the cited passage(s)"}]


def test_cli_settings_alone_select_the_backend(built_settings, factory):
    result = invoke(["ask", "--json", QUESTION], built_settings, obj={"llm_factory": factory},
                    PDQA_LLM__BACKEND="ollama", PDQA_LLM__MODEL="llama3.2")
    assert result.exit_code == 0, result.output
    assert [(c.backend, c.model) for c in factory.seen] == [("ollama", "llama3.2")]
    assert json.loads(result.stdout)["mode"] == "llm"


def test_cli_show_removed_lists_dropped_sentences_with_reasons(built_settings, factory):
    args = ["ask", "--llm", "openai-like", "--model", "tiny", "--show-removed", QUESTION]
    result = invoke(args, built_settings, obj={"llm_factory": factory})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]"
    at = lines.index("Removed by verification")
    assert lines[at + 1 : at + 3] == ["- It cost 5 pounds.", "    number '5' is not in the cited passage(s)"]


def test_cli_without_show_removed_hides_dropped_sentences(built_settings, factory):
    result = invoke(["ask", "--llm", "openai-like", "--model", "tiny", QUESTION], built_settings,
                    obj={"llm_factory": factory})
    assert result.exit_code == 0
    assert "It cost 5 pounds" not in result.stdout


def test_cli_without_llm_never_calls_the_factory(built_settings, factory):
    result = invoke(["ask", "--json", QUESTION], built_settings, obj={"llm_factory": factory})
    assert result.exit_code == 0
    assert factory.seen == []
    assert json.loads(result.stdout)["mode"] == "extractive"


# ---------------------------------------------------------------- Ctrl-C while the model is silent


@pytest.fixture
def silent_server():
    """A loopback server that accepts connections and never answers; yields its /v1 URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []

    def accept():
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:  # the listener was closed: the test is over
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    listener.close()
    for connection in held:
        connection.close()


def read_until(fd: int, text: str, seconds: float) -> str:
    """What a pty shows until ``text`` appears (or time runs out)."""
    seen, deadline = "", time.monotonic() + seconds
    while text not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            seen += os.read(fd, 4096).decode("utf-8", errors="replace")
    return seen


def test_ctrl_c_while_waiting_for_the_llm_stops_pdqa_with_130(built_settings, silent_server):
    # A real SIGINT to a real process, with stderr on a terminal (a pty) so the wait is shown.
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PDQA_")}, "TERM": "xterm", "COLUMNS": "200",
           "PDQA_CORPUS_DIR": str(built_settings.corpus_dir), "PDQA_INDEX_DIR": str(built_settings.index_dir)}
    command = [str(Path(sys.executable).parent / "pdqa"), "ask", "--llm", "openai-like", "--base-url", silent_server,
               "--model", "m", QUESTION]
    terminal, child_side = pty.openpty()
    # A shell starts background jobs (CI) with SIGINT ignored, and Python keeps it so; a user's
    # Ctrl-C reaches pdqa with the default disposition, so the child gets that.
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=child_side, stdin=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(child_side)
    try:
        shown = read_until(terminal, "0:00:02", 90)  # two seconds into the wait
        assert f"waiting for LLM openai-like m at {silent_server}" in shown, shown
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        shown += read_until(terminal, "\n", 2)
    finally:
        proc.kill()
        os.close(terminal)
    assert proc.returncode == 130
    # Not swallowed: no timeout warning, no extractive answer in its place.
    assert out == b""
    assert "timed out" not in shown and "answering without the LLM" not in shown


# ---------------------------------------------------------------- streaming


def authors_reply(qa) -> tuple[int, list[str]]:
    """The passage number of the authors' sentence, and a reply in pieces: kept, removed, kept."""
    hits = qa.retrieve(QUESTION)
    n = next(i for i, h in enumerate(hits, start=1) if "Lisa Wilson" in h.text)
    pieces = [f"The report was written by Dr Lisa Wilson ", f"and Dr Rex Haigh [{n}]. ", "It cost 5 pounds ",
              f"[{n}]. Dr Lisa Wilson and Dr Rex Haigh wrote the ", f"Innovation in Action report [{n}].", ""]
    return n, pieces


def test_ask_stream_yields_each_verified_sentence_while_the_model_is_still_writing(built_settings, scripted_llm, qa):
    _, pieces = authors_reply(qa)
    llm = scripted_llm(pieces)
    events = [(event, len(llm.streamed)) for event in QA(built_settings, llm=llm).ask_stream(QUESTION)]
    kinds = [type(event).__name__ for event, _ in events]
    assert kinds == ["Waiting", "Sentence", "Sentence", "Done"]
    (first, pieces_read), (second, _) = events[1], events[2]
    assert pieces_read < len(pieces)  # told before the model had finished
    answer = events[-1][0].answer
    assert answer.mode == "llm"
    assert answer.answer == f"{first.text} {second.text}"
    assert first.text == "The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]"
    assert [c.n for c in first.citations] == [1] and first.citations == answer.citations[:1]
    assert "5 pounds" not in first.text + second.text
    assert [r.sentence for r in answer.removed] == ["It cost 5 pounds."]
    assert events[0][0].llm == "ScriptedLLM"


def test_ask_returns_what_the_stream_ends_with(built_settings, scripted_llm, qa):
    _, pieces = authors_reply(qa)
    streamed = list(QA(built_settings, llm=scripted_llm(pieces)).ask_stream(QUESTION))[-1].answer
    asked = QA(built_settings, llm=scripted_llm("".join(pieces))).ask(QUESTION)
    assert asked.model_dump(exclude={"timings_ms"}) == streamed.model_dump(exclude={"timings_ms"})


def test_ask_stream_without_an_llm_yields_only_the_answer(qa):
    [done] = list(qa.ask_stream(QUESTION))
    assert done.answer == qa.ask(QUESTION).model_copy(update={"timings_ms": done.answer.timings_ms})


def test_cli_stream_prints_sentences_then_sources_and_removed_ones_last(built_settings, scripted_llm, qa):
    _, pieces = authors_reply(qa)
    args = ["ask", "--llm", "openai-like", "--model", "tiny", "--stream", "--show-removed", QUESTION]
    result = invoke(args, built_settings, obj={"llm_factory": lambda config: scripted_llm(pieces)})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]"
    assert lines[1] == "Dr Lisa Wilson and Dr Rex Haigh wrote the Innovation in Action report. [1]"
    assert lines[3] == "Sources" and lines[4].startswith("[1] ")
    at = lines.index("Removed by verification")
    assert lines[at + 1] == "- It cost 5 pounds." and lines.index("Sources") < at
    assert result.stdout.count("It cost 5 pounds") == 1


def test_cli_stream_with_nothing_verified_prints_the_fallback_answer(built_settings, scripted_llm, qa):
    args = ["ask", "--llm", "openai-like", "--model", "tiny", "--stream", QUESTION]
    result = invoke(args, built_settings, obj={"llm_factory": lambda config: scripted_llm("Dr John Smith wrote it.")})
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == qa.ask(QUESTION).answer
    assert "John Smith" not in result.stdout


# ---------------------------------------------------------------- the ollama backend against a stub


@pytest.fixture
def ollama_stub():
    """A loopback server speaking Ollama's streaming /api/chat; ``.reply`` in pieces, ``.requests`` seen."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.requests.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            for piece in server.reply:
                message = {"role": "assistant", "content": piece}
                self.wfile.write(json.dumps({"model": body["model"], "message": message, "done": False}).encode() + b"\n")
            end = {"model": body["model"], "message": {"role": "assistant", "content": ""}, "done": True,
                   "done_reason": "stop", "prompt_eval_count": 1, "eval_count": len(server.reply)}
            self.wfile.write(json.dumps(end).encode() + b"\n")

        def log_message(self, *args):  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests, server.reply = [], []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_ollama_backend_asks_through_api_chat_and_its_reply_is_verified(built_settings, ollama_stub, qa):
    n, pieces = authors_reply(qa)
    ollama_stub.reply = pieces
    config = LLMSettings(backend="ollama", model="llama3.2", base_url=f"http://127.0.0.1:{ollama_stub.server_port}",
                         max_tokens=77, timeout_s=10)
    answer = QA(built_settings.model_copy(update={"llm": config})).ask(QUESTION)
    assert answer.mode == "llm" and answer.llm.backend == "ollama"
    assert answer.answer.startswith("The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]")
    assert [r.sentence for r in answer.removed] == ["It cost 5 pounds."]
    [(path, body)] = ollama_stub.requests
    assert path == "/api/chat" and body["model"] == "llama3.2" and body["stream"] is True
    assert body["options"]["num_predict"] == 77 and body["options"]["temperature"] == 0
    system, *example, user = body["messages"]
    assert [m["role"] for m in example] == ["user", "assistant"]
    assert system["role"] == "system" and system["content"].startswith("Answer the question using only")
    assert user["role"] == "user" and user["content"].endswith(f"Question: {QUESTION}")
    assert f'<passage n="{n}"' in user["content"]


@pytest.mark.parametrize(
    ("backend", "api", "chat"),
    [("openai-like", "auto", True), ("ollama", "auto", True), ("llama-cpp", "auto", False),
     ("openai-like", "completion", False), ("llama-cpp", "chat", True)],
)
def test_the_api_defaults_to_chat_for_servers_and_completion_for_a_gguf(backend, api, chat):
    assert uses_chat(LLMSettings(backend=backend, api=api)) is chat


def test_an_openai_like_base_model_is_asked_through_the_completion_endpoint():
    assert make_llm(LLMSettings(backend="openai-like", model="m", api="completion")).is_chat_model is False
    assert make_llm(LLMSettings(backend="openai-like", model="m")).is_chat_model is True
