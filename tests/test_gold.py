"""The bundled gold set is well-formed and its evidence is verbatim corpus text."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pdqa.corpus import load_corpus
from pdqa.evaluation.gold import GoldError, load_gold

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "eval" / "gold.jsonl"
CATEGORIES = {"single_fact", "list", "paraphrase", "yes_no", "vacancy", "keyword", "multi_sentence", "compound",
              "unanswerable"}


@pytest.fixture(scope="module")
def gold():
    return load_gold(GOLD)


def test_schema_size_and_unique_ids(gold):
    assert len(gold) >= 80
    assert len({q.id for q in gold}) == len(gold)
    assert {q.category for q in gold} == CATEGORIES


def test_evidence_is_verbatim_in_its_document(gold):
    corpus = load_corpus(REPO / "corpus")
    documents = {doc.doc_id: doc for doc in corpus.documents}
    for question in gold:
        for evidence in question.evidence:
            document = documents[evidence.doc_id]
            text = corpus.text_of(document.path)[document.start : document.end]
            assert evidence.text in text, (question.id, evidence.text)


def test_answerable_have_facts_and_unanswerable_none(gold):
    for question in gold:
        if question.answerable:
            assert question.facts and all(question.facts), question.id
        else:
            assert question.facts == [] and question.evidence == [] and question.answers == []


def test_unanswerable_share_and_blind_test_split_mix(gold):
    assert sum(not q.answerable for q in gold) >= 0.25 * len(gold)
    test = [q for q in gold if q.split == "test"]
    per_category = Counter(q.category for q in test)
    assert len(test) >= 60
    assert sum(not q.answerable for q in test) >= 0.3 * len(test)
    assert per_category["paraphrase"] >= 0.3 * len(test)
    assert min(per_category[c] for c in ("list", "yes_no", "compound")) >= 3


def test_malformed_gold_line_is_a_gold_error(tmp_path):
    path = tmp_path / "gold.jsonl"
    row = {"id": "x", "question": "q?", "answerable": True, "answers": [], "facts": [], "evidence": [],
           "category": "single_fact", "split": "dev"}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(GoldError, match="line 1"):
        load_gold(path)


def test_duplicate_ids_are_a_gold_error(tmp_path):
    row = {"id": "x", "question": "q?", "answerable": False, "answers": [], "facts": [], "evidence": [],
           "category": "unanswerable", "split": "dev"}
    path = tmp_path / "gold.jsonl"
    path.write_text((json.dumps(row) + "\n") * 2, encoding="utf-8")
    with pytest.raises(GoldError, match="duplicate"):
        load_gold(path)
