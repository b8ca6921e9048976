"""Shared fixtures: one real index built once per session in a temporary folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests never read or write the user's cache of indexes: an index folder is always given.
os.environ.pop("PDQA_INDEX__DIR", None)

REPO = Path(__file__).resolve().parent.parent
CORPUS_DIR = REPO / "corpus"
CORPUS_FILE = CORPUS_DIR / "innovation-in-action.txt"


@pytest.fixture(scope="session")
def corpus_text() -> str:
    """The stored corpus file, exactly as on disk."""
    return CORPUS_FILE.read_bytes().decode("utf-8")


@pytest.fixture(scope="session")
def built_settings(tmp_path_factory):
    """Settings pointing at a corpus copy and an index built from it once for the session."""
    from pdqa.qa import build
    from pdqa.settings import Settings

    root = tmp_path_factory.mktemp("pdqa")
    shutil.copytree(CORPUS_DIR, root / "corpus")
    settings = Settings(corpus={"dir": root / "corpus"}, index={"dir": root / "indexes" / "default"})
    build(settings)
    return settings


@pytest.fixture(scope="session")
def qa(built_settings):
    """A QA object over the session index."""
    from pdqa.qa import QA

    return QA(built_settings)


@pytest.fixture(scope="session")
def answering_qa(built_settings):
    """A QA that answers whenever a passage can be quoted: tests which units are chosen and how
    they are composed, apart from the confidence threshold (which the evaluation measures)."""
    from pdqa.qa import QA

    return QA(built_settings.changed(answer={"min_confidence": 0.0}))


@pytest.fixture
def scratch_settings(built_settings, tmp_path):
    """A private copy of the corpus and the built index, free to modify in a test.

    An index records the corpus folder it was built from; the copy is re-pointed at the copied
    corpus, as if it had been built there (the manifest is not among the files an index hashes).
    """
    shutil.copytree(built_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(built_settings.index_dir, tmp_path / "indexes" / "default")
    settings = built_settings.changed(corpus={"dir": tmp_path / "corpus"}, index={"dir": tmp_path / "indexes" / "default"})
    repoint_index(settings)
    return settings


def repoint_index(settings) -> None:
    """Record ``settings.corpus_dir`` as the corpus of the live generation of ``settings.index_dir``."""
    import json

    from pdqa.index import CURRENT_FILE, MANIFEST_FILE

    generation = settings.index_dir / (settings.index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip()
    manifest = json.loads((generation / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["corpus_dir"] = str(Path(settings.corpus_dir).resolve())
    (generation / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


# ---------------------------------------------------------------- a scripted fake LLM


def _scripted_llm_class():
    """A LlamaIndex CustomLLM that replays canned replies and records every prompt it gets.

    Built on first use so that collecting the tests does not import llama_index.
    """
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback
    from pydantic import Field

    class ScriptedLLM(CustomLLM):
        """Replies with ``replies`` in order (the last one repeats); an exception reply is raised.

        A reply given as a list of strings is streamed piece by piece; ``streamed`` records the
        pieces handed out so far.
        """

        replies: list = Field(default_factory=list)
        prompts: list[str] = Field(default_factory=list)
        streamed: list[str] = Field(default_factory=list)

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(model_name="scripted-fake")

        def _next(self, prompt: str):
            self.prompts.append(prompt)
            reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
            if isinstance(reply, BaseException):
                raise reply
            return reply if isinstance(reply, list) else [reply]

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
            return CompletionResponse(text="".join(self._next(prompt)))

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kwargs):
            text = ""
            for piece in self._next(prompt):
                self.streamed.append(piece)
                text += piece
                yield CompletionResponse(text=text, delta=piece)

    return ScriptedLLM


@pytest.fixture(scope="session")
def scripted_llm():
    """Make a scripted fake LLM: ``scripted_llm("reply 1", "reply 2")``; ``.prompts`` records prompts."""
    cls = _scripted_llm_class()
    return lambda *replies: cls(replies=list(replies))


@pytest.fixture
def scripted(scripted_llm):
    """Register a scripted backend named "scripted": ``llm = scripted("reply 1", ...)``.

    Settings with ``llm={"backend": "scripted"}`` (or ``--llm scripted``) then get that fake through
    the same factory every backend comes from; ``llm.prompts`` records what it was asked.
    """
    from pdqa.llm import Backend, register_backend, remove_backend

    def make(*replies, chat: bool = False):
        llm = scripted_llm(*replies)
        register_backend("scripted", lambda settings: Backend("scripted", "scripted-fake", "", chat, llm, settings))
        return llm

    yield make
    remove_backend("scripted")


def with_scripted_llm(settings, **llm):
    """``settings`` answering through the registered scripted backend."""
    return settings.changed(llm={"backend": "scripted", **llm})
