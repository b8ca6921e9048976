"""Shared fixtures: one real index built once per session in a temporary folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

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
    from pdqa.index import build_index
    from pdqa.settings import Settings

    root = tmp_path_factory.mktemp("pdqa")
    shutil.copytree(CORPUS_DIR, root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "indexes" / "default")
    build_index(settings)
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

    return QA(built_settings.model_copy(update={"min_confidence": 0.0}))


@pytest.fixture
def scratch_settings(built_settings, tmp_path):
    """A private copy of the corpus and the built index, free to modify in a test."""
    shutil.copytree(built_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(built_settings.index_dir, tmp_path / "indexes" / "default")
    return built_settings.model_copy(
        update={"corpus_dir": tmp_path / "corpus", "index_dir": tmp_path / "indexes" / "default"}
    )


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
