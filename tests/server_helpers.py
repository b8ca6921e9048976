"""Helpers for the server tests: a small corpus of documents, the app through httpx's ASGI
transport, a real uvicorn server on a loopback port, and SSE parsing."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

import documents as docs

LOCAL = "http://127.0.0.1"
# Text a reader keeps as it is: markup that must be shown, never run.
EVIL_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Rota review</title>
<script>window.__pdqa_pwned = "head";</script></head>
<body><main><article>
<h1>Rota review</h1>
<p>The night shift review found that staff typed &lt;script&gt;window.__pdqa_pwned = "text"&lt;/script&gt; into the rota by mistake.</p>
<p>The handover notes also held the tag &lt;img src=x onerror="window.__pdqa_pwned = 'img'"&gt; beside the duty list.</p>
<script>window.__pdqa_pwned = "body";</script>
<img src="x" onerror="window.__pdqa_pwned = 'onerror'">
</article></main></body></html>
"""
EVIL_MD = """# Ward handover

The ward handover sheet says <script>window.__pdqa_pwned = "md"</script> before the medicine round.

A margin note reads <img src=x onerror="window.__pdqa_pwned = 'md-img'"> next to the night staff rota.
"""
EVIL_SCRIPT = '<script>window.__pdqa_pwned = "md"</script>'


def make_server_corpus(folder: Path) -> Path:
    """report.pdf and page.html (tests/documents.py), and two files whose text holds markup."""
    folder.mkdir(parents=True, exist_ok=True)
    docs.make_pdf(folder / "report.pdf")
    docs.make_html(folder / "page.html")
    (folder / "rota.html").write_text(EVIL_HTML, encoding="utf-8")
    (folder / "handover.md").write_text(EVIL_MD, encoding="utf-8")
    return folder


def build_reusing(built_settings, corpus: Path, index_dir: Path):
    """Settings over ``corpus`` with an index built in ``index_dir``, reusing the session index's
    encoder (a copy of its folder is the previous generation), so no ONNX export runs again."""
    from pdqa.qa import build

    shutil.copytree(built_settings.index_dir, index_dir)
    settings = built_settings.changed(corpus={"dir": corpus}, index={"dir": index_dir})
    build(settings)
    return settings


def request(app, method: str, url: str, **kwargs) -> httpx.Response:
    """One request to the app through httpx's ASGI transport (no socket)."""

    cookies = kwargs.pop("cookies", None)

    async def send():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=LOCAL, cookies=cookies) as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(send())


def events(body: str) -> list[tuple[str, object]]:
    """The (event, data) pairs of a text/event-stream body, data parsed as JSON."""
    found = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        found.append((name, json.loads("\n".join(data))))
    return found


def without_timings(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "timings_ms"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(app, port: int | None = None):
    """``app`` served by uvicorn on a loopback port, in a thread of this process; yields its URL."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"{LOCAL}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def wait_for_health(url: str, process=None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no answer from {url} within {seconds} s")
