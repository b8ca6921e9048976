"""The public entry point: ``QA().ask(question)`` and ``QA().retrieve(question)``."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .errors import BackendUnavailable, IndexCorrupt, IndexNotBuilt, IndexStale, InvalidQuestion, LLMFallbackWarning
from .extractive import Candidate, Draft, ExtractiveAnswerer
from .generate import NOT_FOUND, reply_stream
from .index import IndexData, Progress, build_index, load_index
from .models import Answer, Chunk, Citation, Hit, LLMInfo, Unit
from .question import analyse, split_compound
from .retrieval import HybridRetriever
from .settings import Settings, check_top_k
from .verify import Asked, KeptClaim, ReplyReader, Verification, Verifier

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

MAX_QUESTION_CHARS = 2000


class QA:
    """Question answering over the configured corpus.

    Args:
        settings: pdqa settings; default: read from ``PDQA_*`` environment variables.
        rebuild: False raises IndexNotBuilt/IndexStale/IndexCorrupt when the index is missing,
            stale or damaged; "auto" builds it in that case; True always rebuilds first.
        progress: Called with build progress when a build happens.
        llm: A LlamaIndex LLM to write answers with, used instead of the one
            ``settings.llm`` names (tests pass a scripted fake here).
        corpus_dir: Answer over this folder instead of ``settings.corpus_dir``; it gets its
            own index (see ``Settings.for_corpus``).
        allow_stale: Load the index even if the corpus or model changed since it was built
            (it must still be intact); for answering while a rebuild is impossible.

    Raises:
        BackendUnavailable: ``settings.llm`` names a backend that cannot be set up.

    Example:
        >>> QA().ask("Who wrote the Innovation in Action report?").citations[0].quote
    """

    def __init__(
        self,
        settings: Settings | None = None,
        rebuild: bool | Literal["auto"] = False,
        progress: Progress | None = None,
        llm: LLM | None = None,
        corpus_dir: Path | str | None = None,
        allow_stale: bool = False,
    ):
        settings = settings or Settings()
        self.settings = settings if corpus_dir is None else settings.for_corpus(Path(corpus_dir))
        self.rebuilt = False
        self.index = self._open_index(rebuild, progress, allow_stale)
        from .embeddings import OnnxEmbedder

        self.embedder = OnnxEmbedder(self.index.encoder_dir)
        self.retriever = HybridRetriever(self.index, self.settings)
        self.answerer = ExtractiveAnswerer(self.index, self.settings)
        self.llm, self.llm_info = self._open_llm(llm)
        self.verifier = Verifier(self.index, self.embedder, self.settings.llm, NOT_FOUND)

    def _open_index(self, rebuild, progress, allow_stale) -> IndexData:
        if rebuild is True:
            build_index(self.settings, progress)
            self.rebuilt = True
            return load_index(self.settings, check=False)
        try:
            return load_index(self.settings, check=not allow_stale)
        except (IndexNotBuilt, IndexStale, IndexCorrupt):
            if rebuild != "auto":
                raise
        build_index(self.settings, progress)
        self.rebuilt = True
        return load_index(self.settings, check=False)

    def _open_llm(self, llm) -> tuple[LLM | None, LLMInfo | None]:
        config = self.settings.llm
        if llm is None and config.backend == "none":
            return None, None
        if llm is None:
            from .llm import make_llm

            llm = make_llm(config)
        backend = config.backend if config.backend != "none" else type(llm).__name__
        return llm, LLMInfo(backend=backend, model=config.model or llm.metadata.model_name)

    def _uses_chat(self) -> bool:
        from .llm import uses_chat

        return uses_chat(self.settings.llm) if self.settings.llm.backend != "none" else self.llm.metadata.is_chat_model

    def retrieve(self, question: str, k: int | None = None) -> list[Hit]:
        """Return the top ``k`` hits (default ``settings.top_k``) with fused and component scores."""
        text = _checked(question)
        check_top_k(k)
        return self.retriever.retrieve(text, self.embedder.embed([text])[0], k)

    def ask(self, question: str, k: int | None = None) -> Answer:
        """Answer a question with citations, or abstain.

        Without an LLM the answer is extractive. With one, the model's reply is verified
        sentence by sentence; if nothing survives, or the model cannot be reached, the
        extractive answer is given with ``mode="extractive-fallback"``.

        Raises:
            InvalidQuestion: The question is not text, not valid Unicode, empty or too long.
            BackendUnavailable: The LLM failed and ``settings.llm.strict`` is set.
        """
        *_, done = self.ask_stream(question, k)
        return done.answer

    def ask_stream(self, question: str, k: int | None = None) -> Iterator[Waiting | Sentence | Done]:
        """Answer as :meth:`ask` does, telling each verified LLM sentence as soon as it is known.

        Yields, with an LLM: ``Waiting`` when the model has been asked, then a ``Sentence`` for
        each sentence verification keeps, while the model is still writing (a removed sentence is
        never yielded); always, last: ``Done`` with the whole Answer, as :meth:`ask` returns it.

        Raises:
            InvalidQuestion: The question is empty or too long.
            BackendUnavailable: The LLM failed and ``settings.llm.strict`` is set.
        """
        text = _checked(question)
        check_top_k(k)
        timings: dict[str, float] = {}
        clock = _Clock(timings)
        parts = split_compound(text)
        compound = len(parts) > 1
        # One batch: the whole question for retrieval, then each part of a compound question.
        vectors = clock.run("embed", lambda: self.embedder.embed([text] + (parts if compound else [])))
        hits = clock.run("retrieve", lambda: self.retriever.retrieve(text, vectors[0], k))
        part_vectors = vectors[1:] if compound else vectors
        questions = [analyse(part) for part in parts]
        draft = clock.run("answer", lambda: self.answerer.answer_all(questions, part_vectors, hits))
        if self.llm is None:
            timings["total"] = sum(timings.values())
            yield Done(build_answer(text, draft, hits, timings))
            return
        answer = yield from self._stream_llm(build_answer(text, draft, hits, timings), Asked.of(questions, draft.unit_probabilities), clock)
        timings["total"] = sum(timings.values())
        yield Done(answer.model_copy(update={"timings_ms": timings}))

    def _stream_llm(self, extractive: Answer, asked: Asked, clock: _Clock):
        """Yield Waiting and each kept Sentence; return the final Answer."""
        config, hits = self.settings.llm, extractive.hits
        reader, numbering, verdicts = ReplyReader(config.reply_max_chars, config.reply_max_sentences), _Numbering(), []
        yield Waiting(self._llm_words())
        reply = reply_stream(self.llm, extractive.question, hits, self._llm_words(), self._uses_chat())
        try:
            with closing(reply):  # leaving early (a full reader) closes the connection
                for delta in clock.timed("generate", reply):
                    for claim in reader.feed(delta):
                        verdicts.append(clock.add("verify", lambda: self.verifier.check(claim, hits, asked)))
                        yield from _kept_sentence(verdicts[-1], numbering)
                    if reader.full:
                        break
        except BackendUnavailable as exc:
            if config.strict:
                raise
            if not any(isinstance(v, KeptClaim) for v in verdicts):
                # One line, not a traceback: the user asked for an answer and still gets one.
                warnings.warn(f"{exc}; answering without the LLM", LLMFallbackWarning, stacklevel=4)
                return extractive.model_copy(update={"mode": "extractive-fallback", "llm": self.llm_info})
            warnings.warn(f"{exc}; the reply was cut short", LLMFallbackWarning, stacklevel=4)
        for claim in reader.finish():
            verdicts.append(clock.add("verify", lambda: self.verifier.check(claim, hits, asked)))
            yield from _kept_sentence(verdicts[-1], numbering)
        return llm_answer(extractive, reader.text, Verifier.conclude(verdicts), self.llm_info)

    def _llm_words(self) -> str:
        from .llm import describe

        return describe(self.settings.llm) if self.settings.llm.backend != "none" else self.llm_info.backend


def _checked(question: str) -> str:
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
    return text


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


class _Numbering:
    """Numbers supporting units [1], [2], ... in the order the kept sentences first cite them."""

    def __init__(self):
        self.citations: dict[int, Citation] = {}

    def cite(self, claim: KeptClaim) -> Sentence:
        new = []
        for unit, chunk in claim.support:
            if unit.unit_id not in self.citations:
                self.citations[unit.unit_id] = cite_unit(len(self.citations) + 1, unit, chunk)
                new.append(self.citations[unit.unit_id])
        markers = "".join(f"[{self.citations[unit.unit_id].n}]" for unit, _ in claim.support)
        return Sentence(f"{claim.text} {markers}", new)


def _kept_sentence(verdict, numbering: _Numbering) -> Iterator[Sentence]:
    if isinstance(verdict, KeptClaim):
        yield numbering.cite(verdict)


def cite(n: int, candidate: Candidate) -> Citation:
    """A citation of a candidate unit's exact span."""
    return cite_unit(n, candidate.unit, candidate.chunk)


