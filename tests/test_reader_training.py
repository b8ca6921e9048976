"""`pdqa train reader` end to end on a tiny slice of every kind of data: collect, train, validate,
export, quantise; and the same seed and data give the same model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from pdqa.reader import ANSWER, SUPPORT, Reader, candidate_text  # noqa: E402
from pdqa.reader_training import Sources, plausible_answers, train_reader  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SQUAD_MINI = REPO / "eval" / "fixtures" / "squad_mini.json"

TRAIN_DOC = """# Harbour Clinic review

The Harbour Clinic opened in March 2019 in Portside. It is run by the Eastgate Trust.

The clinic saw 412 people in its first year. Most were referred by their GP.

## Staffing

Two nurses and one psychologist work at the clinic. A peer worker joined in 2020.
"""
VALIDATION_DOC = """# Hillcrest Hub evaluation

The Hillcrest Hub opened in June 2021 in Northfield. It is run by the Westmoor Council.

The hub supported 230 families in 2022. Referrals came mostly from schools.
"""


def _row(qid: str, doc: Path, question: str, facts: list[list[str]], evidence: list[str], kind: str) -> dict:
    return {"id": qid, "doc": doc.name, "doc_sha256": hashlib.sha256(doc.read_bytes()).hexdigest(), "question": question,
            "answerable": bool(facts), "kind": kind, "facts": facts, "evidence": evidence, "page": None,
            "writer": "test", "note": "" if facts else "not in the text"}


def _sources(root: Path) -> Sources:
    documents = root / "documents"
    documents.mkdir()
    train_doc, validation_doc = documents / "harbour.md", documents / "hillcrest.md"
    train_doc.write_text(TRAIN_DOC, encoding="utf-8")
    validation_doc.write_text(VALIDATION_DOC, encoding="utf-8")
    report_set = root / "report-set"
    report_set.mkdir()
    rows = [
        _row("h1", train_doc, "When did the Harbour Clinic open?", [["March 2019"]], ["opened in March 2019"], "number-date"),
        _row("h2", train_doc, "How many people did the clinic see in its first year?", [["412"]], ["saw 412 people"], "number-date"),
        _row("h3", train_doc, "What does the clinic charge per visit?", [], [], "absent-detail"),
        _row("v1", validation_doc, "Who runs the Hillcrest Hub?", [["Westmoor Council"]], ["run by the Westmoor Council"], "single-fact"),
        _row("v2", validation_doc, "How many staff work at the hub?", [], [], "absent-detail"),
    ]
    (report_set / "gold.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (report_set / "split.json").write_text(json.dumps({"seed": 1, "families": {"h": ["harbour.md"], "v": ["hillcrest.md"]},
                                                       "train": ["harbour.md"], "validation": ["hillcrest.md"], "test": []}),
                                           encoding="utf-8")
    replies = report_set / "replies"
    replies.mkdir()
    reply_rows = [
        {"sentence": "The Harbour Clinic has been open since March 2019.", "source": "The Harbour Clinic opened in March 2019 in Portside.", "label": "correct"},
        {"sentence": "The Harbour Clinic opened in May 2019.", "source": "The Harbour Clinic opened in March 2019 in Portside.", "label": "wrong"},
    ]
    for name in ("train-1.jsonl", "validation.jsonl"):
        (replies / name).write_text("".join(json.dumps(r) + "\n" for r in reply_rows), encoding="utf-8")
    squad = root / "squad"
    squad.mkdir()
    (squad / SQUAD_MINI.name).write_bytes(SQUAD_MINI.read_bytes())
    titles = [a["title"] for a in json.loads(SQUAD_MINI.read_text(encoding="utf-8"))["data"]]
    (root / "squad_split.json").write_text(json.dumps({"train": {SQUAD_MINI.name: titles[:2]},
                                                       "validation": {SQUAD_MINI.name: titles[2:]}}), encoding="utf-8")
    boolq = root / "boolq.jsonl"
    boolq.write_text("".join(json.dumps({"question": f"is the sky blue {i}", "passage": f"The sky is blue on day {i}.", "answer": True}) + "\n"
                             for i in range(4)), encoding="utf-8")
    pubmedqa = root / "pubmedqa.json"
    pubmedqa.write_text(json.dumps({str(i): {"QUESTION": f"Does drug {i} help?", "CONTEXTS": [f"Drug {i} helped patients."],
                                             "final_decision": "yes"} for i in range(4)}), encoding="utf-8")
    snli = root / "snli"
    snli.mkdir()
    (snli / "s1.dev").write_text("A man plays a guitar.\nA dog runs.\n", encoding="utf-8")
    (snli / "s2.dev").write_text("A man plays music.\nA cat sleeps.\n", encoding="utf-8")
    (snli / "labels.dev").write_text("entailment\ncontradiction\n", encoding="utf-8")
    fever = root / "fever"
    fever.mkdir()
    (fever / "rte-fever-dev.raw.input0").write_text("Paris is the capital of France .\nOslo is in Norway .\n", encoding="utf-8")
    (fever / "rte-fever-dev.raw.input1").write_text("Paris is in France.\nOslo is in Sweden.\n", encoding="utf-8")
    (fever / "rte-fever-dev.label").write_text("entailment\nnot_entailment\n", encoding="utf-8")
    return Sources(squad_dir=squad, boolq=boolq, pubmedqa=pubmedqa, snli=snli, fever=fever, reports_dir=documents,
                   report_gold=report_set / "gold.jsonl", report_split=report_set / "split.json",
                   replies_train=[replies / "train-1.jsonl"], replies_validation=replies / "validation.jsonl",
                   squad_split=root / "squad_split.json")


@pytest.mark.slow
def test_training_on_a_tiny_slice_writes_a_model_the_query_path_loads_and_repeats_itself(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the report corpora's folders
    sources = _sources(tmp_path)
    first = train_reader(sources, tmp_path / "model-1", tmp_path / "work-1", steps=4, limit=4, progress=lambda line: None)
    trained = first["trained"]
    assert [point["share"] for point in trained["learning_curve"]] == [0.25, 0.5, 1.0]
    assert {"answer:squad-train", "answer:reports-train", "answer:boolq", "answer:pubmedqa", "support:snli",
            "support:fever", "support:replies-train"} <= set(trained["pairs"])
    assert trained["export"]["pairs"] > 0 and trained["export"]["max_probability_difference"] < 0.1
    assert set(trained["data"]) >= {"gold.jsonl", "split.json", "train-1.jsonl", "validation.jsonl", SQUAD_MINI.name}
    reader = Reader(tmp_path / "model-1")  # onnxruntime alone, as on the query path
    probabilities = reader.probabilities([("When did it open?", candidate_text("It opened in 2019."))], ANSWER)
    assert probabilities.shape == (1,) and 0.0 < probabilities[0] < 1.0
    assert reader.probabilities([("It opened in 2019.", "The clinic opened in 2019.")], SUPPORT).shape == (1,)
    # Seeded and deterministic: a second run gives the same scores (the same file, where the
    # quantiser is bit-stable).
    second = train_reader(sources, tmp_path / "model-2", tmp_path / "work-2", steps=4, limit=4, progress=lambda line: None)
    pairs = [("When did the Harbour Clinic open?", candidate_text(TRAIN_DOC)), ("Who runs it?", "The Eastgate Trust runs it.")]
    again = Reader(tmp_path / "model-2")
    for head in (ANSWER, SUPPORT):
        assert np.allclose(reader.logits(pairs, head), again.logits(pairs, head), atol=1e-6)
    assert second["trained"]["model_sha256"] == trained["model_sha256"]


def test_plausible_answers_name_the_paragraph_document_of_each_unanswerable_question(tmp_path):
    squad = {"data": [{"title": "Some Article", "paragraphs": [
        {"context": "A text.", "qas": [
            {"id": "q1", "question": "What?", "is_impossible": True, "answers": [],
             "plausible_answers": [{"text": "A text", "answer_start": 0}]},
            {"id": "q2", "question": "Which?", "is_impossible": False, "answers": [{"text": "text", "answer_start": 2}]}]}]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    assert plausible_answers(path) == {"q1": [("some-article-0-0", "A text")]}


def test_question_batches_keep_each_question_whole_and_fill_up_to_the_batch_size():
    from pdqa.reader_training import Pair, _question_batches

    pairs = [Pair(f"q{g}", "x" * (g * 7 + k), float(k == 0), ANSWER, "t", f"t:{g}") for g in range(40) for k in range(5)]
    pairs.append(Pair("lonely", "y", 1.0, ANSWER, "t"))  # no group: a question of its own
    batches = _question_batches(pairs, list(range(len(pairs))), 32)
    seen = [i for _, members in batches for i in members]
    assert sorted(seen) == list(range(len(pairs)))
    for _, members in batches:
        assert len(members) <= 32
        groups = {pairs[i].group for i in members}
        for group in groups - {""}:
            assert sum(p.group == group for p in pairs) == sum(pairs[i].group == group for i in members)
    assert sum(len(m) for _, m in batches) / len(batches) > 25  # packed, not one question per batch


def test_listwise_loss_falls_as_the_answering_pair_outranks_the_others_and_ignores_one_sided_questions():
    import torch

    from pdqa.reader_training import _listwise_loss

    labels = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0])
    groups = ["a", "a", "a", "b", "b"]  # question b has no answering pair: no listwise term
    low = _listwise_loss(torch.tensor([3.0, 0.0, 0.0, 9.0, -9.0]), labels, groups)
    high = _listwise_loss(torch.tensor([0.0, 3.0, 0.0, 9.0, -9.0]), labels, groups)
    assert float(low) < float(high)
    assert float(low) == pytest.approx(float(torch.logsumexp(torch.tensor([3.0, 0.0, 0.0]), 0) - 3.0))
    assert float(_listwise_loss(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0]), ["c", "c"])) == 0.0
