"""Choose ``PDQA_LLM__RELEVANCE_THRESHOLD`` on validation data only.

Pairs (question, sentence) come from the passages retrieved for each validation question: a
sentence of the gold document that holds the gold evidence (or SQuAD answer) answers the
question; every other retrieved sentence, and every sentence for an unanswerable question, does
not. Each is scored by ``Verifier.relevance`` (the extractive answerer's model), and the
threshold that best separates the two, by Youden's J (recall on answering sentences minus the
share of non-answering ones kept), is reported. J ignores how common each class is, which
differs between these pairs and real LLM replies.

Validation data: the dev split of eval/gold.jsonl and the SQuAD 2.0 questions of the articles
Harvard_University, Immune_system and Force (held out for validation; no other test data).

Usage: python bench/relevance_threshold.py [path/to/dev-8-articles.json]   (after `make setup`)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from pdqa.evaluation.gold import load_gold, squad_to_corpus
from pdqa.index import build_index
from pdqa.qa import QA
from pdqa.question import analyse, split_compound
from pdqa.settings import PROJECT_ROOT, Settings
from pdqa.verify import Asked

SQUAD = Path("/work/shared/data/squad2/dev-8-articles.json")
VALIDATION_ARTICLES = ("Harvard_University", "Immune_system", "Force")


def scored_pairs(qa: QA, questions) -> tuple[np.ndarray, np.ndarray]:
    """Relevance scores of every retrieved sentence, and whether it answers its question."""
    scores, labels = [], []
    for gold in questions:
        parts = split_compound(gold.question)
        asked = Asked([analyse(p) for p in parts], qa.embedder.embed(parts))
        for hit in qa.retrieve(gold.question):
            chunk = qa.index.chunk_by_id[hit.chunk_id]
            for unit in qa.index.units_by_chunk.get(hit.chunk_id, []):
                vector = qa.index.unit_vectors[unit.unit_id]
                scores.append(qa.verifier.relevance(asked, unit.text, vector, chunk))
                labels.append(any(e.doc_id == chunk.doc_id and _norm(e.text) in _norm(unit.text) for e in gold.evidence))
    return np.array(scores), np.array(labels)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def squad_qa(squad: Path, root: Path) -> tuple[QA, list]:
    data = json.loads(squad.read_text(encoding="utf-8"))
    held_out = [a for a in data["data"] if a["title"] in VALIDATION_ARTICLES]
    (root / "validation.json").write_text(json.dumps({"version": "v2.0", "data": held_out}), encoding="utf-8")
    questions = squad_to_corpus(root / "validation.json", root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    build_index(settings)
    return QA(settings), questions


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, float]:
    """(threshold, J, recall, share of non-answering kept) with the highest J on a 0.01 grid."""
    rows = []
    for threshold in np.arange(0.0, 0.61, 0.01):
        kept = scores >= threshold
        recall = kept[labels].mean()
        false_keep = kept[~labels].mean()
        rows.append((round(float(threshold), 2), recall - false_keep, recall, false_keep))
    return max(rows, key=lambda r: r[1])


def report(name: str, scores: np.ndarray, labels: np.ndarray) -> None:
    threshold, j, recall, false_keep = best_threshold(scores, labels)
    print(f"{name}: {labels.sum()} answering / {(~labels).sum()} other sentences; best threshold {threshold:.2f}"
          f" (J {j:.3f}: keeps {recall:.1%} of answering, {false_keep:.1%} of other)")


def main(squad: Path) -> None:
    gold = QA(Settings())
    dev = scored_pairs(gold, load_gold(PROJECT_ROOT / "eval" / "gold.jsonl", split="dev"))
    report("gold dev", *dev)
    with tempfile.TemporaryDirectory() as folder:
        qa, questions = squad_qa(squad, Path(folder))
        validation = scored_pairs(qa, questions)
    report(f"SQuAD {'+'.join(VALIDATION_ARTICLES)} ({len(questions)} questions)", *validation)
    report("both", np.concatenate([dev[0], validation[0]]), np.concatenate([dev[1], validation[1]]))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SQUAD)
