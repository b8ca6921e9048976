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
from conftest import with_scripted_llm

import pdqa.qa
from pdqa.cli import cli
from pdqa.errors import BackendUnavailable, LLMFallbackWarning
from pdqa.llm import (
    LOCAL_LLM_HINT,
    PLACEHOLDER_KEY,
    Backend,
    backend_names,
    make_backend,
    register_backend,
    remove_backend,
    uses_chat,
)
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
    return settings.changed(llm=config)


@pytest.fixture
def open_qa():
    """``open_qa(settings)``: a QA whose index is released (closed) when the test ends."""
    opened = []

    def make(settings: Settings) -> QA:
        opened.append(QA(settings))
        return opened[-1]

    yield make
    for qa in opened:
        qa.close()


def invoke(args, settings, **env):
    variables = {name: None for name in os.environ if name.startswith("PDQA_")}
    variables.update(PDQA_CORPUS__DIR=str(settings.corpus_dir), PDQA_INDEX__DIR=str(settings.index_dir), **env)
    return CliRunner().invoke(cli, args, env=variables, prog_name="pdqa")


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
    backend = make_backend(config)
    llm = backend.llm
    assert type(llm).__name__ == "OpenAILike"
    assert (llm.api_key, llm.api_base, llm.model) == ("sk-test-123", "http://127.0.0.1:1/v1", "m")
    # The client never retries by itself: pdqa retries (max_retries), the same way for every backend.
    assert (llm.timeout, llm.max_retries, llm.max_tokens, llm.temperature) == (7, 0, 33, 0)
    assert backend.settings == config and backend.settings.max_retries == 2
    assert llm.additional_kwargs == {"stop": ["\n"]}
    assert (backend.name, backend.model, backend.where, backend.chat) == ("openai-like", "m", "http://127.0.0.1:1/v1", True)
    assert backend.describe() == "openai-like m at http://127.0.0.1:1/v1"
    assert backend.info.model_dump() == {"backend": "openai-like", "model": "m"}


def test_openai_like_without_a_key_uses_a_placeholder_for_local_servers(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert make_backend(LLMSettings(backend="openai-like", model="m")).llm.api_key == PLACEHOLDER_KEY


def test_ollama_backend_is_built_with_its_settings():
    backend = make_backend(LLMSettings(backend="ollama", model="llama3.2", timeout_s=9, max_tokens=50))
    llm = backend.llm
    assert type(llm).__name__ == "Ollama"
    assert (llm.model, llm.base_url, llm.request_timeout) == ("llama3.2", "http://localhost:11434", 9)
    assert llm.additional_kwargs["num_predict"] == 50
    assert backend.describe() == "ollama llama3.2 at http://localhost:11434" and backend.chat


@pytest.mark.parametrize("backend", ["openai-like", "ollama"])
def test_a_server_backend_without_a_model_name_is_refused(backend):
    with pytest.raises(BackendUnavailable, match="needs a model name"):
        make_backend(LLMSettings(backend=backend))


def test_llama_cpp_without_its_extra_names_the_extra_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "llama_index.llms.llama_cpp", None)  # as if not installed
    with pytest.raises(BackendUnavailable) as caught:
        make_backend(LLMSettings(backend="llama-cpp", model_path=tmp_path / "m.gguf"))
    assert caught.value.hint == LOCAL_LLM_HINT == "pip install 'pdqa[local-llm]'"


def test_no_llm_is_no_backend():
    assert make_backend(LLMSettings()) is None
    assert make_backend(LLMSettings(backend="none")) is None


def test_the_factory_knows_the_built_in_backends_and_refuses_others_naming_them():
    assert backend_names()[:4] == ["none", "openai-like", "ollama", "llama-cpp"]
    with pytest.raises(BackendUnavailable, match="no LLM backend named 'nosuch'") as caught:
        make_backend(LLMSettings(backend="nosuch"))
    assert caught.value.hint == "Use one of: " + ", ".join(backend_names())


