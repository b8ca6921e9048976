"""pdqa serve: the JSON API, its errors and guards, the web page's HTML, concurrency, the pickup of a
rebuild done by another process, a real uvicorn process, and a short load test."""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed: pip install 'pdqa[server]'")
import httpx  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from server_helpers import (  # noqa: E402
    EVIL_SCRIPT,
    build_reusing,
    events,
    free_port,
    make_server_corpus,
    request,
    running,
    wait_for_health,
    without_timings,
)

QUESTIONS = [
    "Who wrote the Innovation in Action report?",
    "Who commissioned the National Community Personality Disorder Pilots?",
    "How long is the contract?",
    "What is the salary for the post?",
    "How many pilot sites were there?",
    "What did the pilots achieve?",
    "clive house noms",
    "Who is the Joint Head of the Offender Personality Disorder Programme?",
]
# A question the extractive answerer answers (it abstains on the authors question: docs/evaluation.md).
ANSWERED = "How long is the initial contract for the Joint Head post?"


@pytest.fixture(scope="module")
def app(built_settings):
    from pdqa.server.app import create_app

    app = create_app(built_settings)
    yield app
    app.state.live.close()


@pytest.fixture
def llm_app(built_settings):
    """An app of its own: the variants a server keeps per LLM option must not outlive a scripted reply."""
    from pdqa.server.app import create_app

    app = create_app(built_settings)
    yield app
    app.state.live.close()


@pytest.fixture(scope="module")
def documents_settings(built_settings, tmp_path_factory):
    """A corpus of a PDF, two HTML pages and a Markdown file (two of them holding markup as text)."""
    root = tmp_path_factory.mktemp("server-documents")
    return build_reusing(built_settings, make_server_corpus(root / "corpus"), root / "index")


@pytest.fixture(scope="module")
def documents_app(documents_settings):
    from pdqa.server.app import create_app

    app = create_app(documents_settings)
    yield app
    app.state.live.close()


@pytest.fixture(scope="module")
def documents_qa(documents_settings):
    from pdqa.qa import QA

    qa = QA(documents_settings)
    yield qa
    qa.close()


def _expected(qa, question, **kwargs):
    return without_timings(json.loads(qa.ask(question, **kwargs).model_dump_json()))


def _span(qa, path: str, sentence: str):
    """Where a sentence the test documents hold is in its file's stored text, as a citation would say."""
    from types import SimpleNamespace

    text = qa.index.text_of(path)
    start = text.index(sentence)
    document = next(d for d in qa.manifest.documents if d.path == path and d.start <= start < d.end)
    return SimpleNamespace(doc_id=document.doc_id, path=path, start=start, end=start + len(sentence), quote=sentence)


def _is_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert set(payload) == {"error", "hint"} and payload["error"], payload
    assert "Traceback" not in response.text
    return payload


# ---------------------------------------------------------------- answers


def test_ask_gives_the_answer_json_of_pdqa_ask(app, built_settings):
    from pdqa.cli import cli

    response = request(app, "POST", "/v1/ask", json={"question": ANSWERED})
    assert response.status_code == 200, response.text
    env = {"PDQA_INDEX__DIR": str(built_settings.index_dir)}
    printed = CliRunner().invoke(cli, ["--corpus", str(built_settings.corpus_dir), "ask", "--json", ANSWERED], env=env)
    assert printed.exit_code == 0, printed.output
    assert without_timings(response.json()) == without_timings(json.loads(printed.stdout))
    first = response.json()["citations"][0]
    text = request(app, "GET", f"/v1/documents/{first['doc_id']}/text", params={"start": first["start"], "end": first["end"]})
    assert text.json()["text"] == first["quote"]


@pytest.mark.parametrize("question", QUESTIONS[:4])
def test_ask_matches_qa_ask(app, qa, question):
    response = request(app, "POST", "/v1/ask", json={"question": question})
    assert without_timings(response.json()) == _expected(qa, question)


def test_ask_options_k_and_min_confidence(app, built_settings, qa):
    from pdqa.qa import QA

    response = request(app, "POST", "/v1/ask", json={"question": ANSWERED, "k": 2})
    assert without_timings(response.json()) == _expected(qa, ANSWERED, k=2)
    strict = request(app, "POST", "/v1/ask", json={"question": ANSWERED, "min_confidence": 1.0}).json()
    cautious = QA(built_settings.changed(answer={"min_confidence": 1.0}))
    try:
        assert strict["abstained"] and without_timings(strict) == _expected(cautious, ANSWERED)
    finally:
        cautious.close()
    # The variant did not change the shared QA.
    assert without_timings(request(app, "POST", "/v1/ask", json={"question": ANSWERED}).json()) == _expected(qa, ANSWERED)


def test_retrieve_gives_the_hits_of_qa_retrieve(app, qa):
    response = request(app, "POST", "/v1/retrieve", json={"question": "clive house noms", "k": 3})
    assert response.status_code == 200
    assert response.json() == [json.loads(h.model_dump_json()) for h in qa.retrieve("clive house noms", k=3)]


