"""LLM backends: one small factory over LlamaIndex's LLM integrations, picked by name in the settings.

A backend carries its own identity (name, model, where it runs, chat or completion) beside the
LlamaIndex LLM that talks to it. Each integration is imported only when its backend is asked for,
so ``import pdqa`` and extractive answering never load llama_index. Other backends (a test's
scripted fake, a plugin) join the factory with :func:`register_backend` and are then chosen by
name like the built-in ones (``PDQA_LLM__BACKEND``, ``--llm``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import BackendUnavailable
from .models import LLMInfo
from .settings import LLMSettings

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

LOCAL_LLM_HINT = "pip install 'pdqa[local-llm]'"
# OpenAI-compatible local servers (llama.cpp, vLLM, LM Studio) accept any key, but the client needs one.
PLACEHOLDER_KEY = "not-needed"
NO_LLM = "none"


@dataclass
class Backend:
    """An LLM that writes answers, with what pdqa says about it.

    Attributes:
        name: The backend's name in the settings ("openai-like", "ollama", ...).
        model: The model's name.
        where: Its server address or model file ('' when neither applies).
        chat: Ask through the chat API (instruction-tuned models); else the completion API.
        llm: The LlamaIndex LLM that talks to it.
        settings: The LLM settings it was made from (timeout, retries, reply limits).
    """

    name: str
    model: str
    where: str
    chat: bool
    llm: LLM
    settings: LLMSettings

    def describe(self) -> str:
        """Backend, model and address in a few words, for warnings and errors."""
        return " ".join(part for part in (self.name, self.model, f"at {self.where}" if self.where else "") if part)

    @property
    def info(self) -> LLMInfo:
        return LLMInfo(backend=self.name, model=self.model)


Builder = Callable[[LLMSettings], Backend]
_BUILDERS: dict[str, Builder] = {}


def register_backend(name: str, builder: Builder) -> None:
    """Make a backend available by ``name`` (replacing one of that name)."""
    _BUILDERS[name] = builder


def remove_backend(name: str) -> None:
    """Forget a registered backend (a no-op for an unknown name)."""
    _BUILDERS.pop(name, None)


def backend_names() -> list[str]:
    """The names ``PDQA_LLM__BACKEND`` and ``--llm`` accept, "none" first."""
    return [NO_LLM, *_BUILDERS]


def make_backend(settings: LLMSettings) -> Backend | None:
    """The backend ``settings.backend`` names, or None for "none" (extractive answers).

    Raises:
        BackendUnavailable: The backend is unknown, lacks a setting it needs, or its package
            is not installed.
    """
    if settings.backend == NO_LLM:
        return None
    if settings.backend not in _BUILDERS:
        raise BackendUnavailable(f"no LLM backend named {settings.backend!r}", hint="Use one of: " + ", ".join(backend_names()))
    return _BUILDERS[settings.backend](settings)


def uses_chat(settings: LLMSettings) -> bool:
    """Whether answers are asked for through the chat API (else the completion API).

    "auto" means chat for servers (openai-like, ollama), which hold the model's chat template,
    and completion for a raw GGUF file run in-process (llama-cpp).
    """
    if settings.api == "auto":
        return settings.backend in ("openai-like", "ollama")
    return settings.api == "chat"


def _require_model(settings: LLMSettings) -> None:
    if not settings.model:
        raise BackendUnavailable(
            f"the {settings.backend} backend needs a model name", hint="Pass --model NAME or set PDQA_LLM__MODEL."
        )


def _openai_like(settings: LLMSettings) -> Backend:
    from llama_index.llms.openai_like import OpenAILike

    _require_model(settings)
    llm = OpenAILike(
        model=settings.model,
        api_base=settings.base_url or None,
        api_key=os.environ.get(settings.api_key_env) or PLACEHOLDER_KEY,
        is_chat_model=uses_chat(settings),
        context_window=settings.context_window,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        timeout=settings.timeout_s,
        max_retries=0,  # pdqa retries itself, the same way for every backend (generate.py)
        additional_kwargs={"stop": settings.stop} if settings.stop else {},
    )
    return Backend("openai-like", settings.model, settings.base_url, uses_chat(settings), llm, settings)


def _ollama(settings: LLMSettings) -> Backend:
    from llama_index.llms.ollama import Ollama

    _require_model(settings)
    options = {"num_predict": settings.max_tokens}
    if settings.stop:
        options["stop"] = settings.stop
    base_url = settings.base_url or "http://localhost:11434"
    llm = Ollama(
        model=settings.model,
        base_url=base_url,
        request_timeout=settings.timeout_s,
        temperature=settings.temperature,
        context_window=settings.context_window,
        additional_kwargs=options,
    )
    return Backend("ollama", settings.model, base_url, uses_chat(settings), llm, settings)


def _llama_cpp(settings: LLMSettings) -> Backend:
    try:
        from llama_index.llms.llama_cpp import LlamaCPP
    except ImportError as exc:
        raise BackendUnavailable(
            "the llama-cpp backend needs llama-index-llms-llama-cpp and llama-cpp-python", hint=LOCAL_LLM_HINT
        ) from exc
    if settings.model_path is None or not settings.model_path.is_file():
        raise BackendUnavailable(f"no GGUF model file at {settings.model_path}", hint="Set PDQA_LLM__MODEL_PATH to a .gguf file.")
    llm = LlamaCPP(
        model_path=str(settings.model_path),
        temperature=settings.temperature,
        max_new_tokens=settings.max_tokens,
        context_window=settings.context_window,
        generate_kwargs={"stop": settings.stop} if settings.stop else {},
        verbose=False,
    )
    model = settings.model or settings.model_path.name
    return Backend("llama-cpp", model, str(settings.model_path), uses_chat(settings), llm, settings)


register_backend("openai-like", _openai_like)
register_backend("ollama", _ollama)
register_backend("llama-cpp", _llama_cpp)
