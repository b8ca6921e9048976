"""Server-sent events from ``QA.ask_stream``: Waiting, Sentence and Done, as they happen.

The question is checked, and the first event computed, before the response starts, so a bad
question still gets its 400 (and a missing index its 503) as a plain JSON error. After that,
one worker thread owns the stream: it pulls the events, hands each to the event loop, and when
the client goes away stops at the next event, closes the stream (and with it the LLM connection)
and gives the QA back. A failure after the start arrives as an ``error`` event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool

from ..errors import PdqaError
from ..qa import Done, Sentence, Waiting
from .errors import body, pdqa_body, status_of
from .live import LiveQA, Options

log = logging.getLogger("pdqa.server")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
END = object()

Encoder = Callable[[object], tuple[str, object]]  # event -> (name, JSON-ready data)


def sse(name: str, data) -> bytes:
    """One server-sent event; ``data`` as one line of JSON."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"event: {name}\ndata: {text}\n\n".encode("utf-8")


def api_event(event) -> tuple[str, object]:
    """The API's events: waiting {llm}, sentence {text, citations}, done (the Answer)."""
    if isinstance(event, Waiting):
        return "waiting", {"llm": event.llm}
    if isinstance(event, Sentence):
        return "sentence", {"text": event.text, "citations": [c.model_dump() for c in event.citations]}
    if isinstance(event, Done):
        return "done", event.answer.model_dump_json()
    raise TypeError(f"unknown event {event!r}")


def error_event(exc: BaseException) -> tuple[str, object]:
    if isinstance(exc, PdqaError):
        return "error", {**pdqa_body(exc), "status": status_of(exc)}
    return "error", {**body("internal error: the answer failed", "The server's log has the details."), "status": 500}


async def start_stream(live: LiveQA, options: Options, question: str, k: int | None,
                       encode: Encoder = api_event, encode_error: Callable = error_event) -> AsyncIterator[bytes]:
    """The event stream of one question, started: raises (as JSON errors do) before any byte is sent."""
    loaded = await run_in_threadpool(live.acquire)
    try:
        qa = loaded.variant(options)
        events = qa.ask_stream(question, k)
        first = await run_in_threadpool(next, events)
    except BaseException:
        live.release(loaded)
        raise
    return _relay(live, loaded, events, first, encode, encode_error)


async def _relay(live, loaded, events, first, encode, encode_error) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def put(item) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone (server shutting down): nobody is listening
            stop.set()

    def pump() -> None:
        try:
            put(("event", first))
            if not isinstance(first, Done):
                for event in events:
                    if stop.is_set():
                        break
                    put(("event", event))
                    if isinstance(event, Done):
                        break
        except PdqaError as exc:
            put(("error", exc))
        except Exception as exc:  # noqa: BLE001 - reported to the client as an error event, logged here
            log.exception("a streamed answer failed")
            put(("error", exc))
        finally:
            try:
                events.close()
            finally:
                live.release(loaded)
                put(("end", None))

    worker = threading.Thread(target=pump, name="pdqa-stream", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = await queue.get()
            if kind == "end":
                return
            name, data = encode(item) if kind == "event" else encode_error(item)
            yield sse(name, data)
    finally:
        stop.set()  # the client left early, or the stream ended: the worker stops at the next event