def test_stream_without_an_llm_is_one_done_event(app, qa):
    response = request(app, "POST", "/v1/ask/stream", json={"question": ANSWERED})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    (name, answer), = events(response.text)
    assert name == "done" and without_timings(answer) == _expected(qa, ANSWERED)


LLM_REPLY = [
    "The ‘Innovation in Action‘ report, written by Dr Lisa Wilson and Dr Rex Haigh, presents a summary of ",
    "the findings of the review of National Community Personality Disorder Pilots commissioned by the "
    "Department of Health in 2004. [1]",
    " The pilots were run on the Moon by astronauts. [1]",
]


def _in_process_events(settings, scripted, question):
    """The events QA.ask_stream gives for ``question`` with the scripted LLM, as the API sends them."""
    from pdqa.qa import QA
    from pdqa.server.streaming import api_event

    scripted(list(LLM_REPLY))
    qa = QA(settings.changed(llm={"backend": "scripted"}))
    try:
        found = [api_event(event) for event in qa.ask_stream(question)]
    finally:
        qa.close()
    return [(name, without_timings(json.loads(data)) if name == "done" else data) for name, data in found]


def test_stream_with_an_llm_sends_waiting_sentences_done(llm_app, built_settings, scripted):
    expected = _in_process_events(built_settings, scripted, ANSWERED)
    scripted(list(LLM_REPLY))
    response = request(llm_app, "POST", "/v1/ask/stream", json={"question": ANSWERED, "llm": "scripted"})
    assert response.status_code == 200, response.text
    got = [(name, without_timings(data) if name == "done" else data) for name, data in events(response.text)]
    assert got == expected
    names = [name for name, _ in got]
    assert names[0] == "waiting" and names[-1] == "done" and set(names) <= {"waiting", "sentence", "done"}
    answer = got[-1][1]
    assert answer["llm"]["backend"] == "scripted" and answer["mode"] in ("llm", "extractive-fallback")
    assert not any("Moon" in data["text"] for name, data in got if name == "sentence")  # never streamed
    if answer["mode"] == "llm":
        assert "sentence" in names
        assert any("Moon" in claim["sentence"] for claim in answer["removed"])


def test_llm_failure_is_502_with_strict_and_a_fallback_without(llm_app, scripted):
    scripted(ConnectionError("connection refused"))
    failed = request(llm_app, "POST", "/v1/ask", json={"question": ANSWERED, "llm": "scripted", "strict": True})
    assert "did not answer" in _is_error(failed, 502)["error"]
    scripted(ConnectionError("connection refused"))
    from pdqa.errors import LLMFallbackWarning

    with pytest.warns(LLMFallbackWarning, match="answering without the LLM"):  # logged by the server, not sent
        fallback = request(llm_app, "POST", "/v1/ask", json={"question": ANSWERED, "llm": "scripted"})
    assert fallback.status_code == 200 and fallback.json()["mode"] == "extractive-fallback"


def test_llm_timeout_is_504_with_strict(llm_app, scripted):
    scripted(TimeoutError("read timed out"))
    _is_error(request(llm_app, "POST", "/v1/ask", json={"question": ANSWERED, "llm": "scripted", "strict": True}), 504)
    scripted(TimeoutError("read timed out"))
    response = request(llm_app, "POST", "/v1/ask/stream", json={"question": ANSWERED, "llm": "scripted", "strict": True})
    assert response.status_code == 200  # the stream had started (waiting): the failure is an error event
    name, data = events(response.text)[-1]
    assert name == "error" and data["status"] == 504 and data["error"]


def test_unknown_llm_backend_is_422(app):
    payload = _is_error(request(app, "POST", "/v1/ask", json={"question": ANSWERED, "llm": "no-such"}), 422)
    assert "no-such" in payload["error"] and payload["hint"]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("body, status", [
    ({"question": "   "}, 400),
    ({"question": "?!"}, 400),
    ({"question": "word " * 2001}, 400),
    ({"question": 42}, 422),
    ({"question": ANSWERED, "k": 0}, 422),
    ({"question": ANSWERED, "k": 51}, 422),
    ({"question": ANSWERED, "min_confidence": 2}, 422),
    ({"question": ANSWERED, "surprise": 1}, 422),
    ({}, 422),
])
def test_bad_questions_and_options(app, body, status):
    _is_error(request(app, "POST", "/v1/ask", json=body), status)


def test_invalid_json_is_400(app):
    payload = _is_error(request(app, "POST", "/v1/ask", content=b'{"question": ', headers={"content-type": "application/json"}), 400)
    assert "JSON" in payload["error"]


def test_oversized_body_is_413_by_length_and_as_it_arrives(app):
    big = json.dumps({"question": "x" * 70_000})
    _is_error(request(app, "POST", "/v1/ask", content=big, headers={"content-type": "application/json"}), 413)

    async def chunks():  # no Content-Length: the limit is counted as the body arrives
        for _ in range(20):
            yield b" " * 5000

    _is_error(request(app, "POST", "/v1/ask", content=chunks(), headers={"content-type": "application/json"}), 413)


