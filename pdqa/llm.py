"""LLM backends: one small factory over LlamaIndex's LLM integrations, picked by name in the settings.

Each integration is imported only when its backend is asked for, so ``import pdqa`` and
extractive answering never load llama_index.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .errors import BackendUnavailable
from .settings import LLMSettings

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

LOCAL_LLM_HINT = "pip install 'pdqa[local-llm]'"
# OpenAI-compatible local servers (llama.cpp, vLLM, LM Studio) accept any key, but the client needs one.
PLACEHOLDER_KEY = "not-needed"


def make_llm(settings: LLMSettings) -> LLM:
    """Build the LlamaIndex LLM that ``settings.backend`` names.

    Args:
        settings: The ``llm`` part of pdqa's settings; ``backend`` must not be "none".

    Returns:
        A LlamaIndex LLM; nothing is sent to it yet.

    Raises:
        BackendUnavailable: The backend is unknown, lacks a setting it needs, or its package
            is not installed.
    """
    builders = {"openai-like": _openai_like, "ollama": _ollama, "llama-cpp": _llama_cpp}
    if settings.backend not in builders:
        raise BackendUnavailable(
            f"no LLM backend named {settings.backend!r}",
            hint="Use one of: " + ", ".join(builders),
        )
    return builders[settings.backend](settings)


def uses_chat(settings: LLMSettings) -> bool:
    """Whether answers are asked for through the chat API (else the completion API).

    "auto" means chat for servers (openai-like, ollama), which hold the model's chat template,
    and completion for a raw GGUF file run in-process (llama-cpp).
    """
    if settings.api == "auto":
        return settings.backend in ("openai-like", "ollama")
    return settings.api == "chat"


def describe(settings: LLMSettings) -> str:
    """Backend, model and address in a few words, for warnings and errors."""
    where = settings.base_url or (str(settings.model_path) if settings.model_path else "")
    model = settings.model or (settings.model_path.name if settings.model_path else "")
    return " ".join(part for part in (settings.backend, model, f"at {where}" if where else "") if part)


def _require_model(settings: LLMSettings) -> None:
    if not settings.model:
        raise BackendUnavailable(
            f"the {settings.backend} backend needs a model name",
            hint="Pass --model NAME or set PDQA_LLM__MODEL.",
        )


def _openai_like(settings: LLMSettings) -> LLM:
    from llama_index.llms.openai_like import OpenAILike

    _require_model(settings)
    return OpenAILike(
        model=settings.model,
        api_base=settings.base_url or None,
        api_key=os.environ.get(settings.api_key_env) or PLACEHOLDER_KEY,
        is_chat_model=uses_chat(settings),
        context_window=settings.context_window,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
        additional_kwargs={"stop": settings.stop} if settings.stop else {},
    )


def _ollama(settings: LLMSettings) -> LLM:
    from llama_index.llms.ollama import Ollama

    _require_model(settings)
    options = {"num_predict": settings.max_tokens}
    if settings.stop:
        options["stop"] = settings.stop
    return Ollama(
        model=settings.model,
        base_url=settings.base_url or "http://localhost:11434",
        request_timeout=settings.timeout_s,
        temperature=settings.temperature,
        context_window=settings.context_window,
        additional_kwargs=options,
    )


def _llama_cpp(settings: LLMSettings) -> LLM:
    try:
        from llama_index.llms.llama_cpp import LlamaCPP
    except ImportError as exc:
        raise BackendUnavailable(
            "the llama-cpp backend needs llama-index-llms-llama-cpp and llama-cpp-python",
            hint=LOCAL_LLM_HINT,
        ) from exc
    if settings.model_path is None or not settings.model_path.is_file():
        raise BackendUnavailable(
            f"no GGUF model file at {settings.model_path}",
            hint="Set PDQA_LLM__MODEL_PATH to a .gguf file.",
        )
    return LlamaCPP(
        model_path=str(settings.model_path),
        temperature=settings.temperature,
        max_new_tokens=settings.max_tokens,
        context_window=settings.context_window,
        generate_kwargs={"stop": settings.stop} if settings.stop else {},
        verbose=False,
    )