def test_a_registered_backend_is_chosen_by_name_until_removed(scripted_llm):
    llm, seen = scripted_llm("x"), []

    def build(settings):
        seen.append(settings)
        return Backend("plugin", settings.model, "", False, llm, settings)

    register_backend("test-plugin", build)
    try:
        assert "test-plugin" in backend_names()
        backend = make_backend(LLMSettings(backend="test-plugin", model="tiny", timeout_s=3))
        assert backend.llm is llm and backend.describe() == "plugin tiny" and not backend.chat
        assert [(c.backend, c.model, c.timeout_s) for c in seen] == [("test-plugin", "tiny", 3)]
    finally:
        remove_backend("test-plugin")
    assert "test-plugin" not in backend_names()
    with pytest.raises(BackendUnavailable, match="no LLM backend named 'test-plugin'"):
        make_backend(LLMSettings(backend="test-plugin"))
    remove_backend("test-plugin")  # forgetting an unknown name is a no-op


def test_importing_the_llm_modules_does_not_import_llama_index():
    code = "import sys, pdqa.llm, pdqa.generate, pdqa.verify; print('llama_index' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- unreachable server


def test_unreachable_server_warns_and_answers_extractively(open_qa, built_settings, qa):
    with pytest.warns(LLMFallbackWarning, match="did not answer") as caught:
        answer = open_qa(unreachable(built_settings)).ask(QUESTION)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert answer.mode == "extractive-fallback"
    assert answer.answer == qa.ask(QUESTION).answer
    assert answer.llm is not None and answer.llm.backend == "openai-like"
    assert answer.raw_answer is None


def test_unreachable_server_with_strict_raises(open_qa, built_settings):
    with warnings.catch_warnings():
        warnings.simplefilter("error", LLMFallbackWarning)  # strict must raise, not warn
        with pytest.raises(BackendUnavailable, match="did not answer"):
            open_qa(unreachable(built_settings, strict=True)).ask(QUESTION)


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


# ---------------------------------------------------------------- CLI flags with the scripted backend


@pytest.fixture
def factory(scripted, qa, monkeypatch):
    """The scripted backend, chosen with ``--llm scripted``, replying one kept and one removed sentence.

    ``.seen`` records the LLM settings the factory was asked to build from (it wraps
    ``make_backend`` as QA calls it); ``.llm`` is the scripted fake.
    """
    hits = qa.retrieve(QUESTION)
    n = next(i for i, h in enumerate(hits, start=1) if "Lisa Wilson" in h.text)
    reply = f"The report was written by Dr Lisa Wilson and Dr Rex Haigh [{n}]. It cost 5 pounds [{n}]."
    seen = []

    def recording(config):
        seen.append(config)
        return make_backend(config)

    monkeypatch.setattr(pdqa.qa, "make_backend", recording)
    recording.seen, recording.llm = seen, scripted(reply)
    return recording


def test_cli_flags_override_settings_and_reach_the_backend(built_settings, factory):
    args = ["ask", "--json", "--llm", "scripted", "--base-url", "http://h:1/v1", "--model", "tiny", "--strict", QUESTION]
    result = invoke(args, built_settings, PDQA_LLM__MODEL="other", PDQA_LLM__BACKEND="ollama")
    assert result.exit_code == 0, result.output
    [config] = factory.seen
    assert (config.backend, config.base_url, config.model, config.strict) == ("scripted", "http://h:1/v1", "tiny", True)
    data = json.loads(result.stdout)
    assert data["mode"] == "llm"
    assert data["llm"] == {"backend": "scripted", "model": "scripted-fake"}
    assert data["raw_answer"].startswith("The report was written by Dr Lisa Wilson")
    assert data["answer"] == "The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]"
    assert data["removed"] == [{"sentence": "It cost 5 pounds.", "reason": "number '5' is not in the cited passage(s)"}]
    assert len(factory.llm.prompts) == 1


