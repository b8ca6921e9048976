"""The support check's model: its features, its file, and its retraining from the committed replies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pdqa.errors import BackendUnavailable
from pdqa.support import FEATURES, MODEL_PATH, load_support_model, support_values

REPLIES = Path(__file__).resolve().parent.parent / "eval" / "reports" / "llm_replies"


def test_the_features_read_what_the_sentence_adds_to_its_span():
    span = "The initial contract for the Joint Head post is for 12 months."
    terms = frozenset({"contract"})
    faithful = support_values("The Joint Head post's initial contract is for 12 months.", span, terms, 2.0)
    invented = support_values("The Joint Head post's initial contract is for 12 months, paid by the council.", span, terms, 2.0)
    negated = support_values("The initial contract for the Joint Head post is not for 12 months.", span, terms, 2.0)
    renumbered = support_values("The initial contract for the Joint Head post is for 18 months.", span, terms, 2.0)
    assert set(faithful) == set(FEATURES)
    assert faithful["novel"] == 0.0 and invented["novel"] > 0.0
    assert faithful["negation_mismatch"] == 0.0 and negated["negation_mismatch"] == 1.0
    assert faithful["number_mismatch"] == 0.0 and renumbered["number_mismatch"] == 1.0
    assert faithful["coverage"] == 1.0 and invented["coverage"] < 1.0


def test_the_committed_model_reads_the_committed_reader_and_prefers_the_faithful_sentence():
    from pdqa.reader import reader_sha256

    model = load_support_model()
    assert model.reader_sha256 == reader_sha256(), "refit the support model after the reader (pdqa train support)"
    assert "head_logit" in model.model.features
    span = "An opportunity has arisen for a secondment or fixed term contract initially for 12 months."
    # With the head's logit held equal, the words decide: the span that states the sentence wins
    # over an unrelated one, and an invented addition lowers the probability.
    faithful, unrelated = model.probabilities(
        "The contract is initially for 12 months.", [span, "Referrals rose in the second year."],
        frozenset({"contract"}), np.array([1.0, 1.0]), np.array([1.0, 1.0]))
    wrong = model.probabilities("The contract is initially for 12 months, paid by the county council.",
                                [span], frozenset({"contract"}), np.array([1.0]), np.array([1.0]))[0]
    assert unrelated < faithful
    assert wrong < faithful


def test_a_model_reading_the_swapped_pairs_needs_their_logits_and_weighs_them():
    model = load_support_model()
    assert model.reads_reverse, "the committed model reads the head both ways"
    sentence, span = "The contract is initially for 12 months.", "The contract is for 12 months."
    with pytest.raises(ValueError, match="swapped"):
        model.probabilities(sentence, [span], frozenset(), np.array([1.0]))
    # The span stated back by the sentence (a high swapped logit) raises P(supported).
    low, high = (model.probabilities(sentence, [span], frozenset(), np.array([1.0]), np.array([back]))[0]
                 for back in (-3.0, 3.0))
    assert low < high
    # A model that does not read them is scored without.
    forward = model.model_copy(update={"model": model.model.model_copy(update={
        "features": ["head_logit"], "mean": [0.0], "scale": [1.0], "weights": [1.0], "bias": 0.0})})
    assert not forward.reads_reverse
    assert forward.probabilities(sentence, [span], frozenset(), np.array([0.0]))[0] == pytest.approx(0.5)


def test_the_verifier_reads_each_pair_both_ways_only_for_a_model_that_uses_it():
    from pdqa.reader import SUPPORT
    from pdqa.settings import VerifySettings
    from pdqa.verify import Span, Verifier

    class Reader:
        def __init__(self):
            self.pairs = []

        def logits(self, pairs, head):
            assert head == SUPPORT
            self.pairs.extend(pairs)
            return np.zeros(len(pairs))

    class Unit:
        def __init__(self, text):
            self.text = text

    model = load_support_model()
    forward = model.model_copy(update={"model": model.model.model_copy(update={
        "features": ["head_logit"], "mean": [0.0], "scale": [1.0], "weights": [1.0], "bias": 0.0})})
    spans = [Span((Unit("The contract is for 12 months."),), None)]
    for support, expected in ((model, [("A b.", "The contract is for 12 months."), ("The contract is for 12 months.", "A b.")]),
                              (forward, [("A b.", "The contract is for 12 months.")])):
        reader = Reader()
        verifier = Verifier(None, None, VerifySettings(), "", reader=lambda: reader, gives_orders=None,
                            support_model=lambda s=support: s)
        verifier.support_probabilities("A b.", spans)
        assert reader.pairs == expected


def test_a_broken_or_foreign_support_model_is_a_one_line_error(tmp_path):
    broken = tmp_path / "support.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(BackendUnavailable, match="cannot read"):
        load_support_model(broken)
    foreign = tmp_path / "foreign.json"
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    data["model"]["features"][0] = "something_else"
    foreign.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BackendUnavailable, match="another pdqa"):
        load_support_model(foreign)
    with pytest.raises(BackendUnavailable, match="cannot read") as missing:
        load_support_model(tmp_path / "missing.json")
    assert "pdqa train support" in missing.value.hint


def test_refitting_from_the_committed_replies_gives_the_committed_model(tmp_path):
    """Byte for byte on one machine; across machines, close to the committed file.

    On a machine with another CPU (AMX and AVX-512 VNNI), the same model file, onnxruntime 1.31.1
    or 1.32.0 and tokenizers 0.22-0.23 gave other reader logits than the committed file's machine
    (onnxruntime picks its int8 kernels by CPU): the head logit's mean moved by 0.019, its scale
    by 2 % (2.41 against 2.36), each weight by at most 0.012. The same features must be chosen
    and every number stay close.
    """
    pytest.importorskip("sklearn")
    from pdqa.support_training import train_support

    for run in ("a", "b"):
        train_support(REPLIES / "validation.jsonl", tmp_path / run, progress=lambda _: None)
    refit = (tmp_path / "a" / "support.json").read_bytes()
    assert refit == (tmp_path / "b" / "support.json").read_bytes()
    if refit == MODEL_PATH.read_bytes():
        return
    ours, committed = json.loads(refit), json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert ours["model"]["features"] == committed["model"]["features"]
    assert ours["reader_sha256"] == committed["reader_sha256"]
    assert ours["trained"]["rows"] == committed["trained"]["rows"]
    for field in ("mean", "scale", "weights"):
        assert ours["model"][field] == pytest.approx(committed["model"][field], rel=0.05, abs=0.05), field
    assert ours["model"]["bias"] == pytest.approx(committed["model"]["bias"], abs=0.05)
    assert ours["trained"]["cross_fitted_auc"] == pytest.approx(committed["trained"]["cross_fitted_auc"], abs=0.01)


def test_the_swapped_pair_reads_the_part_of_the_span_the_sentence_draws_on():
    from pdqa.support import drawn_on, reverse_pair

    span = ("The ‘Innovation in Action‘ report, written by Dr Lisa Wilson and Dr Rex Haigh, presents a summary "
            "of the findings of the review.")
    sentence = "The report was written by Dr Lisa Wilson and Dr Rex Haigh."
    assert drawn_on(sentence, span) == "report, written by Dr Lisa Wilson and Dr Rex Haigh"
    assert span.startswith("The ‘Innovation") and drawn_on(sentence, span) in span  # a piece of the span, as written
    # Words compare by stem ("opens" / "opened"); a sentence sharing no word reads the whole span.
    assert drawn_on("The clinic opens in 2011.", "The Riverside Clinic opened in 2011 in Eastwick.") == "Clinic opened in 2011"
    assert drawn_on("Nothing alike.", span) == span
    assert reverse_pair(sentence, span) == ("report, written by Dr Lisa Wilson and Dr Rex Haigh", sentence)