def cite_unit(n: int, unit: Unit, chunk: Chunk) -> Citation:
    """A citation of a unit's exact span."""
    return Citation(
        n=n,
        doc_id=chunk.doc_id,
        title=chunk.title,
        section=chunk.section,
        chunk_id=chunk.chunk_id,
        start=unit.start,
        end=unit.end,
        quote=unit.text,
        page=unit.page,
        source_path=chunk.path,
    )


def build_answer(question: str, draft: Draft, hits: list[Hit], timings: dict) -> Answer:
    """Turn the answerer's choice into an Answer whose text carries a [n] after each part."""
    related = [cite(n, c) for n, c in enumerate(draft.related, start=1)]
    if draft.abstained:
        return Answer(
            question=question,
            answer=NOT_FOUND,
            abstained=True,
            mode="extractive",
            confidence=draft.confidence,
            abstain_reason=draft.reason,
            related=related,
            hits=hits,
            timings_ms=timings,
        )
    citations = [cite(n, c) for n, c in enumerate(draft.parts, start=1)]
    text = " ".join(f"{display_text(c.quote)} [{c.n}]" for c in citations)
    return Answer(
        question=question,
        answer=text,
        abstained=False,
        mode="extractive",
        confidence=draft.confidence,
        citations=citations,
        hits=hits,
        timings_ms=timings,
    )


