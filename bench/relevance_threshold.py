"""Choose ``PDQA_LLM__RELEVANCE_THRESHOLD`` on validation data only.

Every unit of the passages retrieved for a validation question is scored by the learned unit
scorer (the probability that it answers); units that state the gold answer (SQuAD) or a gold fact
(the report's dev split) are the answering ones. The threshold that best separates answering from
other units by Youden's J (share of answering units kept minus share of the others kept), with
the two domains weighing the same, is reported. J ignores how common each class is, which differs
between these units and the sentences of real LLM replies.

Validation data: the dev split of eval/gold.jsonl and the SQuAD 2.0 validation articles named in
eval/squad_split.json (no test data), collected exactly as `pdqa train answerer` collects them.

Usage: python bench/relevance_threshold.py [../shared/data/squad2] [scratch folder]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from pdqa.answer_model import load_answer_model
from pdqa.settings import PROJECT_ROOT
from pdqa.training import GOLD_FILE, SPLIT_FILE, collect, collect_gold

GRID = np.round(np.arange(0.01, 1.0, 0.01), 2)


def probabilities_and_labels(questions) -> tuple[np.ndarray, np.ndarray]:
    """Unit scorer probabilities of the quotable units of answerable questions, and their labels."""
    unit = load_answer_model().unit
    answerable = [q for q in questions if q.answerable]
    scores = np.concatenate([unit.logits(q.units[q.allowed]) for q in answerable])
    labels = np.concatenate([q.labels[q.allowed] for q in answerable])
    return 1.0 / (1.0 + np.exp(-scores)), labels


def youden(probabilities: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float, float]:
    kept = probabilities >= threshold
    recall, false_keep = kept[labels].mean(), kept[~labels].mean()
    return recall - false_keep, recall, false_keep


def main(data_dir: Path, work: Path) -> None:
    split = json.loads(SPLIT_FILE.read_text(encoding="utf-8"))
    domains = {}
    for file_name, articles in split["validation"].items():
        group = collect(data_dir / file_name, set(articles), work / f"validation-{Path(file_name).stem}", "squad")
        domains["SQuAD validation"] = probabilities_and_labels(group.questions)
    domains["report dev"] = probabilities_and_labels(collect_gold(GOLD_FILE, "dev", work / "report-dev", "dev").questions)
    best = max(GRID, key=lambda t: np.mean([youden(p, y, t)[0] for p, y in domains.values()]))
    print(f"best threshold, domains weighing the same: {best:.2f}")
    for name, (p, y) in domains.items():
        j, recall, false_keep = youden(p, y, best)
        print(f"  {name}: {y.sum()} answering / {(~y).sum()} other units; keeps {recall:.1%} of answering, "
              f"{false_keep:.1%} of the others (J {j:.3f})")


if __name__ == "__main__":
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT.parent / "shared" / "data" / "squad2"
    if len(sys.argv) > 2:
        main(data, Path(sys.argv[2]))
    else:
        with tempfile.TemporaryDirectory() as scratch:
            main(data, Path(scratch))
