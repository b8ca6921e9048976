"""One QA per process, shared by every request, and swapped when another process rebuilds the index.

``pdqa index build`` in another process writes a new generation and points the index folder's
``CURRENT`` file at it. Each request starts by reading ``CURRENT`` (one small file); when it names
another generation than the loaded one, that request opens the new generation (one load at a
time: requests that arrive meanwhile keep using the loaded QA) and swaps it in. Requests still
running on the old QA finish on it; the old QA is closed, releasing its generation to the next
build's clean-up, when the last of them is done. A build never runs here: the index is opened
with ``on_stale`` "use" or "raise".

Per-request options (``min_confidence``, an LLM) are *variants* of the loaded QA: they share its
index, encoder, retriever and caches (and the lock that guards those caches) and differ only in
their answer settings and LLM backend.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from ..errors import BackendUnavailable, InvalidSetting, PdqaError
from ..index import CURRENT_FILE
from ..llm import make_backend
from ..settings import Settings

log = logging.getLogger("pdqa.server")

ServerStale = Literal["use", "raise"]
RETRY_AFTER_FAILURE_S = 2.0  # a generation that failed to open is tried again after this long
MAX_VARIANTS = 16


@dataclass(frozen=True)
class Options:
    """What a request may change for its own answer: the threshold and the LLM (as the CLI flags)."""

    min_confidence: float | None = None
    llm: str | None = None
    base_url: str | None = None
    model: str | None = None
    strict: bool | None = None

    @property
    def default(self) -> bool:
        return self == Options()


@dataclass
class Loaded:
    """A QA over one index generation, with the number of requests using it."""

    qa: object  # pdqa.qa.QA
    generation: str
    loaded_at: float = field(default_factory=time.time)
    users: int = 0
    retired: bool = False
    _variants: OrderedDict = field(default_factory=OrderedDict)
    _variant_lock: threading.Lock = field(default_factory=threading.Lock)
    # What the document endpoints derive from this generation, made on first use (documents.py).
    _documents: dict | None = field(default=None, repr=False)
    _sections: object = field(default=None, repr=False)

    @property
    def manifest(self):
        return self.qa.manifest

    @property
    def index(self):
        return self.qa.index

    def variant(self, options: Options):
        """The QA for ``options``: the loaded one, or a variant sharing its index and caches.

        Raises:
            InvalidSetting: An option is out of range, or names no LLM backend.
        """
        if options.default:
            return self.qa
        with self._variant_lock:
            found = self._variants.get(options)
            if found is not None:
                self._variants.move_to_end(options)
                return found
            made = _variant(self.qa, options)
            self._variants[options] = made
            while len(self._variants) > MAX_VARIANTS:
                self._variants.popitem(last=False)
            return made


def _variant(qa, options: Options):
    settings = qa.settings
    if options.min_confidence is not None:
        settings = settings.changed(answer={"min_confidence": options.min_confidence})
    flags = {"backend": options.llm, "base_url": options.base_url, "model": options.model, "strict": options.strict}
    given = {name: value for name, value in flags.items() if value is not None}
    if given:
        settings = settings.changed(llm=given)
    variant = copy.copy(qa)  # shares the index, embedder, retriever, verifier and their lock
    variant.settings = settings
    if settings.answer != qa.settings.answer:
        variant.answerer = copy.copy(qa.answerer)  # the same unit-term caches, another threshold
        variant.answerer.settings = settings.answer
    if settings.llm != qa.settings.llm:
        try:
            variant.backend = thread_safe(make_backend(settings.llm))
        except BackendUnavailable as exc:  # the request named a backend that cannot be set up
            raise InvalidSetting(str(exc), exc.hint) from exc
    variant.close = lambda: None  # a variant never closes the index it borrows
    return variant


IN_PROCESS_BACKENDS = ("llama-cpp",)


class _OneReplyAtATime:
    """An LLM run in this process (llama-cpp) is not thread-safe: it writes one reply at a time.

    The lock is held while a reply streams and released when the stream ends or is closed (QA
    closes it when it stops reading early).
    """

    def __init__(self, llm):
        self._llm = llm
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self._llm, name)

    def _locked(self, method, *args, **kwargs):
        with self._lock:
            yield from method(*args, **kwargs)

    def stream_complete(self, *args, **kwargs):
        return self._locked(self._llm.stream_complete, *args, **kwargs)

    def stream_chat(self, *args, **kwargs):
        return self._locked(self._llm.stream_chat, *args, **kwargs)

    def complete(self, *args, **kwargs):
        with self._lock:
            return self._llm.complete(*args, **kwargs)

    def chat(self, *args, **kwargs):
        with self._lock:
            return self._llm.chat(*args, **kwargs)


def thread_safe(backend):
    """``backend``, its replies serialised when its model runs in this process; servers' clients are shared as they are."""
    if backend is None or backend.name not in IN_PROCESS_BACKENDS or isinstance(backend.llm, _OneReplyAtATime):
        return backend
    return dataclasses.replace(backend, llm=_OneReplyAtATime(backend.llm))


class QAUnavailable(PdqaError):
    """The index opened, but a stage the answers need (the answer model, the LLM set in the settings) did not."""