@pytest.mark.parametrize("url", [
    "/v1/documents/no-such-document/text",
    "/v1/documents/..%2F..%2F..%2Fetc%2Fpasswd/text",
    "/v1/documents/%2E%2E/text",
    "/v1/documents/..%2Finnovation-in-action.txt/text",
    "/v1/documents/innovation-in-action.txt/text",
    "/v1/documents/..%2F..%2Fetc%2Fpasswd/pages/1.png",
    "/v1/documents/%2Fetc%2Fpasswd/quote-boxes?start=0&end=1",
    "/v1/documents/../../etc/passwd",
])
def test_unknown_and_traversing_document_ids_are_404(app, url):
    _is_error(request(app, "GET", url), 404)


def test_span_outside_the_document_is_400(app):
    documents = request(app, "GET", "/v1/documents").json()["documents"]
    first = documents[0]
    _is_error(request(app, "GET", f"/v1/documents/{first['doc_id']}/text", params={"start": first["end"] + 1}), 400)
    _is_error(request(app, "GET", f"/v1/documents/{first['doc_id']}/text", params={"start": -1}), 422)


def test_unknown_endpoint_and_method_are_json(app):
    _is_error(request(app, "GET", "/v1/nothing"), 404)
    _is_error(request(app, "GET", "/v1/ask"), 405)


def test_an_unexpected_failure_is_a_json_500(built_settings):
    from pdqa.server.app import create_app
    from pdqa.server.live import LiveQA

    def broken(settings, on_stale):
        raise RuntimeError("secret internal detail")

    app = create_app(built_settings, live=LiveQA(built_settings, opener=broken))
    response = request(app, "POST", "/v1/ask", json={"question": ANSWERED})
    payload = _is_error(response, 500)
    assert "secret internal detail" not in response.text and payload["hint"]


def test_no_index_is_503_and_a_stale_one_409_when_refused(scratch_settings, tmp_path):
    from pdqa.server.app import create_app

    empty = scratch_settings.changed(index={"dir": tmp_path / "no-index"})
    payload = _is_error(request(create_app(empty), "POST", "/v1/ask", json={"question": ANSWERED}), 503)
    assert "pdqa index build" in payload["hint"]
    (scratch_settings.corpus_dir / "extra.txt").write_text("A new document about the pilots.\n", encoding="utf-8")
    refusing = create_app(scratch_settings, on_stale="raise")
    _is_error(request(refusing, "POST", "/v1/ask", json={"question": ANSWERED}), 409)
    using = create_app(scratch_settings, on_stale="use")
    assert request(using, "POST", "/v1/ask", json={"question": ANSWERED}).status_code == 200
    report = request(using, "GET", "/v1/index").json()
    assert report["status"]["stale"] and not report["usable"] and report["loaded_stale_reasons"]
    using.state.live.close()


# ---------------------------------------------------------------- guards


def test_non_loopback_bind_needs_a_token(built_settings):
    from pdqa.cli import cli

    env = {"PDQA_INDEX__DIR": str(built_settings.index_dir), "MY_TOKEN": "short"}
    corpus = ["--corpus", str(built_settings.corpus_dir)]
    for args, message in [
        (["serve", "--host", "0.0.0.0"], "not a loopback address"),
        (["serve", "--host", "192.0.2.1", "--token-env", "UNSET_TOKEN_VARIABLE"], "UNSET_TOKEN_VARIABLE is not set"),
        (["serve", "--host", "0.0.0.0", "--token-env", "MY_TOKEN"], "shorter than 16"),
    ]:
        result = CliRunner().invoke(cli, corpus + args, env=env)
        assert result.exit_code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr
        assert "short" not in lines[0].replace("shorter", "")  # the token itself is never shown


def test_bind_checks():
    from pdqa.server import ServerError, check_bind, is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "10.0.0.1", "::", "example.org"))
    assert check_bind("127.0.0.1", None, {}) is None
    assert check_bind("0.0.0.0", "T", {"T": "x" * 32}) == "x" * 32
    with pytest.raises(ServerError):
        check_bind("0.0.0.0", None, {})


def test_a_missing_extra_is_one_line_naming_it(built_settings, monkeypatch):
    import pdqa.server.launch as launch
    from pdqa.cli import cli

    monkeypatch.setattr(launch, "SERVER_MODULES", ("fastapi", "no_such_module_for_pdqa"))
    monkeypatch.setattr(launch, "MCP_MODULES", ("no_such_mcp_module_for_pdqa",))
    env = {"PDQA_INDEX__DIR": str(built_settings.index_dir)}
    for command in (["serve"], ["mcp"]):
        result = CliRunner().invoke(cli, ["--corpus", str(built_settings.corpus_dir), *command], env=env)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1, result.stderr
        assert "not installed" in lines[0] and "pip install 'pdqa[server]'" in lines[0]