def test_cli_settings_alone_select_the_backend(built_settings, factory):
    result = invoke(["ask", "--json", QUESTION], built_settings, PDQA_LLM__BACKEND="scripted", PDQA_LLM__MODEL="llama3.2")
    assert result.exit_code == 0, result.output
    assert [(c.backend, c.model) for c in factory.seen] == [("scripted", "llama3.2")]
    assert json.loads(result.stdout)["mode"] == "llm"


def test_cli_show_removed_lists_dropped_sentences_with_reasons(built_settings, factory):
    args = ["ask", "--llm", "scripted", "--model", "tiny", "--show-removed", QUESTION]
    result = invoke(args, built_settings)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]"
    at = lines.index("Removed by verification")
    assert lines[at + 1 : at + 3] == ["- It cost 5 pounds.", "    number '5' is not in the cited passage(s)"]


def test_cli_without_show_removed_hides_dropped_sentences(built_settings, factory):
    result = invoke(["ask", "--llm", "scripted", "--model", "tiny", QUESTION], built_settings)
    assert result.exit_code == 0
    assert "It cost 5 pounds" not in result.stdout


def test_cli_without_llm_never_asks_an_llm(built_settings, factory):
    result = invoke(["ask", "--json", QUESTION], built_settings)
    assert result.exit_code == 0
    # The factory is told "none" and builds nothing; the registered fake is never asked.
    assert [c.backend for c in factory.seen] == ["none"]
    assert factory.llm.prompts == []
    assert json.loads(result.stdout)["mode"] == "extractive"


def test_cli_unknown_backend_is_a_one_line_error_naming_the_known_ones(built_settings, factory):
    result = invoke(["ask", "--llm", "nosuch", QUESTION], built_settings)
    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: no LLM backend named 'nosuch' (hint: Use one of: none, openai-like, ollama, llama-cpp")
    assert "scripted" in line  # a registered backend is offered like the built-in ones
    assert factory.llm.prompts == []


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
           "PDQA_CORPUS__DIR": str(built_settings.corpus_dir), "PDQA_INDEX__DIR": str(built_settings.index_dir)}
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


def test_ask_stream_yields_each_verified_sentence_while_the_model_is_still_writing(open_qa, built_settings, scripted,
                                                                                   qa):
    _, pieces = authors_reply(qa)
    llm = scripted(pieces)
    events = [(event, len(llm.streamed)) for event in open_qa(with_scripted_llm(built_settings)).ask_stream(QUESTION)]
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
    assert events[0][0].llm == "scripted scripted-fake"
    assert answer.llm.model_dump() == {"backend": "scripted", "model": "scripted-fake"}


def test_ask_returns_what_the_stream_ends_with(open_qa, built_settings, scripted, qa):
    _, pieces = authors_reply(qa)
    scripted(pieces)
    streamed = list(open_qa(with_scripted_llm(built_settings)).ask_stream(QUESTION))[-1].answer
    scripted("".join(pieces))
    asked = open_qa(with_scripted_llm(built_settings)).ask(QUESTION)
    assert asked.model_dump(exclude={"timings_ms"}) == streamed.model_dump(exclude={"timings_ms"})


def test_ask_stream_without_an_llm_yields_only_the_answer(qa):
    [done] = list(qa.ask_stream(QUESTION))
    assert done.answer == qa.ask(QUESTION).model_copy(update={"timings_ms": done.answer.timings_ms})


def test_cli_stream_prints_sentences_then_sources_and_removed_ones_last(built_settings, scripted, qa):
    _, pieces = authors_reply(qa)
    scripted(pieces)
    args = ["ask", "--llm", "scripted", "--model", "tiny", "--stream", "--show-removed", QUESTION]
    result = invoke(args, built_settings)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]"
    assert lines[1] == "Dr Lisa Wilson and Dr Rex Haigh wrote the Innovation in Action report. [1]"
    assert lines[3] == "Sources" and lines[4].startswith("[1] ")
    at = lines.index("Removed by verification")
    assert lines[at + 1] == "- It cost 5 pounds." and lines.index("Sources") < at
    assert result.stdout.count("It cost 5 pounds") == 1


