"""Check report question files: every row valid, every evidence string in its document's stored
text (on its page), every fact phrased as the document phrases it; then count kinds.

    python eval/reports/check.py eval/reports/gold.jsonl --reports ../shared/data/reports
    python eval/reports/check.py FILE.jsonl --texts DIR    # DIR/<stem>/text.txt + info.json

With --reports the documents are read with pdqa's readers (the text an index stores); --texts
reads texts dumped earlier (``text.txt`` and ``info.json`` with ``page_starts`` and ``sha256``).
Exit 1 when any problem is found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

from pdqa.evaluation.reportgold import (
    ANSWERABLE_KINDS,
    ReportQuestion,
    StoredText,
    evidence_problems,
    load_report_gold,
)


def stored_texts(rows: list[ReportQuestion], reports: Path | None, texts: Path | None) -> dict[str, tuple[StoredText, str]]:
    """The stored text and file sha256 of every document the rows name."""
    found = {}
    for doc in sorted({row.doc for row in rows}):
        if texts is not None:
            folder = texts / Path(doc).stem
            info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
            text = (folder / "text.txt").read_text(encoding="utf-8")
            starts = info.get("page_starts") or ()
            found[doc] = (StoredText(text, [(start, page) for page, start in enumerate(starts, start=1)]), info["sha256"])
        else:
            from pdqa.readers import read_document

            extracted = read_document(reports / doc)
            sha = hashlib.sha256((reports / doc).read_bytes()).hexdigest()
            found[doc] = (StoredText(extracted.text, extracted.page_map), sha)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--reports", type=Path, help="Folder holding the report files.")
    source.add_argument("--texts", type=Path, help="Folder of dumped texts.")
    args = parser.parse_args()
    rows = [row for path in args.files for row in load_report_gold(path)]
    texts = stored_texts(rows, args.reports, args.texts)
    problems = []
    for row in rows:
        stored, sha = texts[row.doc]
        if row.doc_sha256 != sha:
            problems.append(f"{row.id}: doc_sha256 is not the sha256 of {row.doc}")
        problems += evidence_problems(row, stored)
    for problem in problems:
        print(problem)
    kinds = Counter(row.kind for row in rows)
    answerable = sum(row.answerable for row in rows)
    print(f"{len(rows)} questions, {len(rows) - answerable} unanswerable "
          f"({(len(rows) - answerable) / max(len(rows), 1):.0%}), paraphrase {kinds['paraphrase']} "
          f"({kinds['paraphrase'] / max(answerable, 1):.0%} of answerable)")
    print("kinds: " + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())))
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