def test_live_qa_swaps_generations_and_closes_the_old_one_when_unused(tmp_path):
    """The swap with a stand-in QA: CURRENT moves, in-flight leases keep the old one open."""
    from types import SimpleNamespace

    from pdqa.errors import IndexNotBuilt
    from pdqa.server.live import LiveQA

    folder = tmp_path / "index"
    folder.mkdir()
    opened, closed = [], []

    class StandIn:
        def __init__(self, name):
            self.index = SimpleNamespace(path=folder / name)
            self.name = name

        def close(self):
            closed.append(self.name)

    def opener(settings, on_stale):
        current = (folder / "CURRENT").read_text().strip() if (folder / "CURRENT").exists() else None
        if current is None or current == "gen-broken":
            raise IndexNotBuilt("no index")
        opened.append(current)
        return StandIn(current)

    settings = SimpleNamespace(index_dir=folder)
    live = LiveQA(settings, opener=opener)
    with pytest.raises(IndexNotBuilt):
        live.acquire()
    (folder / "CURRENT").write_text("gen-1\n")
    first = live.acquire()
    assert first.generation == "gen-1" and opened == ["gen-1"]
    live.release(first)
    assert live.acquire() is first and opened == ["gen-1"]  # no reload while CURRENT stays
    (folder / "CURRENT").write_text("gen-2\n")
    second = live.acquire()
    assert second.generation == "gen-2" and first.retired and closed == []  # first still leased
    live.release(first)
    live.release(first)
    assert closed == ["gen-1"]
    (folder / "CURRENT").write_text("gen-broken\n")
    assert live.acquire() is second  # a generation that cannot be opened: keep answering from the last
    assert live.acquire() is second and opened == ["gen-1", "gen-2"]  # not retried at once
    for _ in range(3):
        live.release(second)
    live.close()
    assert closed == ["gen-1", "gen-2"]