def test_cli_stream_with_nothing_verified_prints_the_fallback_answer(built_settings, scripted, qa):
    scripted("Dr John Smith wrote it.")
    args = ["ask", "--llm", "scripted", "--model", "tiny", "--stream", QUESTION]
    result = invoke(args, built_settings)
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


def test_the_ollama_backend_asks_through_api_chat_and_its_reply_is_verified(open_qa, built_settings, ollama_stub, qa):
    n, pieces = authors_reply(qa)
    ollama_stub.reply = pieces
    config = LLMSettings(backend="ollama", model="llama3.2", base_url=f"http://127.0.0.1:{ollama_stub.server_port}",
                         max_tokens=77, timeout_s=10)
    answer = open_qa(built_settings.changed(llm=config)).ask(QUESTION)
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
    base = make_backend(LLMSettings(backend="openai-like", model="m", api="completion"))
    assert base.llm.is_chat_model is False and base.chat is False
    chat = make_backend(LLMSettings(backend="openai-like", model="m"))
    assert chat.llm.is_chat_model is True and chat.chat is True


# ---------------------------------------------------------------- failures on the way: empty, slow, refused, retried


def test_an_empty_reply_warns_and_answers_extractively(open_qa, built_settings, scripted, qa):
    llm = scripted("")
    with pytest.warns(LLMFallbackWarning, match="sent an empty reply; answering without the LLM") as caught:
        answer = open_qa(with_scripted_llm(built_settings, max_retries=0)).ask(QUESTION)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert answer.mode == "extractive-fallback" and answer.llm.backend == "scripted"
    assert answer.answer == qa.ask(QUESTION).answer
    assert len(llm.prompts) == 1


def test_an_empty_reply_with_strict_raises(open_qa, built_settings, scripted):
    scripted("")
    with pytest.raises(BackendUnavailable, match="sent an empty reply"):
        open_qa(with_scripted_llm(built_settings, strict=True)).ask(QUESTION)


def test_a_reply_slower_than_the_timeout_is_given_up_and_answered_extractively(open_qa, built_settings, scripted, qa):
    from test_generate import Stream

    llm = scripted(Stream(*[f"Dr John Smith {i} " for i in range(20)], delay=0.2))
    started = time.monotonic()
    with pytest.warns(LLMFallbackWarning, match=r"did not finish its reply within 0\.5 s; answering without the LLM"):
        answer = open_qa(with_scripted_llm(built_settings, timeout_s=0.5)).ask(QUESTION)
    assert time.monotonic() - started < 10  # not the 4 s all 20 pieces would take, and more (QA setup)
    assert len(llm.streamed) < 20
    assert answer.mode == "extractive-fallback"
    assert answer.answer == qa.ask(QUESTION).answer


def test_a_timeout_after_a_kept_sentence_keeps_it_and_says_the_reply_was_cut_short(open_qa, built_settings, scripted,
                                                                                   qa):
    from test_generate import Stream

    n, _ = authors_reply(qa)
    pieces = [f"The report was written by Dr Lisa Wilson and Dr Rex Haigh [{n}]. ", "It "] + ["was "] * 30
    llm = scripted(Stream(*pieces, delay=0.2))
    with pytest.warns(LLMFallbackWarning, match=r"did not finish its reply within 1\.5 s; the reply was cut short"):
        answer = open_qa(with_scripted_llm(built_settings, timeout_s=1.5)).ask(QUESTION)
    assert len(llm.streamed) < len(pieces)
    assert answer.mode == "llm"
    assert answer.answer == "The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]"


