"""The support check's model: whether a span of a cited passage states an LLM's sentence.

The reader's support head alone separates right restatements from subtly wrong ones poorly
(validation AUC 0.61 on the hand-written replies). What it misses is often visible in the words:
a wrong sentence brings words the span and the question never use (an invention, a wrong
scope), drops the span's negation, or puts a number of its own. So P(supported) is a logistic
regression over the head's logit and a few such measures of the (sentence, span) pair, fitted
on the training replies (``pdqa train support``), with every feature kept only because it
helps on the validation replies (docs/llm-verification.md has the figures).

The model is JSON (``verifier_model/support.json``) and scored in numpy; columns are taken by
name, never by position.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .answer_model import LinearModel, read_model_file
from .errors import BackendUnavailable
from .text import content_terms, negated, numbers

MODEL_PATH = Path(__file__).resolve().parent / "verifier_model" / "support.json"
FORMAT = 1
# Each measures what the sentence says that the span does not, so a sentence the span states word
# for word scores as high as the head allows; nothing here rewards a sentence for its length.
FEATURES = ("head_logit", "coverage", "novel", "negation_mismatch", "number_mismatch")


def support_values(sentence: str, span: str, question_terms: frozenset[str], head_logit: float) -> dict[str, float]:
    """Every feature of one (sentence, span) pair, by name.

    ``coverage``: share of the sentence's content terms the span holds; ``novel``: how many of
    them neither the span nor the question holds (log1p); ``negation_mismatch``: one of the two is
    negated and the other is not; ``number_mismatch``: the sentence has a number the span lacks.
    """
    said, stated = set(content_terms(sentence)), set(content_terms(span))
    return {
        "head_logit": float(head_logit),
        "coverage": len(said & stated) / max(1, len(said)),
        "novel": math.log1p(len(said - stated - question_terms)),
        "negation_mismatch": float(negated(sentence) != negated(span)),
        "number_mismatch": float(bool(set(numbers(sentence)) - set(numbers(span)))),
    }


class SupportModel(BaseModel):
    """P(the span states the sentence), from the head's logit and the pair's word measures."""

    model_config = ConfigDict(extra="forbid")
    format: int = FORMAT
    model: LinearModel
    reader_sha256: str = Field(default="", description="The reader whose support head the model reads.")
    trained: dict = Field(default_factory=dict, description="Data files, their sha256 and validation figures.")

    def probabilities(self, sentence: str, spans: list[str], question_terms: frozenset[str], head_logits: np.ndarray) -> np.ndarray:
        """P(supported) for each span of ``spans``."""
        if not spans:
            return np.zeros(0)
        rows = [support_values(sentence, span, question_terms, logit) for span, logit in zip(spans, head_logits)]
        matrix = np.array([[row[name] for name in self.model.features] for row in rows], dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-self.model.logits(matrix)))


@lru_cache(maxsize=4)
def load_support_model(path: Path = MODEL_PATH) -> SupportModel:
    """Read and validate the model file.

    Raises:
        BackendUnavailable: The file is missing or not a support model of this format.
    """
    model = read_model_file(SupportModel, path, "support model", "pdqa train support")
    unknown = [name for name in model.model.features if name not in FEATURES]
    if model.format != FORMAT or unknown:
        raise BackendUnavailable(f"the support model {path} was written by another pdqa (format {model.format}, "
                                 f"unknown features {unknown})", hint="Refit it with `pdqa train support`.")
    return model
