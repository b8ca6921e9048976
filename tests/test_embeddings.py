"""Tests for pdqa.embeddings: the ONNX encoder matches sentence-transformers, without torch at query time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from tokenizers import Tokenizer

from pdqa.embeddings import MAX_TOKENS, MODEL_NAME, OnnxEmbedder, default_model_dir, export_onnx, model_name
from pdqa.index import Index, model_dir_of

# The ONNX export runs the same network in float32; differences come from operator order only.
# 0.9999 is the agreement the brief asks for, not a number read off today's run.
MIN_COSINE = 0.9999
HEAVY_MODULES = ("torch", "transformers", "sentence_transformers", "llama_index")
QUESTIONS = [
    "Who wrote the review of the personality disorder pilots?",
    "Where is the joint team based?",
    "How long is the secondment?",
    "what did the pilots save",
    "Which 2003 policy called this an area of unmet need?",
    "NOMS",
    "Describe the therapeutic conditions common to all of the services in detail, please!",
    "Is the post still open?",
]
CURLY_AND_NBSP = "The \u2018Innovation in Action\u2019 report\u00a0\u2014 \u201cwritten by\u201d\u00a0Dr Lisa Wilson."
LONG_TEXT = " ".join(
    f"Pilot service {i} offered group therapy, individual sessions and peer support to its members."
    for i in range(40)
)


@pytest.fixture(scope="module")
def chunk_texts(built_settings) -> list[str]:
    index = Index.open(built_settings)
    try:
        return [chunk.text for chunk in index.store.iter_chunks()]
    finally:
        index.close()


@pytest.fixture(scope="module")
def encoder_dir(built_settings):
    """The encoder of the session index's live generation."""
    index = Index.open(built_settings)
    index.close()
    return index.encoder_dir


@pytest.fixture(scope="module")
def texts(chunk_texts) -> list[str]:
    return [*chunk_texts, *QUESTIONS, CURLY_AND_NBSP, LONG_TEXT]


@pytest.fixture(scope="module")
def onnx_vectors(encoder_dir, texts) -> np.ndarray:
    return OnnxEmbedder(encoder_dir).embed(texts)


@pytest.fixture(scope="module")
def reference_vectors(built_settings, texts) -> np.ndarray:
    """The model's own sentence-transformers pipeline: the reference the ONNX export must match."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir_of(built_settings)), device="cpu")
    model.max_seq_length = MAX_TOKENS
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
    return np.asarray(vectors, dtype=np.float32)


def test_long_text_is_longer_than_the_model_window(encoder_dir):
    tokenizer = Tokenizer.from_file(str(encoder_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    assert len(tokenizer.encode(LONG_TEXT).ids) > MAX_TOKENS + 100


def test_onnx_vectors_agree_with_sentence_transformers(texts, onnx_vectors, reference_vectors):
    assert onnx_vectors.shape == reference_vectors.shape == (len(texts), 384)
    cosines = np.sum(onnx_vectors * reference_vectors, axis=1)
    disagreeing = {text[:60]: round(float(c), 6) for text, c in zip(texts, cosines) if c < MIN_COSINE}
    assert disagreeing == {}


def test_vectors_are_unit_length_float32(onnx_vectors, reference_vectors):
    for vectors in (onnx_vectors, reference_vectors):
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_different_texts_get_different_vectors(texts, onnx_vectors):
    # Guards the agreement test against an encoder that returns the same vector for everything.
    similarity = onnx_vectors @ onnx_vectors.T
    off_diagonal = similarity[~np.eye(len(texts), dtype=bool)]
    assert off_diagonal.max() < 0.99
    assert off_diagonal.min() < 0.5


def test_onnx_batch_and_single_embeddings_agree(encoder_dir, chunk_texts):
    # A text's vector must not depend on the texts embedded with it (padding, batch size, order):
    # incremental builds rely on it to equal a full rebuild to 1e-6.
    embedder = OnnxEmbedder(encoder_dir)
    mixed = [QUESTIONS[5], LONG_TEXT, *reversed(chunk_texts), *QUESTIONS]
    batch = embedder.embed(mixed)
    single = np.stack([embedder.embed([text])[0] for text in mixed])
    assert batch.shape == (len(mixed), 384)
    assert np.abs(batch - single).max() <= 1e-6


def test_onnx_embeds_an_empty_list_as_no_rows(encoder_dir):
    vectors = OnnxEmbedder(encoder_dir).embed([])
    assert vectors.shape == (0, 384)


def test_exporting_the_encoder_leaves_environment_and_warning_filters_as_they_were(tmp_path, monkeypatch):
    from transformers.utils import logging as transformers_logging

    for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY"):
        monkeypatch.delenv(name, raising=False)
    environment, filters = dict(os.environ), list(warnings.filters)
    verbosity = transformers_logging.get_verbosity()

    export_onnx(default_model_dir(), tmp_path / "encoder")

    assert {p.name for p in (tmp_path / "encoder").iterdir()} >= {"model.onnx", "tokenizer.json"}
    assert dict(os.environ) == environment
    assert list(warnings.filters) == filters
    assert transformers_logging.get_verbosity() == verbosity


def test_model_name_is_the_hub_name_of_the_bundled_model_else_the_folder_name(tmp_path):
    assert model_name(default_model_dir()) == MODEL_NAME == "sentence-transformers/all-MiniLM-L6-v2"
    assert model_name(tmp_path / "my-finetuned-minilm") == "my-finetuned-minilm"


def test_question_vector_is_closest_to_its_answer_chunk(encoder_dir, chunk_texts):
    embedder = OnnxEmbedder(encoder_dir)
    chunk_vectors = embedder.embed(chunk_texts)
    question = embedder.embed(["Where does the joint team work from?"])[0]
    best = chunk_texts[int(np.argmax(chunk_vectors @ question))]
    assert "Clive House" in best


QUERY_PATH_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import pdqa
    qa = pdqa.QA(pdqa.Settings())
    answer = qa.ask("Where does the Joint Team currently work from?")
    print(json.dumps({
        "heavy": sorted(m for m in %r if m in sys.modules),
        "onnxruntime": "onnxruntime" in sys.modules,
        "rebuilt": qa.rebuilt,
        "index_dir": str(qa.settings.index_dir),
        "abstained": answer.abstained,
        "quotes": [c.quote for c in answer.citations],
    }))
    """
)


def test_query_path_imports_no_torch_transformers_or_llama_index(built_settings):
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("PDQA_")},
        "PDQA_CORPUS__DIR": str(built_settings.corpus_dir),
        "PDQA_INDEX__DIR": str(built_settings.index_dir),
        "HF_HUB_OFFLINE": "1",
    }
    script = QUERY_PATH_SCRIPT % (HEAVY_MODULES,)

    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )

    assert completed.returncode == 0, completed.stderr
    assert "PDQA_" not in completed.stderr  # the current variable names: nothing deprecated or ignored
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    # The question really went through the ONNX query path on the session index.
    assert report["onnxruntime"] is True
    assert report["rebuilt"] is False
    assert report["index_dir"] == str(built_settings.index_dir)
    assert report["abstained"] is False
    assert any("Clive House" in quote for quote in report["quotes"])