def test_token_is_required_and_compared(built_settings):
    from pdqa.server.app import create_app

    token = "t0ken-" + "x" * 30
    app = create_app(built_settings, token=token, token_env="PDQA_TEST_TOKEN_VAR")
    try:
        missing = _is_error(request(app, "POST", "/v1/ask", json={"question": ANSWERED}), 401)
        assert token not in json.dumps(missing)
        wrong = request(app, "POST", "/v1/ask", json={"question": ANSWERED}, headers={"Authorization": "Bearer " + token[:-1] + "y"})
        _is_error(wrong, 401)
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        _is_error(request(app, "GET", "/v1/documents", headers={"Authorization": "Bearer é".encode()}), 401)
        right = request(app, "POST", "/v1/ask", json={"question": ANSWERED}, headers={"Authorization": f"Bearer {token}"})
        assert right.status_code == 200
        assert request(app, "GET", "/v1/health").status_code == 200  # open, for probes
        page = request(app, "GET", "/", headers={"accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login"
        assert request(app, "POST", "/login", data={"token": "nope"}).status_code == 401
        signed_in = request(app, "POST", "/login", data={"token": token})
        cookie = signed_in.cookies.get("pdqa_session")
        assert signed_in.status_code == 303 and cookie and token not in cookie
        assert "httponly" in signed_in.headers["set-cookie"].lower()
        assert request(app, "GET", "/", cookies={"pdqa_session": cookie}).status_code == 200
    finally:
        app.state.live.close()


def test_loopback_server_refuses_foreign_host_names(app):
    response = request(app, "GET", "/v1/health", headers={"host": "attacker.example:8000"})
    assert response.status_code == 421 and response.json()["error"]
    assert request(app, "GET", "/v1/health", headers={"host": "localhost:8000"}).status_code == 200


def test_rate_limit_per_client(built_settings):
    from pdqa.server.app import create_app

    app = create_app(built_settings, rate_limit=2)
    statuses = [request(app, "GET", "/v1/documents").status_code for _ in range(3)]
    assert statuses[:2] == [200, 200]
    limited = request(app, "GET", "/v1/documents")
    _is_error(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1
    app.state.live.close()


def test_no_cors_and_security_headers(app):
    response = request(app, "GET", "/v1/health", headers={"origin": "https://elsewhere.example"})
    assert not any(name.lower().startswith("access-control-") for name in response.headers)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    preflight = request(app, "OPTIONS", "/v1/ask", headers={"origin": "https://elsewhere.example",
                                                            "access-control-request-method": "POST"})
    assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers


# ---------------------------------------------------------------- documents


def test_documents_list_the_manifest(documents_app, documents_qa):
    listed = request(documents_app, "GET", "/v1/documents").json()
    by_id = {d["doc_id"]: d for d in listed["documents"]}
    assert set(by_id) == {d.doc_id for d in documents_qa.manifest.documents}
    assert by_id["report"]["format"] == "pdf" and by_id["report"]["pages"] == 3
    assert listed["generation"] == documents_qa.index.path.name


def test_text_span_is_the_stored_text(documents_app, documents_qa):
    import documents as docs

    citation = _span(documents_qa, "report.pdf", docs.CONTRACT)
    span = request(documents_app, "GET", f"/v1/documents/{citation.doc_id}/text",
                   params={"start": citation.start, "end": citation.end}).json()
    assert span["text"] == citation.quote and span["page"] == 3 and span["section"] == docs.SECTIONS[2]
    whole = request(documents_app, "GET", "/v1/documents/report/text").json()
    assert whole["text"] == documents_qa.index.text_of("report.pdf")[whole["start"]:whole["end"]]


def test_pdf_pages_render_and_others_have_none(documents_app):
    png = request(documents_app, "GET", "/v1/documents/report/pages/1.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    _is_error(request(documents_app, "GET", "/v1/documents/report/pages/4.png"), 404)
    _is_error(request(documents_app, "GET", "/v1/documents/report/pages/0.png"), 404)
    _is_error(request(documents_app, "GET", "/v1/documents/page/pages/1.png"), 404)
    _is_error(request(documents_app, "GET", "/v1/documents/report/pages/1.png", params={"scale": 40}), 422)


@pytest.mark.parametrize("sentence, page", [
    ("AUTHORS", 1),  # three lines
    ("AIMS", 1),  # a word hyphenated at a line end
    ("SAVINGS", 2),  # in the second of two columns
    ("CONTRACT", 3),
])
def test_quote_boxes_cover_the_quote_on_its_page(documents_app, documents_qa, sentence, page):
    import pypdfium2 as pdfium

    import documents as docs

    citation = _span(documents_qa, "report.pdf", getattr(docs, sentence))
    found = request(documents_app, "GET", "/v1/documents/report/quote-boxes",
                    params={"start": citation.start, "end": citation.end})
    assert found.status_code == 200, found.text
    boxes = found.json()
    assert boxes["quote"] == citation.quote
    (on_page,) = boxes["pages"]
    assert on_page["page"] == page and on_page["exact"] and on_page["boxes"]
    # The text pdfium finds inside the boxes is the quote (spaces and line-end hyphens aside).
    pdf = pdfium.PdfDocument(str(documents_qa.settings.corpus_dir / "report.pdf"))
    width, height = pdf[page - 1].get_size()  # A4, whatever get_cropbox falls back to
    assert (on_page["width"], on_page["height"]) == (round(width, 2), round(height, 2))
    textpage = pdf[page - 1].get_textpage()
    inside = " ".join(textpage.get_text_bounded(b["x"], height - b["y"] - b["height"], b["x"] + b["width"], height - b["y"])
                      for b in on_page["boxes"])
    pdf.close()
    squash = lambda text: re.sub(r"[\s\-\ufffe\x02]", "", text)  # noqa: E731
    assert squash(citation.quote) in squash(inside)


def test_quote_boxes_are_for_pdfs_only(documents_app):
    _is_error(request(documents_app, "GET", "/v1/documents/page/quote-boxes", params={"start": 0, "end": 5}), 404)


def test_a_changed_pdf_is_409_not_a_wrong_page(documents_settings, tmp_path):
    import shutil

    from pdqa.server.app import create_app

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(documents_settings.corpus_dir, corpus)
    shutil.copytree(documents_settings.index_dir, index)
    settings = documents_settings.changed(corpus={"dir": corpus}, index={"dir": index})
    from conftest import repoint_index

    repoint_index(settings)
    with (corpus / "report.pdf").open("ab") as pdf:
        pdf.write(b"\n% changed\n")
    app = create_app(settings)
    payload = _is_error(request(app, "GET", "/v1/documents/report/pages/1.png"), 409)
    assert "pdqa index build" in payload["hint"]
    app.state.live.close()


# ---------------------------------------------------------------- the web page (HTML; the browser test runs it)


def test_page_has_a_labelled_form_and_a_nonce_policy(app):
    page = request(app, "GET", "/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert "unsafe-inline" not in policy and "script-src 'nonce-" in policy and "default-src 'none'" in policy
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts == [f'<script nonce="{nonce}" src="/static/app.js" defer>']
    assert '<label for="q">' in page.text and 'id="q" name="q"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from elsewhere
    assert nonce != re.search(r"'nonce-([^']+)'", request(app, "GET", "/").headers["content-security-policy"]).group(1)


@pytest.fixture(scope="module")
def answering_app(built_settings):
    """The app of a server that answers whenever a passage can be quoted (as conftest's answering_qa)."""
    from pdqa.server.app import create_app

    app = create_app(built_settings.changed(answer={"min_confidence": 0.0}))
    yield app
    app.state.live.close()


def test_form_post_returns_the_answer_page(answering_app, answering_qa):
    page = request(answering_app, "POST", "/", data={"q": ANSWERED})
    assert page.status_code == 200
    expected = answering_qa.ask(ANSWERED)
    assert not expected.abstained
    assert 'id="source-1"' in page.text and 'href="#source-1"' in page.text
    assert _escaped(expected.citations[0].quote) in page.text
    assert "times in 10" in page.text
    assert f"/documents/{expected.citations[0].doc_id}?start={expected.citations[0].start}&amp;end=" in page.text


def test_abstention_shows_the_reason_and_closest_passages(built_settings):
    from pdqa.qa import QA
    from pdqa.server.app import create_app

    cautious = built_settings.changed(answer={"min_confidence": 1.0})  # abstains on every question
    expected = QA(cautious)
    app = create_app(cautious)
    try:
        answer = expected.ask("How many pilot sites were there?")
        assert answer.abstained and answer.related
        page = request(app, "GET", "/", params={"q": "How many pilot sites were there?"}).text
        assert _escaped(answer.answer) in page and "Why:" in page and "Closest passages" in page
        assert 'id="related-1"' in page and _escaped(answer.related[0].quote) in page
    finally:
        expected.close()
        app.state.live.close()


def test_streamed_page_fragments(app):
    response = request(app, "POST", "/web/ask", data={"q": ANSWERED})
    (name, data), = events(response.text)
    assert name == "done" and 'class="answer' in data["html"]


def test_document_view_marks_the_quote_in_its_paragraph(documents_app, documents_qa):
    import documents as docs

    citation = _span(documents_qa, "page.html", docs.MEETINGS)
    page = request(documents_app, "GET", f"/documents/{citation.doc_id}", params={"start": citation.start, "end": citation.end})
    assert page.status_code == 200
    marked = re.findall(r'<mark id="quote">(.*?)</mark>', page.text, re.S)
    assert marked == [_escaped(citation.quote)]
    assert f"<strong>{_escaped(docs.HTML_SECTION)}</strong>" in page.text


def test_pdf_document_view_draws_the_quote_on_the_page(documents_app, documents_qa):
    import documents as docs

    citation = _span(documents_qa, "report.pdf", docs.CONTRACT)
    page = request(documents_app, "GET", "/documents/report", params={"start": citation.start, "end": citation.end}).text
    assert '<image href="/v1/documents/report/pages/3.png"' in page
    assert len(re.findall(r'<rect class="highlight"', page)) >= 1
    assert re.findall(r'<mark id="quote">(.*?)</mark>', page, re.S) == [_escaped(citation.quote)]


def test_markup_in_documents_is_shown_as_text(documents_app, documents_qa):
    text = documents_qa.index.text_of("handover.md")
    start = text.index(EVIL_SCRIPT)
    page = request(documents_app, "GET", "/documents/handover", params={"start": start, "end": start + len(EVIL_SCRIPT)}).text
    assert EVIL_SCRIPT not in page and "<img src=x" not in page
    assert f'<mark id="quote">{_escaped(EVIL_SCRIPT)}</mark>' in page
    rota = request(documents_app, "GET", "/documents/rota").text
    assert "&lt;script&gt;" in rota and "<script>window" not in rota
    assert len(re.findall(r"<script", rota)) == 1  # the page's own


def test_document_view_of_an_unknown_document_is_a_404_page(documents_app):
    page = request(documents_app, "GET", "/documents/no-such-document", params={"start": 0, "end": 4})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "no document &#39;no-such-document&#39;" in page.text
    _is_error(request(documents_app, "GET", "/documents/..%2F..%2Fetc%2Fpasswd"), 404)


def test_api_reference_at_docs(app):
    page = request(app, "GET", "/docs")
    assert page.status_code == 200 and "/v1/ask" in page.text and "abstain_reason" in page.text
    assert "cdn" not in page.text.lower()


def _escaped(text: str) -> str:
    """``text`` as the pages' templates escape it."""
    from markupsafe import escape

    return str(escape(text))


# ---------------------------------------------------------------- OpenAPI in step with the models


def _local_refs(schema):
    """A JSON schema with refs pointing at one place, whatever the document that holds them, and
    without defaults (FastAPI leaves out a default of None from response schemas)."""
    text = json.dumps(schema, sort_keys=True)
    found = json.loads(re.sub(r'"#/(\$defs|components/schemas)/', '"#/', text))

    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k != "default"}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return clean(found)


def test_openapi_answer_schema_is_the_models(app):
    from pdqa.models import Answer, Citation, Hit

    schema = request(app, "GET", "/openapi.json").json()
    components = schema["components"]["schemas"]
    for model in (Answer, Citation, Hit):
        own = model.model_json_schema(mode="serialization")
        published = components[model.__name__]
        assert set(published["properties"]) == set(model.model_fields)
        assert _local_refs(published["properties"]) == _local_refs(own["properties"])
        assert sorted(published.get("required", [])) == sorted(own.get("required", []))
    ask = schema["paths"]["/v1/ask"]["post"]
    assert ask["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Answer"}
    assert {"400", "413", "422", "502", "503", "504"} <= set(ask["responses"])
    for name in ("StreamWaiting", "StreamSentence", "StreamError", "ErrorBody"):
        assert name in components


# ---------------------------------------------------------------- health and index


def test_health_and_index(app, qa):
    request(app, "POST", "/v1/ask", json={"question": ANSWERED})
    health = request(app, "GET", "/v1/health").json()
    assert health["status"] == "ok" and health["ready"] and health["generation"] == qa.index.path.name
    report = request(app, "GET", "/v1/index").json()
    assert report["usable"] and report["live_generation"] == report["loaded_generation"] == qa.index.path.name
    assert report["status"]["manifest"]["chunk_count"] == qa.manifest.chunk_count


# ---------------------------------------------------------------- concurrency


def test_concurrent_requests_give_the_answers_of_qa_ask(app, qa):
    expected = {q: _expected(qa, q) for q in QUESTIONS}
    with running(app) as url:
        def ask(question):
            with httpx.Client(base_url=url, timeout=60) as client:
                return question, client.post("/v1/ask", json={"question": question})

        jobs = [QUESTIONS[i % len(QUESTIONS)] for i in range(48)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(ask, jobs))
    assert [r.status_code for _, r in results] == [200] * len(jobs)
    for question, response in results:
        assert without_timings(response.json()) == expected[question]


def test_concurrent_variants_and_streams_share_one_index(app, qa, built_settings):
    from pdqa.qa import QA

    cautious = QA(built_settings.changed(answer={"min_confidence": 0.0}))
    try:
        expected = {(q, mc): _expected(cautious if mc == 0.0 else qa, q) for q in QUESTIONS[:4] for mc in (None, 0.0)}
    finally:
        cautious.close()
    with running(app) as url:
        def ask(job):
            question, mc, stream = job
            body = {"question": question, **({"min_confidence": mc} if mc is not None else {})}
            with httpx.Client(base_url=url, timeout=60) as client:
                response = client.post("/v1/ask/stream" if stream else "/v1/ask", json=body)
            answer = events(response.text)[-1][1] if stream else response.json()
            return job, without_timings(answer)

        jobs = [(q, mc, stream) for q in QUESTIONS[:4] for mc in (None, 0.0) for stream in (False, True)] * 2
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for (question, mc, _), answer in pool.map(ask, jobs):
                assert answer == expected[(question, mc)]
        assert app.state.live.loaded.index.path == qa.index.path  # one index generation, shared


# ---------------------------------------------------------------- a rebuild in another process


def _build_in_another_process(settings) -> None:
    env = {**os.environ, "PDQA_INDEX__DIR": str(settings.index_dir), "HF_HUB_OFFLINE": "1"}
    pdqa = Path(sys.executable).parent / "pdqa"
    done = subprocess.run([str(pdqa), "--corpus", str(settings.corpus_dir), "index", "build"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_a_rebuild_by_another_process_is_picked_up(scratch_settings):
    from pdqa.server.app import create_app

    app = create_app(scratch_settings)
    live = app.state.live
    question = {"question": "What colour was the pilot mascot heron?", "k": 1}
    before = request(app, "POST", "/v1/retrieve", json=question).json()
    assert before[0]["path"] != "mascot.txt"
    old = live.loaded
    in_flight = live.acquire()  # a request still running on the old generation
    assert in_flight is old

    (scratch_settings.corpus_dir / "mascot.txt").write_text(
        "# Mascot\n\nThe pilot mascot was a blue heron called Gerald, painted on every minibus.\n", encoding="utf-8")
    _build_in_another_process(scratch_settings)

    after = request(app, "POST", "/v1/retrieve", json=question).json()
    assert after[0]["path"] == "mascot.txt" and "blue heron" in after[0]["text"]
    assert "mascot" in {d["doc_id"] for d in request(app, "GET", "/v1/documents").json()["documents"]}
    assert request(app, "POST", "/v1/ask", json={"question": question["question"]}).status_code == 200
    report = request(app, "GET", "/v1/index").json()
    assert report["loaded_generation"] == report["live_generation"] != old.generation
    assert old.retired and old.index._lock is not None  # still open: a request uses it
    assert in_flight.qa.retrieve(question["question"], k=1)[0].path != "mascot.txt"  # and answers from the old one
    live.release(in_flight)
    assert old.index._lock is None  # closed once its last request was done
    # The next build may now remove the old generation: nothing holds it.
    (scratch_settings.corpus_dir / "mascot.txt").write_text(
        "# Mascot\n\nThe pilot mascot was a green heron called Gerald.\n", encoding="utf-8")
    _build_in_another_process(scratch_settings)
    assert not (scratch_settings.index_dir / old.generation).exists()
    latest = request(app, "POST", "/v1/retrieve", json=question).json()
    assert "green heron" in latest[0]["text"]
    live.close()


def test_requests_during_a_swap_all_succeed(scratch_settings):
    """Many threads ask while the generation is swapped under them: no error, no wrong index."""
    from pdqa.server.live import LiveQA

    live = LiveQA(scratch_settings)
    failures, answers = [], []
    stop = threading.Event()

    def keep_asking():
        while not stop.is_set():
            try:
                with live.lease() as loaded:
                    answers.append((loaded.generation, loaded.qa.ask(ANSWERED).answer))
            except Exception as exc:  # noqa: BLE001
                failures.append(exc)

    threads = [threading.Thread(target=keep_asking) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        (scratch_settings.corpus_dir / "more.txt").write_text("Another short document about staffing.\n", encoding="utf-8")
        _build_in_another_process(scratch_settings)
        deadline = time.monotonic() + 30
        while live.swaps == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures and live.swaps == 1
    assert len({generation for generation, _ in answers}) == 2 and all(text for _, text in answers)
    live.close()


# ---------------------------------------------------------------- a real uvicorn process


def test_pdqa_serve_in_its_own_process(built_settings, qa):
    port = free_port()
    env = {**os.environ, "PDQA_INDEX__DIR": str(built_settings.index_dir), "HF_HUB_OFFLINE": "1"}
    pdqa = Path(sys.executable).parent / "pdqa"
    process = subprocess.Popen([str(pdqa), "--corpus", str(built_settings.corpus_dir), "serve", "--port", str(port)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process)
        with httpx.Client(base_url=url, timeout=60) as client:
            answer = client.post("/v1/ask", json={"question": ANSWERED})
            assert without_timings(answer.json()) == _expected(qa, ANSWERED)
            _is_error(client.post("/v1/ask", json={"question": ""}), 400)
            assert client.get("/").status_code == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert f"127.0.0.1:{port}" in stderr and "Traceback" not in stderr


# ---------------------------------------------------------------- a short load test (bench/server_load.py is the long one)


def test_short_load_no_errors_same_answers(app, qa):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from server_load import measure

    with running(app) as url:
        figures = measure(url, qa, QUESTIONS[:5], clients=4, per_client=10)
    assert figures["errors"] == 0 and figures["mismatches"] == 0, figures
    assert figures["requests"] == 40
    print("\nshort load:", json.dumps(figures))


def test_an_in_process_llm_writes_one_reply_at_a_time():
    """llama-cpp runs in the server's process and is not thread-safe: concurrent requests take turns."""
    from pdqa.llm import Backend
    from pdqa.server.live import thread_safe

    state = {"active": 0, "most": 0}

    class Model:
        def stream_complete(self, prompt):
            state["active"] += 1
            state["most"] = max(state["most"], state["active"])
            try:
                for piece in "abc":
                    time.sleep(0.005)
                    yield piece
            finally:
                state["active"] -= 1

    backend = thread_safe(Backend("llama-cpp", "m", "", False, Model(), None))
    threads = [threading.Thread(target=lambda: "".join(backend.llm.stream_complete("x"))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state["most"] == 1
    early = backend.llm.stream_complete("x")
    next(early)
    early.close()  # a reader that stops early gives the model back
    assert not backend.llm._lock.locked()
    server_backend = Backend("openai-like", "m", "http://127.0.0.1:1/v1", True, Model(), None)
    assert thread_safe(server_backend) is server_backend  # an HTTP client is shared as it is


class _StreamingStandIn:
    """A QA whose stream is fixed: Waiting, two Sentences, Done (the web and API layers alone)."""

    def __init__(self, settings, index_dir):
        from types import SimpleNamespace

        from pdqa.models import Answer, Citation, RemovedClaim

        self.settings = settings
        self.index = SimpleNamespace(path=index_dir / "gen-standin", stale_reasons=[])
        self.citation = Citation(n=1, chunk_id="c1", doc_id="d", title="T", section="S", path="d.txt", start=0, end=9,
                                 quote="<b>quote</b>")
        self.answer = Answer(question="q?", answer="First <i>sentence</i>. [1] Second one. [1]", abstained=False,
                             mode="llm", confidence=0.9, citations=[self.citation],
                             removed=[RemovedClaim(sentence="A <script>bad</script> claim.", reason="not in the passage")])

    def ask_stream(self, question, k=None):
        from pdqa.qa import Done, Sentence, Waiting, checked_question

        checked_question(question)
        yield Waiting("stand-in at 127.0.0.1")
        yield Sentence("First <i>sentence</i>. [1]", [self.citation])
        yield Sentence("Second one. [1]", [])
        yield Done(self.answer)

    def close(self):
        pass


def test_streamed_sentences_reach_the_api_and_the_page_in_order(built_settings, tmp_path):
    from pdqa.server.app import create_app
    from pdqa.server.live import LiveQA

    (tmp_path / "CURRENT").write_text("gen-standin\n")
    settings = built_settings.changed(index={"dir": tmp_path})
    live = LiveQA(settings, opener=lambda s, o: _StreamingStandIn(s, tmp_path))
    app = create_app(settings, live=live)
    api = events(request(app, "POST", "/v1/ask/stream", json={"question": "q?"}).text)
    assert [name for name, _ in api] == ["waiting", "sentence", "sentence", "done"]
    assert api[0][1] == {"llm": "stand-in at 127.0.0.1"}
    assert api[1][1]["text"] == "First <i>sentence</i>. [1]" and api[1][1]["citations"][0]["quote"] == "<b>quote</b>"
    assert api[2][1] == {"text": "Second one. [1]", "citations": []}
    assert api[3][1]["removed"][0]["reason"] == "not in the passage"
    page = events(request(app, "POST", "/web/ask", data={"q": "q?"}).text)
    assert [name for name, _ in page] == ["status", "sentence", "sentence", "done"]
    assert "stand-in at 127.0.0.1" in page[0][1]["text"]
    first = page[1][1]["html"]
    assert "First &lt;i&gt;sentence&lt;/i&gt;." in first and 'href="#source-1"' in first and "<i>" not in first
    done = page[3][1]["html"]
    assert "&lt;script&gt;bad&lt;/script&gt;" in done and "<script>" not in done and '<details class="removed">' in done
    assert "&lt;b&gt;quote&lt;/b&gt;" in done
    _is_error(request(app, "POST", "/v1/ask/stream", json={"question": "  "}), 400)  # before the stream starts
    live.close()
