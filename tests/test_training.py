"""Training the answer model, end to end on a small SQuAD slice, and the committed model's card."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from pdqa.answer_model import MODEL_PATH, load_answer_model
from pdqa.features import QUESTION_FEATURES, UNIT_FEATURES

REPO = Path(__file__).resolve().parent.parent
SQUAD_DEV = REPO.parent / "shared" / "data" / "squad2" / "dev-8-articles.json"


def test_committed_model_matches_its_card_and_features():
    card = (MODEL_PATH.parent / "MODEL_CARD.md").read_text(encoding="utf-8")
    digest = re.search(r"sha256 `([0-9a-f]{64})`", card).group(1)
    assert digest == hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()
    model = load_answer_model()
    assert model.unit.features == list(UNIT_FEATURES)
    assert model.answerable.features == list(QUESTION_FEATURES)
    assert 0.0 < model.min_confidence < 1.0
    assert "CC BY-SA 4.0" in card


def _slice(path: Path, out: Path, per_article: int) -> dict[str, list[str]]:
    """The first paragraphs of four articles: three to train on, one to validate on."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"][:4]
    for article in data:
        article["paragraphs"] = article["paragraphs"][:per_article]
    out.write_text(json.dumps({"version": "v2.0", "data": data}), encoding="utf-8")
    titles = [a["title"] for a in data]
    return {"train": titles[:3], "validation": titles[3:]}


@pytest.mark.slow
@pytest.mark.skipif(not SQUAD_DEV.is_file(), reason="needs ../shared/data/squad2 beside the checkout")
def test_training_runs_end_to_end_and_writes_a_usable_model(tmp_path, qa):
    from pdqa.extractive import ExtractiveAnswerer
    from pdqa.training import train_answerer

    parts = _slice(SQUAD_DEV, tmp_path / "mini.json", per_article=3)
    split = {"train": {"mini.json": parts["train"]}, "validation": {"mini.json": parts["validation"]}}
    (tmp_path / "split.json").write_text(json.dumps(split), encoding="utf-8")
    model = train_answerer(tmp_path, tmp_path / "out", tmp_path / "work", tmp_path / "split.json", progress=lambda _: None)

    written = load_answer_model.__wrapped__(tmp_path / "out" / "model.json")
    assert written == model
    assert np.isfinite(written.unit.weights).all() and np.isfinite(written.answerable.weights).all()
    figures = written.trained["figures"]
    for domain in ("squad", "report-dev"):
        assert figures[domain]["questions"] > 0 and 0.0 <= figures[domain]["overall_accuracy"] <= 1.0
    assert figures["report-dev"]["questions"] == 90  # the report's dev split validates too
    card = (tmp_path / "out" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert hashlib.sha256((tmp_path / "out" / "model.json").read_bytes()).hexdigest() in card
    # The new model drives the answerer over the report's index.
    answerer = ExtractiveAnswerer(qa.index, qa.settings, written)
    vector = qa.embedder.embed(["Where does the Joint Team work?"])
    from pdqa.question import analyse

    hits = qa.retriever.retrieve("Where does the Joint Team work?", vector[0])
    draft = answerer.answer_all([analyse("Where does the Joint Team work?")], vector, hits)
    assert 0.0 <= draft.confidence <= 1.0
