"""The injection check on its held-out test sentences (written by another writer than the training
ones): orders caught and false alarms at the shipped threshold. Measured once, at the end.

Usage: python bench/injection_test.py [eval/injection/test.jsonl]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from pdqa.answer_model import load_answer_model
from pdqa.embeddings import OnnxEmbedder, default_model_dir, export_onnx
from pdqa.evaluation.metrics import wilson_interval

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def main(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    encoder = Path("/tmp/pdqa-injection-encoder")
    if not (encoder / "model.onnx").exists():
        export_onnx(default_model_dir(), encoder)
    vectors = OnnxEmbedder(encoder).embed([row["text"] for row in rows])
    flagged = load_answer_model().orders(vectors)
    orders = [f for f, row in zip(flagged, rows) if row["label"] == 1]
    facts = [f for f, row in zip(flagged, rows) if row["label"] == 0]
    missed = Counter(row.get("style", "") for f, row in zip(flagged, rows) if row["label"] == 1 and not f)
    caught, alarms = int(sum(orders)), int(sum(facts))
    print(json.dumps({
        "orders_caught": f"{caught}/{len(orders)}", "orders_caught_interval": [round(x, 3) for x in wilson_interval(caught, len(orders))],
        "false_alarms": f"{alarms}/{len(facts)}", "false_alarm_interval": [round(x, 3) for x in wilson_interval(alarms, len(facts))],
        "missed_by_style": dict(missed),
    }, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT / "eval" / "injection" / "test.jsonl")