def llm_answer(extractive: Answer, raw: str, verification: Verification, info: LLMInfo) -> Answer:
    """The verified LLM answer; the extractive one when nothing survives verification.

    Args:
        extractive: The extractive answer to the same question over the same hits.
        raw: The model's reply as received.
        verification: What verification kept and removed.
        info: Backend and model, recorded in the answer.
    """
    common = {"raw_answer": raw, "removed": verification.removed, "llm": info}
    if verification.kept:
        text, citations = _cited_text(verification)
        return extractive.model_copy(
            update={"answer": text, "citations": citations, "abstained": False, "abstain_reason": "",
                    "related": [], "mode": "llm", **common}
        )
    if verification.not_found:
        return extractive.model_copy(
            update={"answer": NOT_FOUND, "citations": [], "abstained": True, "mode": "llm",
                    "abstain_reason": "the model found no answer in the passages",
                    "related": extractive.related or extractive.citations, **common}
        )
    return extractive.model_copy(update={"mode": "extractive-fallback", **common})


def _cited_text(verification: Verification) -> tuple[str, list[Citation]]:
    """Kept sentences with [n] markers, and one citation per distinct supporting unit."""
    numbering = _Numbering()
    sentences = [numbering.cite(claim).text for claim in verification.kept]
    return " ".join(sentences), list(numbering.citations.values())


def display_text(quote: str) -> str:
    """A quote as it reads in an answer: spaces folded, list items on lines of their own."""
    lines = [" ".join(line.split()) for line in quote.splitlines() if line.strip()]
    if len(lines) == 1:
        return lines[0]
    return lines[0] + "".join(f"\n- {line}" for line in lines[1:])