@pytest.fixture
def openai_stub():
    """A loopback server speaking OpenAI's streaming /v1/chat/completions.

    ``.statuses`` are answered in turn (200 streams ``.reply``, in pieces; anything else is an
    error with that status); ``.requests`` records (path, body, Authorization header).
    """
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.requests.append((self.path, body, self.headers.get("Authorization")))
            status = server.statuses.pop(0) if len(server.statuses) > 1 else server.statuses[0]
            if status != 200:
                error = json.dumps({"error": {"message": f"stub refused with {status}", "type": "stub", "code": None}})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(error)))
                self.end_headers()
                self.wfile.write(error.encode())
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for piece in server.reply + [None]:
                delta = {"role": "assistant", "content": piece} if piece is not None else {}
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "delta": delta, "finish_reason": None if piece is not None else "stop"}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.close_connection = True

        def log_message(self, *args):  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.requests, server.statuses, server.reply = [], [200], []
    server.url = f"http://127.0.0.1:{server.server_port}/v1"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_openai_like_backend_asks_again_after_a_server_error(open_qa, built_settings, openai_stub, qa):
    _, pieces = authors_reply(qa)
    openai_stub.statuses, openai_stub.reply = [503, 200], pieces
    config = LLMSettings(backend="openai-like", model="m", base_url=openai_stub.url, timeout_s=20, max_retries=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LLMFallbackWarning)  # the retry succeeded: no fallback
        answer = open_qa(built_settings.changed(llm=config)).ask(QUESTION)
    assert [path for path, _, _ in openai_stub.requests] == ["/v1/chat/completions"] * 2
    assert answer.mode == "llm" and answer.llm.model_dump() == {"backend": "openai-like", "model": "m"}
    assert answer.answer.startswith("The report was written by Dr Lisa Wilson and Dr Rex Haigh. [1]")


def test_the_openai_like_backend_gives_up_after_max_retries(open_qa, built_settings, openai_stub):
    openai_stub.statuses = [503]
    config = LLMSettings(backend="openai-like", model="m", base_url=openai_stub.url, timeout_s=20, max_retries=2,
                         strict=True)
    with pytest.raises(BackendUnavailable, match="did not answer: .*stub refused with 503"):
        open_qa(built_settings.changed(llm=config)).ask(QUESTION)
    assert len(openai_stub.requests) == 3  # the request and two retries


def test_a_refused_api_key_is_asked_once_and_the_hint_names_the_key_variable(open_qa, built_settings, openai_stub,
                                                                             monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", "sk-wrong")
    openai_stub.statuses = [401]
    config = LLMSettings(backend="openai-like", model="m", base_url=openai_stub.url, api_key_env="MY_LLM_KEY",
                         timeout_s=20, max_retries=2)
    with pytest.warns(LLMFallbackWarning, match="did not answer: .*stub refused with 401.*; answering without the LLM"):
        answer = open_qa(built_settings.changed(llm=config)).ask(QUESTION)
    assert answer.mode == "extractive-fallback"
    [(_, _, authorization)] = openai_stub.requests  # a refusal is not asked again
    assert authorization == "Bearer sk-wrong"


def test_cli_refused_api_key_is_a_one_line_error_naming_the_key_variable(built_settings, openai_stub):
    openai_stub.statuses = [401]
    args = ["ask", "--llm", "openai-like", "--base-url", openai_stub.url, "--model", "m", "--strict", QUESTION]
    result = invoke(args, built_settings, PDQA_LLM__API_KEY_ENV="MY_LLM_KEY", PDQA_LLM__MAX_RETRIES="2",
                    MY_LLM_KEY="sk-wrong")
    assert result.exit_code == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: LLM openai-like m at {openai_stub.url} did not answer: ")
    assert "(hint: The server refused the API key: put the key in $MY_LLM_KEY (PDQA_LLM__API_KEY_ENV names that variable).)" in line
    assert len(openai_stub.requests) == 1
