"""The support check's model: whether a span of a cited passage states an LLM's sentence.

The reader's support head alone separates right restatements from subtly wrong ones poorly
(cross-fitted AUC 0.73 on the hand-written validation replies). What it misses is often visible
in the words: a wrong sentence brings words the span and the question never use (an invention, a
wrong scope), drops the span's negation, or puts a number of its own; and a right one states
back the part of the span it draws on, which the head can read with the pair swapped. So
P(supported) is a logistic regression over the head's two logits and a few such measures of the
(sentence, span) pair, fitted on the validation replies (``pdqa train support``) with every
feature kept only because it helps on replies of documents the fit did not see
(docs/llm-verification.md has the figures).

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
from .reader import support_pair
from .text import WORD_RE, content_terms, negated, numbers

MODEL_PATH = Path(__file__).resolve().parent / "verifier_model" / "support.json"
FORMAT = 1
# Each measures what the sentence says that the span does not, so a sentence the span states word
# for word scores as high as the head allows; nothing here rewards a sentence for its length.
FEATURES = ("head_logit", "reverse_support", "coverage", "novel", "negation_mismatch", "number_mismatch")


def drawn_on(sentence: str, span: str) -> str:
    """The part of ``span`` a sentence draws on: from the first to the last of the span's words
    that the sentence also uses (content words, compared by stem); the whole span when it shares
    none. The support head reads it, swapped, for ``reverse_support``: a right sentence that
    states one fact of a long span states that part back, not the whole span."""
    said = set(content_terms(sentence))
    places = [(m.start(), m.end()) for m in WORD_RE.finditer(span) if said.intersection(content_terms(m.group()))]
    if not places:
        return span
    return span[places[0][0]:places[-1][1]]


def reverse_pair(sentence: str, span: str) -> tuple[str, str]:
    """The pair the support head reads for ``reverse_support``: the part of the span the sentence
    draws on, as the sentence to be stated, and the sentence, as its source."""
    return support_pair(drawn_on(sentence, span), sentence)


def support_values(sentence: str, span: str, question_terms: frozenset[str], head_logit: float,
                   reverse_logit: float = 0.0) -> dict[str, float]:
    """Every feature of one (sentence, span) pair, by name.

    ``head_logit``: the support head on (sentence, span); ``reverse_support``: the head on the
    swapped pair (:func:`reverse_pair`: does the sentence state back the part of the span it
    draws on?), as its softplus ``log(1 + e^logit)``: stating it back is evidence of support, not
    stating it weaker evidence against;
    ``coverage``: share of the sentence's content terms the span holds; ``novel``: how many of
    them neither the span nor the question holds (log1p); ``negation_mismatch``: one of the two is
    negated and the other is not; ``number_mismatch``: the sentence has a number the span lacks.
    """
    said, stated = set(content_terms(sentence)), set(content_terms(span))
    return {
        "head_logit": float(head_logit),
        "reverse_support": float(np.logaddexp(0.0, reverse_logit)),
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

    @property
    def reads_reverse(self) -> bool:
        """Whether the model needs the head's logit of the swapped pairs (``reverse_support``)."""
        return "reverse_support" in self.model.features

    def probabilities(self, sentence: str, spans: list[str], question_terms: frozenset[str], head_logits: np.ndarray,
                      reverse_logits: np.ndarray | None = None) -> np.ndarray:
        """P(supported) for each span of ``spans`` (``reverse_logits`` needed when :attr:`reads_reverse`)."""
        if not spans:
            return np.zeros(0)
        if reverse_logits is None:
            if self.reads_reverse:
                raise ValueError("this support model reads the head's logit of the swapped pairs")
            reverse_logits = np.zeros(len(spans))
        rows = [support_values(sentence, span, question_terms, logit, reverse)
                for span, logit, reverse in zip(spans, head_logits, reverse_logits)]
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