def default_opener(settings: Settings, on_stale: ServerStale):
    from ..qa import QA

    return QA(settings, on_stale=on_stale)


class LiveQA:
    """The QA of the live index generation, opened lazily and swapped when ``CURRENT`` moves.

    Args:
        settings: Where the corpus and index are, and the default answer and LLM settings.
        on_stale: "use" a stale but intact index as it is, or "raise" IndexStale (never "rebuild").
        opener: Opens a QA (tests pass their own); default: ``QA(settings, on_stale=on_stale)``.
    """

    def __init__(self, settings: Settings, on_stale: ServerStale = "use",
                 opener: Callable[[Settings, ServerStale], object] | None = None):
        if on_stale not in ("use", "raise"):
            raise ValueError("a server opens its index with on_stale 'use' or 'raise', never 'rebuild'")
        self.settings = settings
        self.on_stale = on_stale
        self._opener = opener or default_opener
        self._lock = threading.Lock()  # guards _current and every Loaded.users
        self._loading = threading.Lock()  # one open at a time
        self._current: Loaded | None = None
        self._failure: tuple[str | None, float, PdqaError] | None = None
        self.swaps = 0

    # ------------------------------------------------------------ what is live

    def live_generation(self) -> str | None:
        """The generation ``CURRENT`` names now (None when there is none or it cannot be read)."""
        try:
            return (self.settings.index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    @property
    def loaded(self) -> Loaded | None:
        """The QA requests are given now, if one is loaded (no load is attempted)."""
        return self._current

    # ------------------------------------------------------------ leases

    @contextmanager
    def lease(self) -> Iterator[Loaded]:
        """The live QA for one request; it stays open until the request is done with it.

        Raises:
            IndexNotBuilt, IndexStale, IndexCorrupt, CorpusError: No QA can be opened (and none
                was loaded before).
        """
        loaded = self.acquire()
        try:
            yield loaded
        finally:
            self.release(loaded)

    def acquire(self) -> Loaded:
        """Take the live QA (pair with :meth:`release`); opens a new generation when one is live."""
        live = self.live_generation()
        with self._lock:
            current = self._current
            if current is not None and (current.generation == live or live is None):
                current.users += 1
                return current
        if current is not None and not self._loading.acquire(blocking=False):
            return self._take_current()  # another request is loading the new generation
        if current is None:
            self._loading.acquire()
        try:
            return self._swap_in(live)
        finally:
            self._loading.release()

    def release(self, loaded: Loaded) -> None:
        with self._lock:
            loaded.users -= 1
            close = loaded.retired and loaded.users == 0
        if close:
            self._close(loaded)

    def _take_current(self) -> Loaded:
        with self._lock:
            current = self._current
            current.users += 1
            return current

    def _swap_in(self, live: str | None) -> Loaded:
        with self._lock:
            current = self._current
            if current is not None and current.generation == live:
                current.users += 1  # loaded by the request that held the loading lock before us
                return current
        failure = self._failure
        if failure is not None and failure[0] == live and time.monotonic() - failure[1] < RETRY_AFTER_FAILURE_S:
            if current is not None:
                return self._take_current()
            raise failure[2]
        try:
            qa = self._opener(self.settings, self.on_stale)
        except BackendUnavailable as exc:  # not the request's fault, nor an LLM's answer: the server's
            exc = QAUnavailable(str(exc), exc.hint)
            self._failure = (live, time.monotonic(), exc)
            if current is None:
                raise exc from None
            log.warning("index generation %s cannot be used (%s); still answering from %s", live, exc, current.generation)
            return self._take_current()
        except PdqaError as exc:
            self._failure = (live, time.monotonic(), exc)
            if current is None:
                raise
            log.warning("index generation %s cannot be opened (%s); still answering from %s", live, exc, current.generation)
            return self._take_current()
        self._failure = None
        if getattr(qa, "backend", None) is not None:
            qa.backend = thread_safe(qa.backend)
        new = Loaded(qa, generation=qa.index.path.name)
        with self._lock:
            old, self._current = self._current, new
            new.users += 1
            close_old = False
            if old is not None:
                old.retired = True
                close_old = old.users == 0
        if old is not None:
            self.swaps += 1
            log.info("index generation %s loaded (was %s)", new.generation, old.generation)
        if close_old:
            self._close(old)
        return new

    def _close(self, loaded: Loaded) -> None:
        try:
            loaded.qa.close()
        except Exception:  # noqa: BLE001 - closing must not fail a request that already has its answer
            log.exception("closing index generation %s failed", loaded.generation)

    def preload(self) -> Loaded | None:
        """Open the live QA now (at start-up); None, logged, when it cannot be opened yet."""
        try:
            loaded = self.acquire()
        except PdqaError as exc:
            log.warning("%s (hint: %s); requests get an error until the index is built", exc, exc.hint)
            return None
        self.release(loaded)
        return loaded

    def close(self) -> None:
        """Close the loaded QA once no request uses it (a later request opens the index again)."""
        with self._lock:
            current, self._current = self._current, None
            close = False
            if current is not None:
                current.retired = True
                close = current.users == 0
        if close:
            self._close(current)
