"""The trained reader: a MiniLM cross-encoder with two heads, scored by ONNX Runtime.

* The answer head reads (question, candidate unit in its context) and gives P(this unit answers
  the question). The context is the unit's section heading, the sentence before it, and a list
  item's lead-in sentence.
* The support head reads (sentence, source span) and gives P(the span supports the sentence):
  what verification keeps an LLM's sentence by.

Both share one encoder (all-MiniLM-L6-v2, fine-tuned by ``pdqa train reader``), exported to ONNX
and quantised to int8 (``pdqa/reader_model/model.onnx``, with its card). It is loaded on the first
question that needs it; answering imports neither torch nor transformers.

Each pair is scored alone. Dynamic int8 quantisation picks one activation scale for everything
it is fed at once, so in a padded batch a pair's logit moved with its batch-mates (by 0.18 on
average, up to 0.71, on 96 validation pairs in batches of 16): the same sentence could be kept
in one answer and removed in another. Alone, a pair has no padding and no batch-mates; 12 pairs
cost about what one padded batch of 12 did (149 against 139 ms wall, 226 against 254 ms CPU;
docs/evaluation.md).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import BackendUnavailable

READER_DIR = Path(__file__).resolve().parent / "reader_model"
MODEL_FILE = "model.onnx"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
ANSWER, SUPPORT = 0, 1  # the heads: columns of the model's output


@dataclass(frozen=True)
class ReaderConfig:
    """How pairs are made and how long they may be (saved with the model)."""

    max_tokens: int = 96
    context_chars: int = 240


def candidate_text(unit_text: str, section: str = "", previous: str = "", lead_in: str = "", limit: int = 240) -> str:
    """The second text of an answer pair: the unit, then its context (what truncation cuts first)."""
    unit = " ".join(unit_text.split())
    context = " ".join(part for part in (" ".join(section.split()), " ".join(lead_in.split()), " ".join(previous.split())) if part)
    return f"{unit} || {context[:limit]}" if context else unit


class Reader:
    """The exported reader under ONNX Runtime (thread-safe: one session, used under a lock).

    Args:
        folder: Where ``model.onnx``, ``tokenizer.json`` and ``config.json`` are.

    Raises:
        BackendUnavailable: The model files are missing or cannot be loaded.
    """

    def __init__(self, folder: Path = READER_DIR):
        import onnxruntime
        from tokenizers import Tokenizer

        try:
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
            self.config = ReaderConfig(**config.get("pairs", {}))
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = config.get("threads", 2)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self.session = onnxruntime.InferenceSession(str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
            self.tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise BackendUnavailable(f"cannot load the reader model in {folder}: {exc}",
                                     hint="Reinstall pdqa, or retrain it with `pdqa train reader`.") from exc
        except Exception as exc:  # onnxruntime's own errors for a damaged model
            raise BackendUnavailable(f"cannot load the reader model in {folder}: {exc}") from exc
        self.tokenizer.enable_truncation(self.config.max_tokens, strategy="longest_first")
        self.tokenizer.no_padding()
        self.inputs = {i.name for i in self.session.get_inputs()}
        self._lock = threading.Lock()

    def logits(self, pairs: list[tuple[str, str]], head: int) -> np.ndarray:
        """One logit per (first, second) pair from one head (ANSWER or SUPPORT)."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        encodings = self.tokenizer.encode_batch(pairs)
        return np.array([self._run(encoding)[0, head] for encoding in encodings], dtype=np.float32)

    def probabilities(self, pairs: list[tuple[str, str]], head: int) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(pairs, head)))

    def _run(self, encoding) -> np.ndarray:
        """Both heads' logits for one encoded pair, shape (1, 2)."""
        feed = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
        }
        with self._lock:
            return self.session.run(None, {name: value for name, value in feed.items() if name in self.inputs})[0]


@lru_cache(maxsize=2)
def load_reader(folder: Path = READER_DIR) -> Reader:
    """The reader, loaded once per process (on first use)."""
    return Reader(folder)


def reader_sha256(folder: Path = READER_DIR) -> str:
    """Hash of the model file ("" when there is none)."""
    try:
        return hashlib.sha256((folder / MODEL_FILE).read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""


def unit_context(index, unit_id: int) -> tuple[str, str, str]:
    """(section heading, previous sentence, list lead-in) of a unit: what the answer head reads beside it."""
    unit = index.unit(unit_id)
    chunk = index.store.chunk_of_unit(unit_id)
    siblings = index.units_of(chunk.chunk_id)
    position = next((i for i, other in enumerate(siblings) if other.unit_id == unit_id), 0)
    before = [other for other in siblings[:position] if other.kind != "heading"]
    previous = before[-1].text if before else ""
    lead_in = ""
    if unit.kind == "item":
        lead_in = next((other.text for other in reversed(before) if other.kind == "sentence"), "")
        if lead_in == previous:
            previous = ""
    return chunk.section, previous, lead_in


def answer_pair(question: str, index, unit_id: int, config: ReaderConfig = ReaderConfig()) -> tuple[str, str]:
    """The (question, candidate) pair the answer head reads for one unit of an index."""
    section, previous, lead_in = unit_context(index, unit_id)
    return question, candidate_text(index.unit(unit_id).text, section, previous, lead_in, config.context_chars)


def support_pair(sentence: str, source: str) -> tuple[str, str]:
    """The (sentence, source span) pair the support head reads."""
    return " ".join(sentence.split()), " ".join(source.split())
