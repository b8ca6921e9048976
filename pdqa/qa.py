"""The public entry point: ``QA().ask(question)`` and ``QA().retrieve(question)``.

QA only wires the stages together: the index (opened once, by its one lifecycle), the embedder,
the retriever, the extractive answerer, and, with an LLM, generation and verification. What an
answer is made of is decided in the answer stage (``answers.py``).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass

from .answers import extractive_answer, llm_answer, would_answer
from .calibration import load_calibration
from .errors import BackendUnavailable, InvalidQuestion, LLMFallbackWarning
from .extractive import Draft, ExtractiveAnswerer
from .generate import reply_stream
from .index import Index, OnStale, Progress, build_index
from .llm import Backend, make_backend
from .models import Answer, Citation, Hit, Manifest
from .question import analyse, split_compound
from .retrieval import HybridRetriever
from .settings import Settings, check_top_k
from .text import words
from .verify import Asked, KeptClaim, ReplyReader, Verifier

MAX_QUESTION_CHARS = 2000


class QA:
    """Question answering over the configured corpus.

    Args:
        settings: pdqa settings; default: read from ``PDQA_*`` environment variables.
        on_stale: When the index is missing, stale or damaged: "raise" the error (the default:
            nothing is built behind your back), "rebuild" it, or "use" a stale but intact index
            as it is. See :meth:`Index.open`.
        progress: Told each build step, when a build happens.
        notice: Told in one line why a build starts.

    Raises:
        IndexNotBuilt, IndexStale, IndexCorrupt: As ``on_stale`` says.
        BackendUnavailable: ``settings.llm`` names a backend that cannot be set up.

    A QA may be shared between threads: its stages keep no per-question state, and questions
    pass through the reader one at a time (under a lock).

    Example:
        >>> QA(on_stale="rebuild").ask("Who wrote the Innovation in Action report?").citations[0].quote
    """

    def __init__(
        self,
        settings: Settings | None = None,
        on_stale: OnStale = "raise",
        progress: Progress | None = None,
        notice=None,
    ):
        self.settings = settings or Settings()
        self.index = Index.open(self.settings, on_stale, progress=progress, notice=notice)
        try:
            from .embeddings import OnnxEmbedder

            self.embedder = OnnxEmbedder(self.index.encoder_dir)
            self.retriever = HybridRetriever(self.index, self.settings.retrieval)
            self.answerer = ExtractiveAnswerer(self.index, self.settings.answer)
            # The calibration belongs to the answer model the answerer has already hashed.
            self.answerer.calibration = load_calibration(self.settings.answer.calibration, self.settings.corpus.dir,
                                                         self.answerer.model_sha256)
            self.backend: Backend | None = make_backend(self.settings.llm)
        except BaseException:
            self.index.close()  # no QA is returned to close it later (an unknown backend, a missing extra)
            raise
        self.not_found = self.index.manifest.not_found
        answerer = self.answerer
        self.verifier = Verifier(self.index, self.embedder, self.settings.verify, self.not_found,
                                 reader=lambda: answerer.reader, gives_orders=lambda vectors: answerer.model.orders(vectors))
        self._lock = threading.Lock()

    @property
    def rebuilt(self) -> bool:
        """Whether opening this QA built the index."""
        return self.index.rebuilt

    @property
    def manifest(self) -> Manifest:
        return self.index.manifest

    def close(self) -> None:
        """Release the index (a build in another process may then remove its files)."""
        self.index.close()

    def __enter__(self) -> QA:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def retrieve(self, question: str, k: int | None = None) -> list[Hit]:
        """Return the top ``k`` hits (default ``retrieval.top_k``) with fused and component scores."""
        text = checked_question(question)
        check_top_k(k)
        return self.retriever.retrieve(text, self.embedder.embed([text])[0], k)

    def ask(self, question: str, k: int | None = None) -> Answer:
        """Answer a question with citations, or abstain.

        Without an LLM the answer is extractive. With one, the model's reply is verified
        sentence by sentence; if nothing survives, or the model cannot be reached, the
        extractive answer is given with ``mode="extractive-fallback"``.

        Raises:
            InvalidQuestion: The question is not text, not valid Unicode, has no words or is too long.
            BackendUnavailable: The LLM failed and ``llm.strict`` is set.
        """
        *_, done = self.ask_stream(question, k)
        return done.answer

    def trace(self, question: str, k: int | None = None, depth: int | None = None) -> Trace:
        """The extractive answer with what the evaluation scores beside it (one pass, no LLM).

        Args:
            question: The question.
            k: Passages to answer from (default ``retrieval.top_k``).
            depth: Passages to retrieve and return in ``Trace.hits`` (at least ``k``); the answer
                uses the first ``k``, which fusion ranks the same at any depth.
        """
        text = checked_question(question)
        check_top_k(k)
        k = k or self.settings.retrieval.top_k
        timings: dict[str, float] = {}
        hits, draft = self._extract(text, k, max(depth or k, k), timings)
        answer = extractive_answer(text, draft, hits[:k], timings, self.not_found)
        return Trace(answer, hits, draft, would_answer(draft))

    def ask_stream(self, question: str, k: int | None = None) -> Iterator[Waiting | Sentence | Done]:
        """Answer as :meth:`ask` does, telling each verified LLM sentence as soon as it is known.

        Yields, with an LLM: ``Waiting`` when the model has been asked, then a ``Sentence`` for
        each sentence verification keeps, while the model is still writing (a removed sentence is
        never yielded); always, last: ``Done`` with the whole Answer, as :meth:`ask` returns it.

        Raises:
            InvalidQuestion: The question is empty, has no words or is too long.
            BackendUnavailable: The LLM failed and ``llm.strict`` is set.
        """
        text = checked_question(question)
        check_top_k(k)
        k = k or self.settings.retrieval.top_k
        timings: dict[str, float] = {}
        hits, draft = self._extract(text, k, k, timings)
        answer = extractive_answer(text, draft, hits, timings, self.not_found)
        if self.backend is not None:
            parts = [analyse(part) for part in split_compound(text)]
            answer = yield from self._stream_llm(answer, self._asked(parts, draft), timings)
        timings["total"] = round(sum(v for name, v in timings.items() if name != "total"), 2)
        yield Done(answer.model_copy(update={"timings_ms": timings}))

    def _asked(self, parts, draft: Draft) -> Asked:
        """The question as verification reads it: the reader's scores of the candidates, and of any
        other unit a sentence turns out to be supported by (the best part of a compound question)."""

        def score(unit_ids: list[int]) -> dict[int, float]:
            found: dict[int, float] = {}
            for part in parts:
                for unit_id, probability in self.answerer.probabilities_of(part.text, unit_ids).items():
                    found[unit_id] = max(probability, found.get(unit_id, 0.0))
            return found

        return Asked.of(parts, draft.unit_probabilities, score)

    def _extract(self, text: str, k: int, depth: int, timings: dict) -> tuple[list[Hit], Draft]:
        clock = _Clock(timings)
        parts = split_compound(text)
        compound = len(parts) > 1
        # One batch: the whole question for retrieval, then each part of a compound question.
        vectors = clock.run("embed", lambda: self.embedder.embed([text] + (parts if compound else [])))
        hits = clock.run("retrieve", lambda: self.retriever.retrieve(text, vectors[0], depth))
        part_vectors = vectors[1:] if compound else vectors
        questions = [analyse(part) for part in parts]
        with self._lock:  # one question at a time through the reader: ONNX Runtime gives one batch both cores
            draft = clock.run("answer", lambda: self.answerer.answer_all(questions, part_vectors, hits[:k]))
        return hits, draft

    def _stream_llm(self, extractive: Answer, asked: Asked, timings: dict):
        """Yield Waiting and each kept Sentence; return the final Answer."""
        from .answers import Numbering
        from .verify import Verifier as _Verifier

        backend, hits, clock = self.backend, extractive.hits, _Clock(timings)
        config = backend.settings
        reader = ReplyReader(config.reply_max_chars, config.reply_max_sentences, self.not_found)
        numbering, verdicts = Numbering(), []
        yield Waiting(backend.describe())
        reply = reply_stream(backend, extractive.question, hits, self.not_found)

        def check(claim):
            with self._lock:  # as for answering; the verifier also fills its word list on first use
                return self.verifier.check(claim, hits, asked)

        try:
            with closing(reply):  # leaving early (a full reader) closes the connection
                for delta in clock.timed("generate", reply):
                    for claim in reader.feed(delta):
                        verdicts.append(clock.add("verify", lambda: check(claim)))
                        yield from _kept_sentence(verdicts[-1], numbering)
                    if reader.full:
                        break
        except BackendUnavailable as exc:
            if config.strict:
                raise
            if not any(isinstance(v, KeptClaim) for v in verdicts):
                # One line, not a traceback: the user asked for an answer and still gets one.
                warnings.warn(f"{exc}; answering without the LLM", LLMFallbackWarning, stacklevel=4)
                return extractive.model_copy(update={"mode": "extractive-fallback", "llm": backend.info})
            warnings.warn(f"{exc}; the reply was cut short", LLMFallbackWarning, stacklevel=4)
        for claim in reader.finish():
            verdicts.append(clock.add("verify", lambda: check(claim)))
            yield from _kept_sentence(verdicts[-1], numbering)
        return llm_answer(extractive, reader.text, _Verifier.conclude(verdicts), backend.info, self.not_found)


def build(settings: Settings, progress: Progress | None = None, reuse: bool = True) -> Manifest:
    """Build the index for ``settings``.

    Args:
        settings: Where the corpus, model and index are.
        progress: Told each build step.
        reuse: Reuse the live index's encoder, vectors and texts where they still match (False: a full rebuild).
    """
    return build_index(settings, progress, reuse=reuse)


def checked_question(question: str) -> str:
    """The question with spaces folded, or InvalidQuestion saying why it cannot be asked."""
    if question is not None and not isinstance(question, str):
        raise InvalidQuestion(f"the question must be text, not {type(question).__name__}")
    text = " ".join((question or "").split())
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates, e.g. invalid UTF-8 bytes in argv
        raise InvalidQuestion(
            f"the question is not valid text: character {exc.start + 1} is not a Unicode character"
        ) from exc
    if not text:
        raise InvalidQuestion("the question is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidQuestion(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    if not words(text):
        raise InvalidQuestion("the question has no words (only punctuation or symbols)")
    return text


@dataclass
class Trace:
    """An extractive answer with what evaluation needs beside it.

    Attributes:
        answer: The Answer, as :meth:`QA.ask` gives it without an LLM.
        hits: The passages retrieved, to the depth asked for.
        draft: The answerer's choice, with its confidence and unit scores.
        forced: The answer text at any confidence ('' when nothing could be quoted).
    """

    answer: Answer
    hits: list[Hit]
    draft: Draft
    forced: str


class _Clock:
    """Times named steps into a dict of milliseconds."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings

    def run(self, name, step):
        started = time.perf_counter()
        result = step()
        self.timings[name] = round((time.perf_counter() - started) * 1000, 2)
        return result

    def add(self, name, step):
        """Run ``step``, adding its time to what ``name`` already took."""
        started = time.perf_counter()
        result = step()
        self.timings[name] = round(self.timings.get(name, 0.0) + (time.perf_counter() - started) * 1000, 2)
        return result

    def timed(self, name, iterator):
        """Yield from ``iterator``, adding the time spent waiting for each item to ``name``."""
        iterator = iter(iterator)
        while True:
            try:
                item = self.add(name, lambda: next(iterator))
            except StopIteration:
                return
            yield item


@dataclass
class Waiting:
    """The LLM has been asked and pdqa waits for its reply; ``llm`` says which model, where."""

    llm: str


@dataclass
class Sentence:
    """A sentence of the LLM reply that verification kept, with [n] markers.

    ``citations`` are the sources it is the first to cite; the Answer holds them all.
    """

    text: str
    citations: list[Citation]


@dataclass
class Done:
    """The whole answer, as ``QA.ask`` returns it."""

    answer: Answer


def _kept_sentence(verdict, numbering) -> Iterator[Sentence]:
    if isinstance(verdict, KeptClaim):
        text, new = numbering.cite(verdict)
        yield Sentence(text, new)
