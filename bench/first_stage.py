"""Recall of the answer stage's first stage: is a unit that holds the answer among the K candidates
the reader will see? Measured on validation questions only (the report set's validation
documents, the SQuAD validation articles, the bundled report's dev split), for passage depths,
numbers of whole-index BM25 units and K.

    python bench/first_stage.py [--reports DIR] [--squad FILE] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "data"
DEPTHS = (5, 10, 20)
LEXICAL = (0, 10, 20, 40)
KS = (4, 8, 12, 16, 24, 32)


def gold_units(qa, question) -> set[int]:
    """Units overlapping an evidence span of the question (words-anchored, as the evaluation finds them)."""
    from pdqa.evaluation.reportgold import StoredText

    wanted = set()
    file_of = {doc.doc_id: doc.path for doc in qa.index.manifest.documents}
    for evidence in question.evidence:
        path = file_of.get(evidence.doc_id)
        if path is None:
            continue
        stored = StoredText(qa.index.text_of(path))
        for start, end in stored.skeleton.spans(evidence.text):
            wanted |= _overlapping(qa, path, start, end)
    return wanted


def _overlapping(qa, path: str, start: int, end: int) -> set[int]:
    import numpy as np

    store = qa.index.store
    found = set()
    a, files = store._a, store.files
    chunk_file = a["chunk_file"][a["unit_chunk"]]
    mask = (np.asarray(files, dtype=object)[chunk_file] == path) & (a["unit_start"] < end) & (a["unit_end"] > start)
    for unit_id in np.flatnonzero(mask):
        if store.unit(int(unit_id)).kind != "heading":
            found.add(int(unit_id))
    return found


def measure(plan, results: dict) -> None:
    from pdqa.qa import QA
    from pdqa.retrieval import candidate_units

    for corpus in plan.corpora:
        qa = QA(corpus.settings, on_stale="rebuild")
        for question in corpus.questions:
            if not question.answerable:
                continue
            wanted = gold_units(qa, question)
            if not wanted:
                continue
            vector = qa.embedder.embed([question.question])[0]
            hits = qa.retriever.retrieve(question.question, vector, max(DEPTHS))
            for depth in DEPTHS:
                for lexical in LEXICAL:
                    ranked = [c.unit_id for c in candidate_units(qa.index, question.question, vector, hits[:depth], lexical)]
                    for k in KS:
                        key = f"depth={depth} lexical={lexical} K={k}"
                        hit = bool(wanted & set(ranked[:k]))
                        results.setdefault(key, [0, 0])
                        results[key][0] += hit
                        results[key][1] += 1
            # Today's pool: every unit of the top-5 passages, however many.
            pool = {u.unit_id for hit in hits[:5] for u in qa.index.units_of(hit.chunk_id)}
            results.setdefault("today: all units of the top 5 passages", [0, 0])
            results["today: all units of the top 5 passages"][0] += bool(wanted & pool)
            results["today: all units of the top 5 passages"][1] += 1
            results.setdefault("today: pool size", [0, 0])
            results["today: pool size"][0] += len(pool)
            results["today: pool size"][1] += 1
        qa.close()


def main() -> int:
    from pdqa.evaluation.sets import prepare_questions
    from pdqa.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=SHARED / "reports")
    parser.add_argument("--squad", type=Path, default=SHARED / "squad2" / "dev-8-articles.json")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    settings = Settings()
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        sets = {
            "reports-validation": dict(gold_path=REPO / "eval" / "reports" / "gold.jsonl", split="validation",
                                       documents_dir=args.reports),
            "squad-validation": dict(squad_path=args.squad, split="validation"),
            "bundled-dev": dict(gold_path=REPO / "eval" / "gold.jsonl", split="dev"),
        }
        for name, options in sets.items():
            results: dict = {}
            plan = prepare_questions(settings, scratch=Path(scratch) / name, **options)
            measure(plan, results)
            figures[name] = {key: round(hits / n, 3) if "size" not in key else round(hits / n, 1) for key, (hits, n) in results.items()}
            figures[name]["questions"] = next(iter(results.values()))[1]
            print(name, json.dumps(figures[name], indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
