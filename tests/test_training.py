"""The answer stage's training: fitting on synthetic validation rows, and the committed model's card."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

from pdqa.answer_model import ALL_FEATURES, MODEL_PATH, UNIT_FEATURES, LinearModel, load_answer_model

pytest.importorskip("sklearn")


def test_committed_model_matches_its_card_and_the_committed_reader():
    from pdqa.reader import reader_sha256

    card = (MODEL_PATH.parent / "MODEL_CARD.md").read_text(encoding="utf-8")
    digest = re.search(r"sha256 `([0-9a-f]{64})`", card).group(1)
    assert digest == hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()
    model = load_answer_model()
    assert model.reader_sha256 == reader_sha256(), "retrain the answer stage after the reader (pdqa train answerer)"
    assert model.choice.features[0] == "reader_logit" and set(model.choice.features) <= set(UNIT_FEATURES)
    assert set(model.answerable.features) <= set(ALL_FEATURES)
    assert 0.0 < model.min_confidence < 1.0
    assert "CC BY-SA 4.0" in card


def _rows(seed: int, count: int = 120):
    """Validation rows of a made-up reader: a gold candidate scores higher than the others, and
    the first stage is a noisy copy of the truth; a third of the questions have no answer."""
    from pdqa.question import analyse
    from pdqa.training import Row

    rng = np.random.default_rng(seed)
    rows = []
    for q in range(count):
        answerable = q % 3 != 0
        n = 8
        gold = np.zeros(n, dtype=bool)
        if answerable:
            gold[rng.integers(n)] = True
        reader = rng.normal(-2.0, 1.0, n) + 3.0 * gold
        first = rng.normal(0.0, 1.0, n) + 1.0 * gold
        order = np.argsort(-first, kind="stable")
        gold, reader, first = gold[order], reader[order], first[order]
        units = {name: rng.normal(0.0, 1.0, n) for name in UNIT_FEATURES}
        units.update(reader_logit=reader, first_stage=first, first_rank_inv=1.0 / np.arange(1, n + 1))
        texts = [f"Unit {i} of question {q} says {'the answer is forty' if g else 'something else'}."
                 for i, g in enumerate(gold)]
        rows.append(Row(qid=f"q{q}", domain="made-up" if q % 2 else "other", group=f"doc{q % 10}", answerable=answerable,
                        question=analyse(f"What does question {q} ask?"), units=units, gold=gold,
                        allowed=np.ones(n, dtype=bool), texts=texts, companions=[[] for _ in range(n)],
                        facts=[["forty"]] if answerable else []))
    return rows


def _fit(rows):
    from pdqa.training import fit_answer_model

    injection = LinearModel(features=["v0"], mean=[0.0], scale=[1.0], weights=[1.0], bias=0.0)
    return fit_answer_model(rows, injection, 0.5, 3, "0" * 64, progress=lambda _: None)


def test_the_answer_stage_is_fitted_deterministically_and_learns_what_the_rows_hold():
    rows = _rows(1)
    model = _fit(rows)
    assert _fit(_rows(1)).model_dump_json() == model.model_dump_json()  # seeded: the same rows give the same file

    # The reader's logit separates gold from the rest here; the choice model weighs it up.
    assert model.choice.features[0] == "reader_logit" and model.choice.weights[0] > 0
    choice = model.trained["choice"]
    assert all(v >= 0.8 for v in choice["top1"].values()), choice
    assert all(choice["top1"][d] >= choice["top1_first_stage_alone"][d] for d in choice["top1"]), choice
    # Confidence rises with the best candidate's score, and answers most answerable questions.
    top = model.answerable.features.index("top_logit")
    assert model.answerable.weights[top] > 0
    for domain, figures in model.trained["figures"].items():
        assert figures["questions"] == sum(r.domain == domain for r in rows)
        assert figures["overall_accuracy"] > 0.6, (domain, figures)
    assert 0.05 <= model.min_confidence <= 0.95


def test_a_signal_that_adds_nothing_is_left_out_of_the_choice_model():
    from pdqa.training import choose_choice

    rows, rng = _rows(2), np.random.default_rng(7)
    for row in rows:  # the first stage's score is now pure noise
        row.units["first_stage"] = rng.normal(0, 1, len(row.texts))
    features, _, figures = choose_choice(rows, progress=lambda _: None)
    assert features[0] == "reader_logit"
    assert figures["chosen_top1"] >= figures["reader_only_top1"]
    assert "first_stage" not in features, features
